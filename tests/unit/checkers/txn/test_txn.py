"""Unit tests of the transactional checker: models as data, pairing, in-doubt
transactions, rw-register inference, and `seam check --model list-append`."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from checkers.txn import TxnChecker, TxnOptions, models
from harness.core.op import Op


def ok(index: int, process: int, value: list, typ: str = "ok") -> Op:
    return Op(index, 0, process, typ, "txn", value)


def run(ops: list[Op], **kw):
    return TxnChecker(TxnOptions(**kw)).check(None, ops, None)


def test_anomalies_widen_as_elle_does() -> None:
    assert {"G0", "G1a", "G1b", "G1c"} <= models.prohibited(None, ["G1"])
    assert "G0" not in models.prohibited(None, ["G2"])
    assert "G2-item" in models.prohibited(["repeatable-read"])
    assert "G2-item" not in models.prohibited(["snapshot-isolation"])


def test_boundary_names_weakest_violated_and_strongest_kept() -> None:
    b = models.boundary(["G-single-item"])
    assert b["not"] == ["consistent-view", "repeatable-read"]
    assert "strict-serializable" in b["also_not"]
    assert "read-committed" in b["satisfies"] or "cursor-stability" in b["satisfies"]


def test_unread_info_append_never_closes_a_cycle() -> None:
    """If the in-doubt T2 had happened with what its invoke says, there would be a
    cycle; its reads are unknown and its unread append leads nowhere: valid."""
    ops = [
        Op(0, 0, 1, "invoke", "txn", [["append", "x", 1], ["r", "y", None]]),
        Op(1, 0, 0, "invoke", "txn", [["r", "x", None], ["append", "y", 1]]),
        Op(2, 0, 0, "ok", "txn", [["r", "x", []], ["append", "y", 1]]),
        Op(3, 0, 1, "info", "txn", [["append", "x", 1], ["r", "y", None]]),
    ]
    assert run(ops).valid is not False


def test_completion_only_txn_gets_no_realtime_edge_into_it() -> None:
    """T1 has no invoke: it may have started before T2, so its read of x = [] does
    not contradict real time even though its completion comes after T2's."""
    ops = [
        Op(0, 0, 0, "invoke", "txn", [["append", "x", 1]]),
        Op(1, 0, 0, "ok", "txn", [["append", "x", 1]]),
        ok(2, 1, [["r", "x", []]]),
    ]
    assert run(ops).valid is not False
    with_invoke = [*ops[:2], Op(2, 0, 1, "invoke", "txn", [["r", "x", None]]), ok(3, 1, [["r", "x", []]])]
    assert run(with_invoke).stats["anomaly_types"] == ["G-single-item-realtime"]


def test_register_wfr_orders_versions() -> None:
    ops = [ok(0, 0, [["r", "y", 1], ["w", "x", 1], ["w", "y", 2]]), ok(1, 0, [["r", "x", 1], ["r", "y", 1]])]
    plain = run(ops, workload="rw-register", consistency_models=("serializable",))
    wfr = run(ops, workload="rw-register", consistency_models=("serializable",), wfr_keys=True)
    assert plain.valid is True
    assert wfr.stats["anomaly_types"] == ["G-single-item"]


def test_explanation_cites_ops() -> None:
    ops = [ok(0, 0, [["append", "x", 1], ["r", "y", [1]]]),
           ok(1, 1, [["append", "x", 2], ["append", "y", 1]]),
           ok(2, 2, [["r", "x", [1, 2]]])]
    (a,) = run(ops).anomalies
    assert a.kind == "G1c" and sorted(a.ops) == [0, 1]
    assert "includes T1's append of 1 (wr)" in a.details["narrative"]


def test_seam_check_exit_codes(tmp_path: Path) -> None:
    from harness.commands.check import check

    path = tmp_path / "h.jsonl"
    rows = [{"index": i, "process": i, "type": "ok", "f": "txn", "value": v} for i, v in enumerate(
        [[["append", "x", 1], ["r", "y", [1]]], [["append", "x", 2], ["append", "y", 1]], [["r", "x", [1, 2]]]])]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    runner = CliRunner()
    assert runner.invoke(check, [str(path), "--model", "list-append"]).exit_code == 1
    weak = ["--model", "list-append", "--consistency-model", "read-uncommitted"]
    assert runner.invoke(check, [str(path), *weak]).exit_code == 0
    assert runner.invoke(check, ["-", *weak], input=path.read_text()).exit_code == 0
    assert runner.invoke(check, [str(path), "--wfr-keys"]).exit_code == 3
    assert runner.invoke(check, [str(path), "--model", "list-append", "--consistency-model", "nope"]).exit_code == 3
    lone = tmp_path / "one.jsonl"
    lone.write_text(json.dumps({"process": 0, "type": "fail", "f": "txn", "value": [["append", "x", 1]]}) + "\n")
    assert runner.invoke(check, [str(lone), "--model", "list-append", "--anomalies", "G1"]).exit_code == 2
