"""--test-count: seeds, the aggregate exit code, and the series loop, with fake runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.runner import RunOutcome
from harness.series import SeriesRun, aggregate_exit, run_line, run_series, seeds, series_line


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        ([0, 0, 0], 0),
        ([0, 2, 0], 2),
        ([3, 0, 0], 3),
        ([2, 3, 0], 2),  # unknown beats failed
        ([3, 2, 1], 1),  # anomalies beat everything
        ([1, 0, 3], 1),
        ([0], 0),
        ([], 3),  # nothing ran: the series failed
    ],
)
def test_aggregate_exit_is_the_worst_code_anomalies_first(codes: list[int], expected: int) -> None:
    assert aggregate_exit(codes) == expected


def test_seeds_follow_a_given_seed_and_are_fresh_otherwise() -> None:
    assert seeds(3, 40) == [40, 41, 42]
    drawn = iter([7, 9, 11])
    assert seeds(3, None, draw=lambda: next(drawn)) == [7, 9, 11]
    assert len(set(seeds(20, None))) > 15  # os.urandom, not a constant


def _outcome(code: int, path: str = "results/register/x", stopped_by: str | None = None) -> RunOutcome:
    valid = {0: True, 1: False, 2: "unknown", 3: None}[code]
    return RunOutcome(valid, code, Path(path), error="boom" if code == 3 else None,  # type: ignore[arg-type]
                      counts={"ok": 5, "fail": 1, "info": 0}, stopped_by=stopped_by)


def test_run_series_runs_each_seed_in_order_and_reports_each_run() -> None:
    asked: list[int] = []
    seen: list[SeriesRun] = []

    def run_one(seed: int) -> RunOutcome:
        asked.append(seed)
        return _outcome({5: 0, 6: 1, 7: 2}[seed], f"results/register/{seed}")

    runs = run_series([5, 6, 7], run_one, on_run=seen.append)
    assert asked == [5, 6, 7] and seen == runs
    assert [r.number for r in runs] == [1, 2, 3] and [r.exit_code for r in runs] == [0, 1, 2]
    assert run_line(runs[1], 3) == "run 2/3: seed 6, INVALID, exit 1, 6 ops, results/register/6"
    assert series_line(runs, 3) == "series: 3 runs: 1 valid, 1 invalid, 1 unknown, 0 failed; exit 1"


def test_a_run_stopped_by_a_signal_ends_the_series() -> None:
    runs = run_series([1, 2, 3], lambda seed: _outcome(0, stopped_by="SIGTERM" if seed == 2 else None))
    assert [r.seed for r in runs] == [1, 2]
    assert series_line(runs, 3).startswith("series: 2 runs (stopped after 2 of 3)")


def test_seam_test_test_count_runs_n_plans_with_fresh_seeds_and_exits_with_the_aggregate(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The command itself, with run_test replaced: three plans, three seeds, the worst code."""
    import harness.runner
    from harness.commands.test import test as test_command

    plans: list = []
    codes = iter([0, 3, 2])

    def fake_run_test(plan: object, **_: object) -> RunOutcome:
        plans.append(plan)
        return _outcome(next(codes), str(tmp_path / f"run{len(plans)}"))

    monkeypatch.setattr(harness.runner, "run_test", fake_run_test)
    result = CliRunner().invoke(test_command, ["--test-count", "3", "--seed", "100", "--results", str(tmp_path),
                                               "--no-progress"], standalone_mode=False)
    assert result.exception is None, result.output
    assert result.return_value == 2  # unknown beats failed
    assert [p.spec.seed for p in plans] == [100, 101, 102]
    lines = result.output.splitlines()
    assert [line.split(",")[0] for line in lines[:3]] == ["run 1/3: seed 100", "run 2/3: seed 101", "run 3/3: seed 102"]
    assert lines[3] == "series: 3 runs: 1 valid, 0 invalid, 1 unknown, 1 failed; exit 2"


def test_test_count_below_one_is_bad_input() -> None:
    from harness.commands.test import test as test_command
    from harness.core.errors import ConfigError

    result = CliRunner().invoke(test_command, ["--test-count", "0", "--no-progress"], standalone_mode=False)
    assert isinstance(result.exception, ConfigError) and "--test-count 0" in str(result.exception)
