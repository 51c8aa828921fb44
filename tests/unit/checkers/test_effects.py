"""effects.py pieces: the saga state rebuilt from step logs, client views, void rows."""

from __future__ import annotations

import json

from checkers.pipeline.artifacts import Artifacts
from checkers.pipeline.effects import EffectsChecker, client_views, saga_views
from harness.core.op import History, Op


def views(tmp_path, by_node):
    """Write step-log rows per node into a run directory; the saga views rebuilt from it."""
    for node, rows_ in by_node.items():
        write(tmp_path / "nodes" / node / "saga-steps.jsonl", *rows_)
    return saga_views(Artifacts(tmp_path).chains())


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


def test_completed_then_cancel_requested_is_not_terminal_until_cancelled(tmp_path):
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
    assert views(tmp_path / "a", {"n2": log})["o"].terminal
    log += rows("o", *[("saga", "x")] * 8, ("saga", "cancel-requested"))[8:]
    view = views(tmp_path / "b", {"n2": log})["o"]
    assert view.want == "cancel" and view.state == "completed" and not view.terminal
    log += rows("o", *[("saga", "x")] * 9, ("refund", "started"), ("saga", "cancelled"))[9:]
    done = views(tmp_path / "c", {"n2": log})["o"]
    assert done.terminal and done.state == "cancelled"


def test_a_cancel_after_failure_keeps_the_saga_failed_and_terminal(tmp_path):
    log = rows(
        "o",
        ("saga", "created"),
        ("reserve", "started"),
        ("reserve", "rejected"),
        ("saga", "failed"),
        ("saga", "cancel-requested"),
    )
    view = views(tmp_path, {"n1": log})["o"]
    assert view.state == "failed" and view.terminal and view.want == "cancel"


def test_the_same_seq_from_two_nodes_counts_once_and_order_is_by_seq(tmp_path):
    log = rows("o", ("saga", "created"), ("reserve", "started"))
    view = views(tmp_path, {"n2": [log[1], log[0]], "n3": [dict(log[1], node="n3")]})["o"]
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
    result = EffectsChecker().check(None, History([]), tmp_path)
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
    result = EffectsChecker().check(None, History([]), tmp_path)
    assert [a.fingerprint for a in result.anomalies] == ["duplicate-effect/ship"]
    assert result.anomalies[0].details["same_key"] is True and result.anomalies[0].ops == []


def test_a_node_whose_clock_was_set_back_does_not_make_its_orders_look_stalled(tmp_path):
    """Order a is still being driven by n3 at the end; n3's wall clock runs 60 s behind,
    but its HLC stamps carry the cluster's clock: a is in flight, not lost."""
    t = 1_700_000_000.0

    def row(oid, seq, step, phase, node, wall, ts):
        return {
            "order_id": oid,
            "seq": seq,
            "step": step,
            "phase": phase,
            "node": node,
            "wall": wall,
            "ts": [int(ts * 1000), 0, node],
            "term": 2,
        }

    write(
        tmp_path / "nodes" / "n3" / "saga-steps.jsonl",
        row("a", 0, "saga", "created", "n3", t - 60, t),
        row("a", 1, "reserve", "started", "n3", t - 59, t + 1),
    )
    write(
        tmp_path / "nodes" / "n2" / "saga-steps.jsonl",
        row("b", 0, "saga", "created", "n2", t, t),
        row("b", 1, "saga", "cancel-requested", "n2", t + 1, t + 1),
        row("b", 2, "saga", "cancelled", "n2", t + 2, t + 2),
    )
    ops = [
        Op(0, 0, 0, "invoke", "place", {"order_id": "a"}),
        Op(1, 10, 0, "ok", "place", {"order_id": "a"}),
        Op(2, 60_000_000_000, 1, "invoke", "read", {"order_id": "a"}),
        Op(3, 60_000_000_001, 1, "ok", "read", {"order_id": "a"}),
    ]
    result = EffectsChecker(grace=5.0).check(None, History(ops), tmp_path)
    assert result.valid is True and result.stats["in_flight"] == ["a"]


def store_row(oid, log, ts, state="running"):
    """One version of ``saga:<oid>`` as a store replica appends it."""
    entries = [{k: v for k, v in r.items() if k != "order_id"} for r in log]
    value = {"order_id": oid, "state": state, "steps": {}, "log": entries}
    return {"key": f"saga:{oid}", "value": value, "ts": [ts, 0, "n1"]}


def test_a_finish_whose_answer_was_lost_is_read_from_the_newest_store_record(tmp_path):
    """The leader's cas of `completed` timed out at its coordinator but landed: no step-log
    row says so, the replicas do. The newest record (by HLC) is the saga's truth."""
    steps = [("saga", "created"), ("reserve", "started"), ("reserve", "done"), ("charge", "started"),
             ("charge", "done"), ("ship", "started"), ("ship", "done")]
    logged = rows("o", *steps)
    finished = rows("o", *steps, ("saga", "completed"))
    write(tmp_path / "nodes" / "n2" / "saga-steps.jsonl", *logged)
    replica = [store_row("o", finished, 300, "completed"), store_row("o", logged, 200)]
    write(tmp_path / "nodes" / "n1" / "store.jsonl", *replica)
    write(tmp_path / "nodes" / "n3" / "store.jsonl", store_row("o", logged, 200))
    view = saga_views(Artifacts(tmp_path).chains())["o"]
    assert view.terminal and view.state == "completed" and view.rows == 8


def test_an_older_store_record_does_not_make_an_unfinished_saga_look_finished(tmp_path):
    steps = [("saga", "created"), ("reserve", "started")]
    write(tmp_path / "nodes" / "n2" / "saga-steps.jsonl", *rows("o", *steps))
    older = store_row("o", rows("o", ("saga", "created"), ("saga", "cancel-requested"),
                                ("saga", "cancelled")), 100, "cancelled")
    newer = store_row("o", rows("o", *steps), 200)
    write(tmp_path / "nodes" / "n1" / "store.jsonl", older, newer)
    view = saga_views(Artifacts(tmp_path).chains())["o"]
    assert not view.terminal and view.steps == {"reserve": "started"}


def unstarted_order_run(tmp_path, committed):
    """Order o was acknowledged a minute before the end and no saga exists for it; its
    placed event is n1's offset 3; n1's committed offset is ``committed``."""
    n1 = tmp_path / "nodes" / "n1"
    done = [("saga", "created"), ("reserve", "started"), ("reserve", "done"), ("saga", "failed")]
    write(n1 / "saga-steps.jsonl", *rows("x", *done))
    write(n1 / "events.jsonl", *[{"order_id": f"e{i}", "type": "order-placed", "node": "n1", "offset": i}
                                 for i in range(3)],
          {"order_id": "o", "type": "order-placed", "node": "n1", "offset": 3})
    write(n1 / "store.jsonl", {"key": "offsets:saga:n1", "value": {"offset": 1, "term": 1}, "ts": [5, 0, "n1"]},
          {"key": "offsets:saga:n1", "value": {"offset": committed, "term": 2}, "ts": [9, 0, "n2"]})
    ops = [Op(0, 0, 0, "invoke", "place", {"order_id": "o"}), Op(1, 1_000, 0, "ok", "place", {"order_id": "o"}),
           Op(2, 60_000_000_000, 1, "invoke", "read", {"order_id": "x"}),
           Op(3, 60_000_000_001, 1, "ok", "read", {"order_id": "x"})]
    return EffectsChecker(grace=5.0).check(None, History(ops), tmp_path)


def test_an_order_whose_event_was_never_consumed_is_a_backlog_warning_not_a_loss(tmp_path):
    result = unstarted_order_run(tmp_path, committed=3)
    assert result.valid is True and result.stats["backlog"] == ["o"]
    (alert,) = result.anomalies
    assert alert.kind == "backlog" and alert.severity == "warning"
    assert alert.details["committed_offsets"] == {"n1": 3}


def test_an_order_whose_event_offset_was_passed_without_a_saga_is_lost(tmp_path):
    """commit-before-effect: the offset moved past the event, the saga never came."""
    result = unstarted_order_run(tmp_path, committed=4)
    assert result.valid is False and result.stats["backlog"] == []
    assert [a.fingerprint for a in result.anomalies] == ["lost-effect/order"]


def cancel_first_run(tmp_path, *, placed_row):
    """Order o: placed (acknowledged) and cancelled; the cancel created its saga, which
    ended cancelled with no effect. ``placed_row``: whether the placed event left its row."""
    entries = [("saga", "cancel-requested"), *([("saga", "placed")] if placed_row else []),
               ("saga", "cancelled")]
    write(tmp_path / "nodes" / "n1" / "saga-steps.jsonl", *rows("o", *entries))
    ops = [Op(0, 0, 0, "invoke", "place", {"order_id": "o"}), Op(1, 1_000, 0, "ok", "place", {"order_id": "o"}),
           Op(2, 2_000, 1, "invoke", "cancel", {"order_id": "o"}), Op(3, 3_000, 1, "ok", "cancel", {"order_id": "o"}),
           Op(4, 60_000_000_000, 1, "invoke", "read", {"order_id": "o"}),
           Op(5, 60_000_000_001, 1, "ok", "read", {"order_id": "o"})]
    return EffectsChecker(grace=5.0).check(None, History(ops), tmp_path)


def test_a_placed_event_skipped_behind_its_cancel_is_a_lost_effect(tmp_path):
    """commit-before-effect crashed on the placed event; the cancel alone settled the order."""
    result = cancel_first_run(tmp_path / "skipped", placed_row=False)
    assert [a.fingerprint for a in result.anomalies] == ["lost-effect/event"]
    assert cancel_first_run(tmp_path / "applied", placed_row=True).valid is True


def quiesce_ops(start, *, quiet, index=100):
    """A final phase: the last heal at ``start`` ns, then one quiesce poll 30 s later."""
    answer = {"budget": 41.5, "quiet": quiet, "leader": "n3", "term": 22, "consumer_lag": 0,
              "active": 0 if quiet else 46, "busy": 0 if quiet else 46}
    return [Op(index, start, "nemesis", "invoke", "heal", None),
            Op(index + 1, start + 1_000, "nemesis", "info", "heal", "healed"),
            Op(index + 2, start + 2_000, 0, "invoke", "quiesce", {"budget": 41.5}),
            Op(index + 3, start + 30_000_000_000, 0, "ok" if quiet else "fail", "quiesce", answer)]


def settling_run(tmp_path, *, quiet):
    """Orders s (stuck in ship: still running) and t (completed without its shipment),
    both acknowledged a minute before the end; the final quiesce ends ``quiet`` or not."""
    n2 = tmp_path / "nodes" / "n2"
    forward = [("saga", "created"), ("reserve", "started"), ("reserve", "done"),
               ("charge", "started"), ("charge", "done"), ("ship", "started")]
    stuck = [{**r, "wall": r["wall"] - 60} for r in rows("s", *forward)]  # last step a minute before the end
    write(n2 / "saga-steps.jsonl", *stuck, *rows("t", *forward, ("ship", "done"), ("saga", "completed")))
    write(n2 / "payment.ledger.jsonl",
          *[{"seq": i, "op": "charge", "key": f"charge:{o}", "order_id": o, "amount": 5, "token": 2}
            for i, o in enumerate("st")])
    write(n2 / "inventory.ledger.jsonl",
          *[{"seq": i, "op": "reserve", "key": f"reserve:{o}", "order_id": o, "qty": 1, "token": 2}
            for i, o in enumerate("st")])
    ops = []
    for i, o in enumerate("st"):
        ops += [Op(2 * i, i, i, "invoke", "place", {"order_id": o, "amount": 5, "qty": 1}),
                Op(2 * i + 1, 10 + i, i, "ok", "place", {"order_id": o, "amount": 5, "qty": 1})]
    ops += quiesce_ops(60_000_000_000, quiet=quiet, index=len(ops))
    return EffectsChecker(grace=5.0).check(None, History(ops), tmp_path)


def test_an_unsettled_saga_is_reported_unsettled_and_a_terminal_one_missing_its_effect_is_lost(tmp_path):
    result = settling_run(tmp_path, quiet=False)
    by_kind = {}
    for a in result.anomalies:
        by_kind.setdefault(a.kind, []).append(a)
    (alert,) = by_kind["unsettled"]
    assert alert.severity == "warning" and alert.details["orders"] == ["s"]
    assert "30.0 s after the last heal" in alert.summary and "leader n3, term 22" in alert.summary
    lost = {(a.details["order"], a.fingerprint) for a in by_kind["lost-effect"]}
    assert lost == {("t", "lost-effect/charge"), ("t", "lost-effect/restock")}  # s is not judged
    assert result.valid is False  # t's loss is a safety error whatever the settling
    assert result.stats["unsettled"] == ["s"]
    assert result.stats["settle"]["quiet"] is False and result.stats["settle"]["seconds_after_last_heal"] == 30.0


def test_a_saga_unfinished_while_its_leader_says_quiet_is_lost(tmp_path):
    """Quiet means no saga is driven any more: an unfinished one will never finish."""
    result = settling_run(tmp_path, quiet=True)
    lost = {(a.details["order"], a.fingerprint) for a in result.anomalies if a.kind == "lost-effect"}
    assert ("s", "lost-effect/order") in lost and ("s", "lost-effect/charge") in lost
    assert result.stats["unsettled"] == [] and result.stats["settle"]["quiet"] is True
