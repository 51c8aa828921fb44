"""fencing.py and quorum.py rules on small hand-made inputs."""

from __future__ import annotations

from checkers.pipeline.artifacts import RunInfo, Step
from checkers.pipeline.fencing import leader_terms, stale_writes, token_spans
from checkers.pipeline.quorum import (
    QuorumChecker,
    lint,
    register_calls,
    register_history,
    stale_reads,
)
from harness.core.op import History, Op


def acc(key, token, **kw):
    return {"verdict": "accept", "key": key, "token": token, **kw}


def test_stale_write_is_lower_than_an_earlier_accept_not_equal_and_rejects_do_not_count():
    rows = [
        acc("a", 1),
        acc("b", 2),
        acc("c", 2),
        {"verdict": "reject", "key": "d", "token": 1},
        acc("e", 3),
        acc("f", 2),
    ]
    [(line, stale, newer)] = stale_writes(enumerate(rows, 1), fence_log=True)
    assert (line, stale["key"], newer["key"]) == (6, "f", "e")
    assert stale_writes(enumerate(rows[:5], 1), fence_log=True) == []


def test_ledger_rows_as_the_fallback_have_no_verdict():
    rows = [{"key": "a", "token": 2}, {"key": "b", "token": 1}]
    assert [s["key"] for _, s, _ in stale_writes(enumerate(rows, 1), fence_log=False)] == ["b"]
    assert stale_writes(enumerate(rows, 1), fence_log=True) == []


def test_token_spans_and_leader_terms():
    spans = token_spans(
        [acc("a", 1, wall=1.0), acc("b", 1, wall=2.0), acc("c", 2, wall=3.0)], fence_log=True
    )
    assert spans == [
        {"token": 1, "first_wall": 1.0, "last_wall": 2.0, "writes": 2},
        {"token": 2, "first_wall": 3.0, "last_wall": 3.0, "writes": 1},
    ]
    steps = [
        Step("o", 0, "saga", "created", None, wall, node, term, "f", 1)
        for term, node, wall in ((2, "n3", 9.0), (1, "n2", 1.0), (1, "n2", 4.0), (1, "n2", None))
    ]
    assert leader_terms(steps) == [
        {"term": 1, "node": "n2", "first_wall": 1.0, "last_wall": 4.0, "steps": 2},
        {"term": 2, "node": "n3", "first_wall": 9.0, "last_wall": 9.0, "steps": 1},
    ]


def test_lint_boundary_r_plus_w_equal_n_is_weak():
    assert [a.kind for a in lint(RunInfo(replication=(4, 2, 2)))] == ["weak-quorum-config"]
    assert lint(RunInfo(replication=(4, 3, 2))) == []
    assert lint(RunInfo()) == []  # unknown config: nothing to lint


class H:
    """A register history written op by op: ``w(p, k, v)`` etc. return nothing; ``done`` completes."""

    def __init__(self):
        self.ops: list[Op] = []

    def add(self, p, typ, f, value, **extra):
        self.ops.append(Op(len(self.ops), len(self.ops) * 10, p, typ, f, value, extra=extra))
        return self

    def history(self):
        return History(self.ops)


def stale(h: H):
    return [
        (r.invoke.index, w.invoke.index)
        for calls in register_calls(h.history()).values()
        for r, w in stale_reads(calls)
    ]


def test_repeated_values_are_not_called_stale():
    # write 1, write 2, write 1 again (acked), read 1: the read saw the third write
    h = H()
    for v in (1, 2, 1):
        h.add(0, "invoke", "write", ["k", v]).add(0, "ok", "write", ["k", v])
    h.add(1, "invoke", "read", ["k", None]).add(1, "ok", "read", ["k", 1])
    assert stale(h) == []


def test_an_info_write_of_the_value_read_may_explain_it():
    h = H()
    h.add(0, "invoke", "write", ["k", 1]).add(0, "ok", "write", ["k", 1])
    h.add(0, "invoke", "write", ["k", 2]).add(0, "ok", "write", ["k", 2])
    h.add(2, "invoke", "write", ["k", 1]).add(
        2, "info", "write", ["k", 1]
    )  # may land any time later
    h.add(1, "invoke", "read", ["k", None]).add(1, "ok", "read", ["k", 1])
    assert stale(h) == []


def test_a_concurrent_write_is_not_missed_but_an_acked_one_is():
    h = H()
    h.add(0, "invoke", "write", ["k", 1]).add(0, "ok", "write", ["k", 1])
    h.add(0, "invoke", "write", ["k", 2])
    h.add(1, "invoke", "read", ["k", None]).add(
        1, "ok", "read", ["k", 1]
    )  # concurrent with write 2
    h.add(0, "ok", "write", ["k", 2])
    assert stale(h) == []
    h.add(1, "invoke", "read", ["k", None]).add(
        1, "ok", "read", ["k", 1]
    )  # after write 2 was acked
    assert stale(h) == [(6, 2)]


def test_reading_the_initial_state_after_an_acked_write_and_failed_writes():
    h = H()
    h.add(0, "invoke", "write", ["k", 3]).add(0, "fail", "write", ["k", 3])  # never happened
    h.add(1, "invoke", "read", ["k", None]).add(1, "ok", "read", ["k", None])
    assert stale(h) == []
    h.add(0, "invoke", "cas", ["k", [None, 4]]).add(0, "ok", "cas", ["k", [None, 4]])
    h.add(1, "invoke", "read", ["k", None]).add(1, "ok", "read", ["k", None])
    assert stale(h) == [(6, 4)]


def test_register_history_keeps_only_register_pairs():
    h = H()
    h.add(0, "invoke", "place", {"order_id": "o"}).add(0, "ok", "place", {"order_id": "o"})
    h.add(1, "invoke", "read", {"order_id": "o"}).add(1, "ok", "read", {"order_id": "o"})
    assert register_history(h.history()) is None
    h.add(2, "invoke", "write", ["k", 1]).add(2, "ok", "write", ["k", 1])
    sub = register_history(h.history())
    assert [o.index for o in sub] == [4, 5]
    # the orders workload's reads ({"order_id"}) never reach the linearizability checker
    result = QuorumChecker().check({}, h.history(), None)
    assert result.valid is True and result.stats["linearizable"]["valid"] is True
