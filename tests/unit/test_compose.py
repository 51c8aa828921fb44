"""compose: verdicts merge False > unknown > True; a crashing checker is unknown, not fatal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from checkers.compose import check_safe, compose
from harness.core.errors import HistoryError
from harness.core.op import History, Op
from harness.core.protocols import Checker
from harness.core.verdict import Anomaly, CheckResult

HISTORY = History([Op(0, 0, 0, "invoke", "read", None), Op(1, 1, 0, "ok", "read", None)])


class Fixed:
    """A checker that returns a given verdict and records that it ran."""

    def __init__(self, valid: Any, anomaly: str | None = None):
        self.valid = valid
        self.anomaly = anomaly
        self.ran = 0

    def check(self, test: Any, history: History, artifacts: Path | None) -> CheckResult:
        self.ran += 1
        anomalies = (
            [Anomaly(checker="fixed", kind=self.anomaly, summary=self.anomaly)]
            if self.anomaly
            else []
        )
        return CheckResult(
            valid=self.valid,
            anomalies=anomalies,
            stats={"ops": len(history)},
            files=[f"{self.valid}.txt"],
        )


class Raises:
    def __init__(self, exc: Exception):
        self.exc = exc

    def check(self, test: Any, history: History, artifacts: Path | None) -> CheckResult:
        raise self.exc


@pytest.mark.parametrize(
    ("verdicts", "expected"),
    [
        ([True, True], True),
        ([True, "unknown"], "unknown"),
        (["unknown", True], "unknown"),
        ([True, False, "unknown"], False),
        (["unknown", False], False),
        ([], True),
    ],
)
def test_merge_order(verdicts: list[Any], expected: Any) -> None:
    composed = compose({f"c{i}": Fixed(v) for i, v in enumerate(verdicts)})
    assert isinstance(composed, Checker)
    assert composed.check(None, HISTORY, None).valid == expected


def test_stats_hold_each_result_by_name_in_order() -> None:
    a, b = Fixed(True), Fixed(False, anomaly="stale-read")
    result = compose({"perf": a, "effects": b}).check(None, HISTORY, None)
    assert list(result.stats) == ["perf", "effects"]
    assert result.stats["effects"]["valid"] is False
    assert result.stats["perf"]["stats"] == {"ops": 2}
    assert [x.kind for x in result.anomalies] == ["stale-read"]
    assert result.files == ["True.txt", "False.txt"]
    assert a.ran == b.ran == 1


def test_a_raising_checker_is_unknown_with_the_error_and_the_others_still_run() -> None:
    ok = Fixed(True)
    result = compose({"boom": Raises(RuntimeError("disk on fire")), "ok": ok}).check(
        None, HISTORY, None
    )
    assert result.valid == "unknown"
    assert result.stats["boom"]["valid"] == "unknown"
    assert result.stats["boom"]["error"] == "RuntimeError: disk on fire"
    assert result.error == "boom: RuntimeError: disk on fire"
    assert ok.ran == 1


def test_a_raising_checker_does_not_hide_a_failure() -> None:
    result = compose({"boom": Raises(KeyError("x")), "bad": Fixed(False)}).check(
        None, HISTORY, None
    )
    assert result.valid is False


def test_bad_input_is_not_a_checker_crash() -> None:
    """Bad input is the run failing (exit 3), so it propagates rather than becoming unknown."""
    with pytest.raises(HistoryError, match="h.jsonl:4: cas value"):
        check_safe(
            Raises(HistoryError("cas value must be [old, new]", source="h.jsonl", line=4)),
            None,
            HISTORY,
            None,
        )


def test_a_checker_returning_the_wrong_type_is_unknown() -> None:
    class Wrong:
        def check(self, test: Any, history: History, artifacts: Path | None) -> Any:
            return True

    result = check_safe(Wrong(), None, HISTORY, None)
    assert result.valid == "unknown" and result.error is not None and "CheckResult" in result.error


def test_anomaly_to_json_is_the_deep_copy_asdict_makes() -> None:
    from collections import namedtuple
    from dataclasses import asdict, dataclass

    @dataclass
    class Row:
        x: int
        ys: list[int]

    Pt = namedtuple("Pt", "a b")
    details = {
        "calls": [1, {"v": (1, 2)}, None, 1.5, True],
        "row": Row(1, [2]),
        (1, 2): Pt(1, [3]),
        "seen": {1, 2},
    }
    a = Anomaly("linearizable", "nonlinearizable", "s", [3, 1], details, "fp", "h")
    got = a.to_json()
    assert got == asdict(a) and list(got) == list(asdict(a))
    got["details"]["calls"][1]["v"] = "changed"
    got["ops"].append(9)
    assert a.details["calls"][1]["v"] == (1, 2) and a.ops == [3, 1]


def test_each_checker_logs_its_start_and_its_time(caplog: pytest.LogCaptureFixture) -> None:
    """A check that runs long says which checker it was in (the run's seam.log)."""
    caplog.set_level("INFO", logger="seam.check")
    compose({"first": Fixed(True), "second": Fixed(False, "lost")}).check(None, HISTORY, None)
    lines = [r.getMessage() for r in caplog.records if r.name == "seam.check"]
    assert lines[0] == "checker first: started" and lines[2] == "checker second: started"
    assert lines[1].startswith("checker first: True in ") and lines[3].startswith("checker second: False in ")
