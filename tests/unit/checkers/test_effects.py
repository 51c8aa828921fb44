"""effects.py pieces: the saga state rebuilt from step logs, client views, void rows."""

from __future__ import annotations

from checkers.effects import EffectsChecker, client_views, saga_views
from harness.core.op import History, Op


def rows(oid, *entries, node="n2"):
    return [
        {
            "order_id": oid,
            "seq": i,
            "step": s,
            "phase": p,
            "wall": 100.0 + i,
            "node": node,
            "term": 1,
        }
        for i, (s, p) in enumerate(entries)
    ]


def test_completed_then_cancel_requested_is_not_terminal_until_cancelled():
    log = rows(
        "o",
        ("saga", "created"),
        ("reserve", "started"),
        ("reserve", "done"),
        ("charge", "started"),
        ("charge", "done"),
        ("ship", "started"),
        ("ship", "done"),
        ("saga", "completed"),
    )
    assert saga_views(log)["o"].terminal
    log += rows("o", *[("saga", "x")] * 8, ("saga", "cancel-requested"))[8:]
    view = saga_views(log)["o"]
    assert view.want == "cancel" and view.state == "completed" and not view.terminal
    log += rows("o", *[("saga", "x")] * 9, ("refund", "started"), ("saga", "cancelled"))[9:]
    assert saga_views(log)["o"].terminal and saga_views(log)["o"].state == "cancelled"


def test_a_cancel_after_failure_keeps_the_saga_failed_and_terminal():
    log = rows(
        "o",
        ("saga", "created"),
        ("reserve", "started"),
        ("reserve", "rejected"),
        ("saga", "failed"),
        ("saga", "cancel-requested"),
    )
    view = saga_views(log)["o"]
    assert view.state == "failed" and view.terminal and view.want == "cancel"


def test_the_same_seq_from_two_nodes_counts_once_and_order_is_by_seq():
    log = rows("o", ("saga", "created"), ("reserve", "started"))
    shuffled = [log[1], log[0], dict(log[1], node="n3")]
    view = saga_views(shuffled)["o"]
    assert view.rows == 2 and view.steps == {"reserve": "started"} and view.last_wall == 101.0


def test_client_views_ack_info_and_fail():
    ops = [
        Op(0, 10, 0, "invoke", "place", {"order_id": "a"}),
        Op(1, 20, 0, "ok", "place", {"order_id": "a"}),
        Op(2, 30, 1, "invoke", "place", {"order_id": "b"}),
        Op(3, 40, 1, "info", "place", {"order_id": "b"}),
        Op(4, 50, 2, "invoke", "place", {"order_id": "c"}),
        Op(5, 60, 2, "fail", "place", {"order_id": "c"}),
        Op(6, 70, 3, "invoke", "cancel", {"order_id": "a"}),
        Op(7, 80, 3, "ok", "cancel", {"order_id": "a"}),
        Op(8, 90, "nemesis", "invoke", "start-pause", None),
    ]
    views, end = client_views(History(ops))
    assert end == 90
    assert (views["a"].placed, views["a"].cancelled, views["a"].acked_at, views["a"].ops) == (
        True,
        True,
        20,
        [0, 1, 6, 7],
    )
    assert (views["b"].placed, views["b"].maybe_placed) == (False, True)
    assert (views["c"].placed, views["c"].maybe_placed) == (False, False)


def write(path, *rows_):
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows_))


def test_void_compensations_are_not_effects(tmp_path):
    """A void refund (nothing to undo) next to a real one is not a double refund."""
    n1 = tmp_path / "nodes" / "n1"
    write(
        n1 / "payment.ledger.jsonl",
        {
            "seq": 0,
            "op": "refund",
            "key": "refund:o",
            "order_id": "o",
            "amount": 0,
            "void": True,
            "token": 1,
        },
        {"seq": 1, "op": "charge", "key": "charge:o", "order_id": "o", "amount": 5, "token": 2},
        {
            "seq": 2,
            "op": "refund",
            "key": "refund:o:call-1",
            "order_id": "o",
            "amount": 5,
            "token": 2,
        },
    )
    write(n1 / "saga-steps.jsonl", *rows("o", ("saga", "cancel-requested"), ("saga", "cancelled")))
    result = EffectsChecker().check({}, History([]), tmp_path)
    assert result.valid is True, [a.summary for a in result.anomalies]
    assert result.stats["rows"]["refund"] == 1


def test_ledger_rows_without_history_are_still_reconciled(tmp_path):
    """Orders known only from ledgers (a history cut short) still get the duplicate check."""
    n1 = tmp_path / "nodes" / "n1"
    write(
        n1 / "shipping.ledger.jsonl",
        {"seq": 0, "op": "ship", "key": "ship:o", "order_id": "o", "token": 1},
        {"seq": 1, "op": "ship", "key": "ship:o", "order_id": "o", "token": 1},
    )
    result = EffectsChecker().check({}, History([]), tmp_path)
    assert [a.fingerprint for a in result.anomalies] == ["duplicate-effect/ship"]
    assert result.anomalies[0].details["same_key"] is True and result.anomalies[0].ops == []
