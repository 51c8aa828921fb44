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


@pytest.fixture
def oracle_dir() -> Path:
    if not (ORACLE / "MANIFEST.json").exists():
        pytest.skip(f"oracle corpus not found at {ORACLE} (shared/ must sit beside the repo)")
    return ORACLE


# ---------------------------------------------------------------------------
# `make test` runs the suite on two xdist workers (`-n 2 --dist loadgroup`).
# Tests that share this host's loopback node addresses must not overlap: a
# `seam test --cluster local` picks its ports (7100, 7200, ...) by probing, so
# two at once can pick the same; and the host iptables rules of a local
# partition or loss cut every process on 127.0.0.11+. Those modules form one
# group that runs serially on one worker. Namespace tests are isolated (a
# prefix and subnet each, see integration/cluster_fixture.py) and run by
# module, so a module-scoped cluster is built once; target_cluster nodes sit
# on 127.0.0.111+, which no local run or host rule names; the rest is pure.

LOOPBACK_MODULES = {
    "test_run_local", "test_scenarios", "test_replay", "test_test_count", "test_sigkill_run",
    "test_signals", "test_nemesis_options", "test_nightly", "test_minitarget",
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


def xdist_group(item: pytest.Item) -> str | None:
    """The group a test must share a worker with, None if it may run anywhere."""
    path = Path(str(item.fspath))
    if "integration" not in path.parts:
        return None
    if item.get_closest_marker("netns") or item.get_closest_marker("ssh"):
        return f"netns:{path.stem}"
    if path.stem in LOOPBACK_MODULES and getattr(item, "originalname", item.name) not in NODE_FREE:
        return "loopback"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        group = xdist_group(item)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))
