"""The xdist scopes of tests/conftest.py keep up with the tests they name.

`make test` runs on two workers and keeps tests that share loopback node
addresses in one scope by name (tests/conftest.py explains why by name, not by
mark). A namespace test left in the loopback scope only runs later than it
could; a name that no longer exists, or a namespace test the tables do not
know, means the tables went stale.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import conftest


def _integration_items(session: pytest.Session) -> list[pytest.Item]:
    return [i for i in session.items if "integration" in Path(str(i.fspath)).parts]


def test_every_namespace_test_runs_in_a_namespace_scope(request: pytest.FixtureRequest) -> None:
    items = _integration_items(request.session)
    misplaced = [i.nodeid for i in items
                 if (i.get_closest_marker("netns") or i.get_closest_marker("ssh"))
                 and not conftest.xdist_scope(i.nodeid).startswith("netns:")]
    assert not misplaced, f"add these to NETNS_MODULES or NETNS_TESTS in tests/conftest.py: {misplaced}"


def test_every_name_in_the_tables_is_a_collected_test(request: pytest.FixtureRequest) -> None:
    items = _integration_items(request.session)
    if len(items) < 50:
        pytest.skip("run with the whole of tests/integration to check the tables")
    names = {getattr(i, "originalname", i.name) for i in items}
    modules = {Path(str(i.fspath)).stem for i in items}
    assert not (conftest.NODE_FREE | conftest.NETNS_TESTS) - names
    assert not (conftest.LOOPBACK_MODULES | conftest.NETNS_MODULES | conftest.MODULE_SCOPED) - modules


def test_scopes_of_node_ids() -> None:
    scope = conftest.xdist_scope
    assert scope("tests/unit/test_spec.py::test_x") == "tests/unit/test_spec.py::test_x"
    assert scope("tests/integration/test_scenarios.py::test_a[1]") == "loopback"
    assert scope("tests/integration/test_run_local.py::test_bad_input_is_one_line_and_exit_3_with_nothing_left_running[x]") \
        == "tests/integration/test_run_local.py::test_bad_input_is_one_line_and_exit_3_with_nothing_left_running[x]"
    assert scope("tests/integration/test_signals.py::test_timeout_sigterm_on_namespaces_heals_collects_checks_and_leaves_nothing") \
        == "netns:test_signals"
    assert scope("tests/integration/test_ssh.py::test_y") == "netns:test_ssh"
    assert scope("tests/integration/minitarget/test_minitarget.py::test_z") == "loopback"
    assert scope("tests/integration/test_pipeline.py::test_w") == "tests/integration/test_pipeline.py::test_w"
    # a module-scoped server on a fixed port: one worker runs the whole module
    assert scope("tests/integration/test_postgres.py::test_a") == scope("tests/integration/test_postgres.py::test_b")
