"""checkers/stale_read.py: the generic stale-read rule on small hand-made register histories."""

from __future__ import annotations

from checkers.stale_read import StaleReadChecker, register_calls, stale_reads
from harness.core.op import History, Op


class H:
    """A register history written op by op; ``add`` appends one op and returns self."""

    def __init__(self):
        self.ops: list[Op] = []

    def add(self, p, typ, f, value, **extra):
        self.ops.append(Op(len(self.ops), len(self.ops) * 10, p, typ, f, value, extra=extra))
        return self

    def call(self, p, f, value, out=None, typ="ok", **extra):
        return self.add(p, "invoke", f, value).add(p, typ, f, value if out is None else out, **extra)

    def history(self):
        return History(self.ops)


def stale(h: H, independent: bool = True):
    """(read invoke index, missed write invoke index) of every stale read."""
    return [
        (r.invoke.index, w.invoke.index)
        for calls in register_calls(h.history(), independent=independent).values()
        for r, w in stale_reads(calls)
    ]


def test_repeated_values_are_not_called_stale():
    # write 1, write 2, write 1 again (acked), read 1: the read saw the third write
    h = H()
    for v in (1, 2, 1):
        h.call(0, "write", ["k", v])
    h.call(1, "read", ["k", None], ["k", 1])
    assert stale(h) == []


def test_an_info_write_of_the_value_read_may_explain_it():
    h = H()
    h.call(0, "write", ["k", 1]).call(0, "write", ["k", 2])
    h.call(2, "write", ["k", 1], typ="info")  # may land any time later
    h.call(1, "read", ["k", None], ["k", 1])
    assert stale(h) == []


def test_a_concurrent_write_is_not_missed_but_an_acked_one_is():
    h = H()
    h.call(0, "write", ["k", 1])
    h.add(0, "invoke", "write", ["k", 2])
    h.call(1, "read", ["k", None], ["k", 1])  # concurrent with write 2
    h.add(0, "ok", "write", ["k", 2])
    assert stale(h) == []
    h.call(1, "read", ["k", None], ["k", 1])  # after write 2 was acked
    assert stale(h) == [(6, 2)]


def test_reading_the_initial_state_after_an_acked_write_and_failed_writes():
    h = H()
    h.call(0, "write", ["k", 3], typ="fail")  # never happened
    h.call(1, "read", ["k", None], ["k", None])
    assert stale(h) == []
    h.call(0, "cas", ["k", [None, 4]])
    h.call(1, "read", ["k", None], ["k", None])
    assert stale(h) == [(6, 4)]


def test_the_newest_write_the_value_surely_precedes_is_named():
    h = H()
    h.call(0, "write", ["k", 1]).call(0, "write", ["k", 2]).call(0, "write", ["k", 3])
    h.call(1, "read", ["k", None], ["k", 1])
    assert stale(h) == [(6, 4)]  # missed write 3, not merely write 2


def test_keys_are_judged_apart_and_list_keys_work():
    h = H()
    h.call(0, "write", [["a", 1], 1])
    h.call(1, "read", [["b", 1], None], [["b", 1], None])  # another key, never written: fine
    h.call(1, "read", [["a", 1], None], [["a", 1], None])  # stale: a was written
    assert stale(h) == [(4, 0)]


def test_a_plain_register_is_one_key_without_independent():
    h = H()
    h.call(0, "write", 1).call(0, "write", 2).call(1, "read", None, 1)
    assert stale(h, independent=False) == [(4, 2)]
    assert stale(h) == []  # read as independent, no value is [key, v]: nothing to judge


def test_unknown_and_failed_reads_constrain_nothing():
    h = H()
    h.call(0, "write", ["k", 1]).call(0, "write", ["k", 2])
    h.call(1, "read", ["k", None], ["k", 1], typ="info")
    h.call(1, "read", ["k", None], ["k", 1], typ="fail")
    assert stale(h) == []


def test_the_checker_names_both_calls_their_nodes_and_counts_the_rest():
    h = H()
    h.call(0, "write", ["k", 1], node="n1").call(0, "write", ["k", 2], node="n1")
    for _ in range(3):
        h.call(1, "read", ["k", None], ["k", 1], node="n3", replicas=["n3"])
    result = StaleReadChecker(listed=2).check(None, h.history(), None)
    assert result.valid is False
    assert result.stats == {"stale_reads": 3, "reads": 3, "keys": 1}
    first = result.anomalies[0]
    assert len(result.anomalies) == 2 and (first.checker, first.kind, first.fingerprint) == (
        "stale-read", "stale-read", "stale-read")
    assert first.ops == [2, 3, 4, 5]  # the write of 2 (invoke, ok), then the read (invoke, ok)
    assert (first.details["read_node"], first.details["write_node"]) == ("n3", "n1")
    assert (first.details["read_value"], first.details["missed_value"]) == (1, 2)
    assert first.details["read_replicas"] == ["n3"]
    assert first.summary == 'key "k": read 1 after a write of 2 was acknowledged'


def test_a_history_without_register_ops_is_valid_with_nothing_counted():
    h = H()
    h.call(0, "place", {"order_id": "o"}).call(1, "read", {"order_id": "o"})
    result = StaleReadChecker().check(None, h.history(), None)
    assert result.valid is True and result.anomalies == []
    assert result.stats == {"stale_reads": 0, "reads": 0, "keys": 0}
