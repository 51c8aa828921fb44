"""The one pairing of invokes and completions (harness.core.op.pairs), and its users agreeing on it."""

from __future__ import annotations

import random
from typing import Any

import pytest

from checkers.linearizable.explain import completion_positions
from checkers.pipeline.effects import client_views
from checkers.report.model import pair_ops
from harness.core.errors import HistoryError
from harness.core.op import INF, NEMESIS, OPEN, History, Op, pairing, pairs, row_fields

Row = tuple[Any, str, str, Any]


def ops(rows: list[Row]) -> list[Op]:
    return [Op(i, i * 10, p, t, f, v) for i, (p, t, f, v) in enumerate(rows)]


def shape(found: list[Any]) -> list[tuple[int, int | None]]:
    return [(p.invoke_pos, p.completion_pos) for p in found]


def test_each_invoke_pairs_with_the_next_completion_of_its_process_in_invoke_order() -> None:
    h = ops(
        [
            (0, "invoke", "write", 1),
            (1, "invoke", "read", None),
            (NEMESIS, "invoke", "start-partition", None),
            (1, "ok", "read", 1),
            (NEMESIS, "info", "start-partition", None),
            (0, "info", "write", 1),
            (2, "invoke", "read", None),
            (3, "invoke", "write", 2),
            (3, "fail", "write", 2),
        ]
    )
    found = pairs(h)
    assert shape(found) == [(0, 5), (1, 3), (6, None), (7, 8)]
    assert [p.open for p in found] == [False, False, True, False]
    assert found[0].invoke is h[0] and found[0].completion is h[5]
    assert all(p.invoke.process != NEMESIS for p in found)  # nemesis ops are never calls
    assert shape(History(h).pairs()) == shape(found)


def test_a_torn_history_leaves_the_earlier_call_open_and_says_where() -> None:
    """The control node died between an invoke and its completion: the next invoke of
    that process starts a new call, and the earlier one is open (crashed), never
    completed by the later call's completion."""
    h = ops([(0, "invoke", "write", 1), (0, "invoke", "write", 2), (0, "ok", "write", 2)])
    assert shape(pairs(h)) == [(0, None), (1, 2)]
    found = pairing(h)
    assert list(found.completions) == [OPEN, 2]
    assert found.reinvoked == [(0, 1)] and found.orphans == []
    with pytest.raises(HistoryError, match="invokes again while its op from line 1 is still open"):
        History(h)


def test_a_process_id_reused_after_info_starts_a_new_call() -> None:
    h = ops(
        [
            (5, "invoke", "write", 1),
            (5, "info", "write", 1),
            (5, "invoke", "read", None),
            (5, "ok", "read", 1),
        ]
    )
    assert shape(pairs(h)) == [(0, 1), (2, 3)]
    found = pairing(h)
    assert found.reinvoked == [] and found.orphans == []
    calls = History(h).calls()
    assert [(c.f, c.ret, c.output) for c in calls][1] == ("read", 3, 1)
    assert calls[0].crashed


def test_a_completion_without_an_invoke_pairs_with_nothing() -> None:
    h = ops([(0, "info", "read", None), (1, "invoke", "read", None), (1, "ok", "read", None)])
    assert pairing(h).orphans == [0] and shape(pairs(h)) == [(1, 2)]
    History(h)  # a lone info is a note (Knossos writes them)
    with pytest.raises(HistoryError, match="ok completion by process 0 with no open invoke"):
        History(ops([(0, "ok", "read", None)]))


def test_json_rows_pair_exactly_like_ops() -> None:
    rng = random.Random(7)
    h: list[Op] = []
    open_: set[int] = set()
    for i in range(400):
        p = rng.randrange(6)
        if rng.random() < 0.1:
            h.append(Op(i, i, NEMESIS, rng.choice(["invoke", "info"]), "kill"))
        elif p in open_:
            h.append(Op(i, i, p, rng.choice(["ok", "fail", "info"]), "read"))
            open_.discard(p)
        else:
            h.append(Op(i, i, p, "invoke", "read"))
            open_.add(p)
    rows = [op.to_json() for op in h]
    assert shape(pairs(rows, row_fields)) == shape(pairs(h))
    # every client op is in exactly one pair
    seen = [pos for pr in pairs(h) for pos in (pr.invoke_pos, pr.completion_pos) if pos is not None]
    assert sorted(seen) == [i for i, op in enumerate(h) if op.process != NEMESIS]


def test_every_reader_treats_a_call_never_completed_as_crashed() -> None:
    """The linearizability calls, the explanations, the effects view and the report
    all read an open invoke as crashed/open, and an info the same way."""
    h = History(
        ops(
            [
                (0, "invoke", "place", {"order_id": "a"}),
                (1, "invoke", "place", {"order_id": "b"}),
                (1, "info", "place", {"order_id": "b"}),
            ]
        )
    )
    calls = h.calls()
    assert [(c.process, c.ret, c.complete_index) for c in calls] == [(0, INF, None), (1, INF, None)]
    assert completion_positions(h) == {1: 2}
    views, _ = client_views(h)
    assert views["a"].maybe_placed and not views["a"].placed and views["a"].ops == [0]
    assert views["b"].maybe_placed and views["b"].ops == [1, 2]
    drawn = pair_ops([op.to_json() for op in h])
    assert [(p.process, p.type, p.indices) for p in drawn] == [(0, "open", (0,)), (1, "info", (1, 2))]


def test_the_report_draws_a_torn_history_with_the_earlier_call_open() -> None:
    rows = [op.to_json() for op in ops([(0, "invoke", "write", 1), (0, "invoke", "write", 2), (0, "ok", "write", 2)])]
    drawn = pair_ops(rows)
    assert [(p.type, p.indices, p.value) for p in drawn] == [("open", (0,), 1), ("ok", (1, 2), 2)]
