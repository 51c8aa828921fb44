"""Shared fixtures and skip rules.

Tests that need root or a system tool skip with a reason that says exactly
what is missing; on CI (root, packages installed by `make`) they all run.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
ORACLE = SHARED / "oracle"


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def require_root() -> None:
    if not _is_root():
        pytest.skip("needs root (network namespaces, iptables); run `make test` as root")


def require_tool(*names: str) -> None:
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)}; `make install` installs it as root")


#: The one reason every test that needs ../shared gives when it is absent.
ORACLE_MISSING = f"the oracle corpus is not at {ORACLE}: shared/ must sit beside the repo"


def require_oracle(path: Path | None = None) -> None:
    """Skip without the oracle corpus (a developer's checkout may lack ../shared); on CI,
    which always has it beside the clone, its absence is a failure, not ~230 quiet skips."""
    if (path or ORACLE / "MANIFEST.json").exists():
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{ORACLE_MISSING} (CI lays shared/ beside the clone: this run lost its evidence)")
    pytest.skip(ORACLE_MISSING)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test parametrized over the oracle's files has no parameters without the oracle:
    pytest would skip it as "got empty parameter set". It skips with the same reason as
    every other test that needs ../shared instead (on CI those others fail, saying so)."""
    if (ORACLE / "MANIFEST.json").exists():
        return
    for item in items:
        skip = item.get_closest_marker("skip")
        reason = str(skip.kwargs.get("reason", "")) if skip is not None else ""
        if reason.startswith("got empty parameter set"):
            item.add_marker(pytest.mark.skip(reason=ORACLE_MISSING), append=False)


@pytest.fixture
def oracle_dir() -> Path:
    require_oracle()
    return ORACLE


# ---------------------------------------------------------------------------
# `make test` runs the suite on two xdist workers (`-n 2`). Tests that share this
# host's loopback node addresses must not overlap: a `seam test --cluster local`
# picks its ports (7100, 7200, ...) by probing, so two at once can pick the same;
# and the host iptables rules of a local partition or loss cut every process on
# 127.0.0.11+. Those tests form one scope that runs serially on one worker.
# Namespace tests are isolated (a prefix and subnet each, see
# integration/cluster_fixture.py) and go by module, so a module-scoped cluster is
# built once; target_cluster nodes sit on 127.0.0.111+, which no local run or
# host rule names; every other test goes alone, wherever a worker is free.
#
# The scheduler groups by node id, not by an xdist_group mark: on pytest 9.2,
# xdist 3.8's --dist loadgroup silently ignores the marks (pytest-xdist#1386).
# tests/integration/test_suite_scopes.py checks these tables against the markers.

#: Modules whose tests (but the ones below) start nodes on 127.0.0.11+ or put host
#: iptables rules on them.
LOOPBACK_MODULES = {
    "test_run_local", "test_scenarios", "test_replay", "test_test_count", "test_sigkill_run",
    "test_signals", "test_nemesis_options", "test_nightly", "test_minitarget", "test_targets_tutorial",
}
#: Tests in those modules that start no node and install no rule (bad input, fake nights).
NODE_FREE = {
    "test_bad_input_is_one_line_and_exit_3_with_nothing_left_running",
    "test_a_history_cut_mid_line_is_one_line_and_exit_3",
    "test_replay_refuses_options_that_would_change_the_schedule",
    "test_a_bad_option_is_one_line_and_exit_3",
    "test_nothing_outside_this_folder_names_the_target",
    "test_a_night_runs_every_test_and_writes_summary_junit_and_index",
    "test_the_budget_skips_what_does_not_fit_and_stops_a_run_that_overruns",
    "test_sigterm_stops_the_running_test_cleanly_and_writes_what_the_night_has",
}
#: Modules of namespace tests, and the namespace tests inside loopback modules.
NETNS_MODULES = {
    "test_cluster", "test_nemesis_crash", "test_nemesis_faults", "test_nemesis_net",
    "test_orders_report_e2e", "test_run_netns", "test_ssh", "test_etcd",
    "test_redis",
}
#: Modules whose tests share a module-scoped server on a fixed address: one worker runs
#: them all (two workers would each start the module's server on the same port).
MODULE_SCOPED = {"test_postgres"}
NETNS_TESTS = {
    "test_timeout_sigterm_on_namespaces_heals_collects_checks_and_leaves_nothing",
    "test_two_nights_on_namespaces_index_junit_and_new_then_known_fingerprints",
}


def xdist_scope(nodeid: str) -> str:
    """The scope a test runs in: tests of one scope run on one worker, one after another."""
    path, _, rest = nodeid.partition("::")
    parts = path.split("/")
    if "integration" not in parts:
        return nodeid
    module = parts[-1].removesuffix(".py")
    name = rest.split("::")[-1].split("[")[0]
    if module in NETNS_MODULES or name in NETNS_TESTS:
        return f"netns:{module}"
    if module in LOOPBACK_MODULES and name not in NODE_FREE:
        return "loopback"
    if module in MODULE_SCOPED:
        return f"module:{module}"
    return nodeid


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """xdist's scope scheduler with the scopes above; the biggest scope (loopback) goes first."""
    from xdist.scheduler import LoadScopeScheduling

    class SeamScopes(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return xdist_scope(nodeid)

    return SeamScopes(config, log)
