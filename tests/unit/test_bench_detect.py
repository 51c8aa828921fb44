"""bench/detect.py's rate rules: a run that failed is a miss, and no goal is met past one."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "detect.py"


@pytest.fixture(scope="module")
def detect():
    spec = importlib.util.spec_from_file_location("seam_bench_detect", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def run(detect, *, detected=None, failed=False, false_alarm=None):
    r = detect.Run("scenario", "orders", "naive-retry", "retry-storm", [], 1)
    r.detected, r.failed, r.false_alarm = detected, failed, false_alarm
    return r


def test_one_detected_and_two_failed_is_one_in_three_and_not_met(detect):
    rate, goal = detect._rate([run(detect, detected=True), run(detect, failed=True), run(detect, failed=True)], 0.95)
    assert rate.startswith("1/3 33%") and "2 failed" in rate and goal == "not met"


def test_a_goal_reached_by_the_rate_is_still_not_met_while_a_run_failed(detect):
    runs = [run(detect, detected=True) for _ in range(19)] + [run(detect, failed=True)]
    assert detect._rate(runs, 0.90) == ("19/20 95%, 1 failed (counted as missed)", "not met")
    assert detect._rate(runs[:19], 0.90) == ("19/19 100%", "met")


def test_clean_rows_are_met_only_with_no_alarm_and_no_failed_run(detect):
    clean = [run(detect, false_alarm=False) for _ in range(3)]
    assert detect._clean_goal(clean, []) == "met"
    assert detect._clean_goal([*clean, run(detect, failed=True)], []) == "not met (1 failed)"
    assert detect._clean_goal(clean, [clean[0]]) == "not met"


def test_etcd_rows_run_the_etcd_target_with_their_options(detect, tmp_path):
    args = detect._parse(["--etcd", "1", "--seeds", "0", "--skip-mix", "--skip-clean"])
    plan = list(detect._plan(args, [], {}, iter(range(100, 200))))
    assert [(r.target, r.target_opts, r.nemesis, r.expected) for r in plan] == [
        ("etcd", [], ["partition", "pause", "kill"], None),
        ("etcd", ["reads=serializable"], ["partition"], "nonlinearizable"),
    ]
    argv = detect._argv(plan[1], args, "netns", tmp_path)
    assert argv[argv.index("--target") + 1] == "etcd" and "--bug" not in argv
    assert argv[argv.index("--target-opt") + 1] == "reads=serializable"


def test_the_report_without_etcd_rows_prints_its_goals(detect, capsys):
    """A pipeline-only bench (no --etcd) once died in its summary with KeyError: 'etcd'."""
    from rich.console import Console

    args = detect._parse(["--only", "naive-retry", "--seeds", "1", "--skip-mix", "--skip-clean"])
    done = [run(detect, detected=True)]
    detect._report(Console(width=200), done, ["naive-retry"], {}, args, "netns", 60.0, False)
    assert "goals: scenario >= 95%: met (1/1)" in capsys.readouterr().out
