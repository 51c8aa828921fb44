"""Transactional anomalies as regression cases (harness.regress.txn): a case keeps the calls
on the anomaly's keys, projected onto them, and its checker's options, so it re-checks alone
(from `seam check FILE --out` too, with no run's test.json) and finds that anomaly and no other."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from checkers.txn import TxnChecker, TxnOptions
from harness.core.op import History, Op
from harness.formats.case import write_case
from harness.regress.capture import Capture
from harness.regress.replay import recheck
from harness.regress.txn import keys_of, project


def history(rows: list[tuple[int, str, list[list[Any]]]]) -> History:
    return History([Op(index=i, time=i, process=p, type=t, f="txn", value=v) for i, (p, t, v) in enumerate(rows)])


def g0_among_others() -> History:
    """T1 appends to x then y, T2 to x then y too, but y's order is the reverse of x's (a ww
    cycle, G0), which only a third transaction's read shows; other transactions read and
    write other keys meanwhile, one of them failed."""
    return history([
        (0, "invoke", [["append", "z", 1], ["append", "x", 1], ["append", "y", 1]]),
        (0, "ok", [["append", "z", 1], ["append", "x", 1], ["append", "y", 1]]),
        (1, "invoke", [["append", "x", 2], ["append", "y", 2]]),
        (1, "ok", [["append", "x", 2], ["append", "y", 2]]),
        (2, "invoke", [["append", "w", 7], ["r", "z", None]]),
        (2, "ok", [["append", "w", 7], ["r", "z", [1]]]),
        (3, "invoke", [["r", "x", None], ["r", "y", None], ["r", "z", None], ["append", "w", 5]]),
        (3, "ok", [["r", "x", [1, 2]], ["r", "y", [2, 1]], ["r", "z", [1]], ["append", "w", 5]]),
        (4, "invoke", [["append", "w", 6], ["r", "w", None]]),
        (4, "fail", [["append", "w", 6], ["r", "w", None]]),
    ])


def cases(h: History, model: str = "serializable", test: dict[str, Any] | None = None) -> list[Any]:
    result = TxnChecker(TxnOptions(consistency_models=(model,))).check(None, h, None)
    assert result.valid is False
    capture = Capture(h, run_dir=None, test=test)
    return [capture.case(a, n) for n, a in enumerate(result.anomalies, 1)]


def rechecked(tmp_path: Path, parts: Any) -> Any:
    path = tmp_path / "case.jsonl"
    write_case(path, parts.header, parts.ops, parts.artifacts)
    return recheck(path)


def test_a_cycle_case_keeps_its_keys_calls_projected_and_rechecks_alone(tmp_path: Path) -> None:
    (g0,) = [c for c in cases(g0_among_others()) if c.header.kind == "G0"]
    assert g0.header.evidence == "keys" and g0.header.verified is True
    assert g0.header.test["txn"]["consistency_models"] == ["serializable"]
    # every call on x or y (the reader's too: it orders the appends), nothing on z or w
    assert {m[1] for op in g0.ops for m in op["value"]} == {"x", "y"}
    assert sorted({op["process"] for op in g0.ops}) == [0, 1, 3]
    again = rechecked(tmp_path, g0)
    assert again.verdict == "invalid" and {a.kind for a in again.result.anomalies} == {"G0"}


def test_without_projection_the_cycles_own_calls_are_not_enough() -> None:
    """Why the case keeps every call on its keys: the cycle's two transactions alone show
    no order of their appends (the reader is not in the cycle), so no G0 at all; and the
    reader unprojected reads z, whose writer a case of x and y alone would call garbage."""
    def kinds(h: History) -> set[str]:
        return {a.kind for a in TxnChecker(TxnOptions(consistency_models=("serializable",))).check(
            None, h, None).anomalies}

    h = g0_among_others()
    assert "G0" in kinds(h)
    assert "G0" not in kinds(History([op for op in h if op.process in (0, 1)]))
    assert "garbage" in kinds(History([op for op in h if op.process in (1, 3)]))


def test_a_non_cycle_case_uses_its_key(tmp_path: Path) -> None:
    h = history([
        (0, "invoke", [["append", "x", 1], ["append", "q", 9]]),
        (0, "fail", [["append", "x", 1], ["append", "q", 9]]),
        (1, "invoke", [["r", "x", None], ["r", "q", None]]),
        (1, "ok", [["r", "x", [1]], ["r", "q", None]]),
    ])
    (g1a,) = [c for c in cases(h) if c.header.kind == "G1a"]
    assert {m[1] for op in g1a.ops for m in op["value"]} == {"x"}
    assert rechecked(tmp_path, g1a).verdict == "invalid"


def test_the_case_holds_the_model_that_found_it(tmp_path: Path) -> None:
    """A case re-checks under the model its run was held to, not a default one."""
    h = g0_among_others()
    (g0,) = [c for c in cases(h, "read-committed") if c.header.kind == "G0"]
    assert g0.header.test["txn"]["consistency_models"] == ["read-committed"]
    assert rechecked(tmp_path, g0).verdict == "invalid"


def test_keys_of_a_cycle_and_of_nothing() -> None:
    from harness.core.verdict import Anomaly

    cycle = Anomaly(checker="txn", kind="G2-item", summary="", details={"steps": [{"key": 1}, {"key": [2, 3]}, {}]})
    assert keys_of(cycle) == {1, (2, 3)}
    assert keys_of(Anomaly(checker="txn", kind="cycle-search-timeout", summary="", details={})) is None
    projected = project(g0_among_others(), {"z"})
    assert [op["value"] for op in projected][:2] == [[["append", "z", 1]], [["append", "z", 1]]]


@pytest.mark.parametrize("bad", [{"workload": "kv"}, {"consistency_models": ["no-such-model"]}])
def test_options_that_make_no_checker_are_bad_input(bad: dict[str, Any]) -> None:
    from harness.core.errors import InputError
    from harness.regress.txn import checker

    with pytest.raises(InputError, match="test.txn"):
        checker(bad)
