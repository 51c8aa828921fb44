"""Property tests: simulated databases (``sim.py``) checked under the models they keep.

Each property is a quality test: it must fail when the classification is
broken. Checked once by hand, breaking ``checkers.txn.cycles.classify``:

* counting one ``rw`` edge too many (``rw = types.count(RW) + 1``): the
  planted G0/G1c become G-single-item and read skew becomes G2-item, so
  ``test_planted_kinds`` and ``test_read_committed_shows_g_single`` fail;
* calling every cycle with two ``rw`` edges ``G2-item`` (no
  G-nonadjacent-item): the planted G-nonadjacent-item is missed and
  ``test_planted_kinds`` fails (SI allows G2-item, so the SI property alone
  would not see it: that is why the plant is there);
* dropping the adjacency check (``adjacent = False``): write skew becomes a
  G-nonadjacent-item, which SI forbids, and
  ``test_snapshot_isolation_shows_g2_item_on_write_skew`` fails.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from checkers.txn import TxnChecker, TxnOptions
from harness.core.op import Op
from tests.unit.checkers.txn.sim import run, schedule_for

KEYS = ("x", "y", "z")
mop = st.tuples(st.sampled_from(("r", "append")), st.sampled_from(KEYS))
workload = st.lists(st.lists(mop, min_size=1, max_size=4), min_size=1, max_size=6)
NOT_UNDER_SI = {"G0", "G1a", "G1b", "G1c", "G-single-item", "dirty-update", "internal"}


def check(history, *models: str, **kw):
    return TxnChecker(TxnOptions(consistency_models=models, **kw)).check(None, history, None)


@st.composite
def scheduled(draw):
    txns = draw(workload)
    n = sum(len(m) + 2 for m in txns)
    return txns, schedule_for(txns, draw(st.permutations(range(n))))


@settings(max_examples=150, deadline=None)
@given(scheduled())
def test_serializable_database_is_valid(case) -> None:
    """Transactions applied one at a time inside their intervals: valid even under
    strict serializability, with real-time edges."""
    txns, schedule = case
    result = check(run(txns, schedule, "serializable"), "strict-serializable")
    # Unknown only when no transaction depends on another (Elle's empty graph).
    assert result.stats["anomaly_types"] in ([], ["empty-transaction-graph"]), result.stats["found"]
    assert result.valid is not False


@settings(max_examples=150, deadline=None)
@given(scheduled())
def test_snapshot_isolation_never_shows_g0_g1_or_g_single(case) -> None:
    txns, schedule = case
    result = check(run(txns, schedule, "si"), "serializable")
    found = set(result.stats["found"])
    assert not found & NOT_UNDER_SI, found
    assert check(run(txns, schedule, "si"), "snapshot-isolation").valid is not False


def test_snapshot_isolation_shows_g2_item_on_write_skew() -> None:
    """Two transactions read x and y; one appends to x, the other to y; both commit."""
    txns = [[("r", "x"), ("r", "y"), ("append", "x")], [("r", "x"), ("r", "y"), ("append", "y")]]
    schedule = [0, 1, 0, 0, 1, 1, 0, 1, 0, 1]
    result = check(run(txns, schedule, "si"), "serializable")
    assert result.stats["anomaly_types"] == ["G2-item"]
    assert result.stats["not"] == ["repeatable-read"]
    assert check(run(txns, schedule, "si"), "snapshot-isolation").valid is True


def test_read_committed_shows_g_single() -> None:
    """T0 reads x; T1 appends to x and y and commits; T0 then reads y: read skew."""
    txns = [[("r", "x"), ("r", "y")], [("append", "x"), ("append", "y")]]
    schedule = [0, 0, 1, 1, 1, 1, 0, 0]
    history = run(txns, schedule, "rc")
    assert check(history, "serializable").stats["anomaly_types"] == ["G-single-item"]
    assert check(history, "read-committed").valid is True


@settings(max_examples=100, deadline=None)
@given(scheduled())
def test_read_committed_never_shows_g1(case) -> None:
    txns, schedule = case
    found = set(check(run(txns, schedule, "rc"), "serializable").stats["found"])
    assert not found & {"G0", "G1a", "G1b", "G1c"}, found


def ok(index: int, process: int, value: list) -> Op:
    return Op(index, 0, process, "ok", "txn", value)


PLANTED = {
    "G0": [ok(0, 0, [["append", "x", 1], ["append", "y", 1]]),
           ok(1, 1, [["append", "x", 2], ["append", "y", 2]]),
           ok(2, 2, [["r", "x", [1, 2]], ["r", "y", [2, 1]]])],
    "G1a": [Op(0, 0, 0, "fail", "txn", [["append", "x", 1]]), ok(1, 1, [["r", "x", [1]]])],
    "G1b": [ok(0, 0, [["append", "x", 1], ["append", "x", 2]]), ok(1, 1, [["r", "x", [1]]])],
    # Elle's G-nonadjacent test: rw, wr, rw, wr around four transactions.
    "G-nonadjacent-item": [ok(0, 0, [["append", "x", 1]]),
                           ok(1, 1, [["r", "x", [1]], ["r", "y", None]]),
                           ok(2, 2, [["append", "y", 1]]),
                           ok(3, 3, [["r", "y", [1]], ["r", "x", None]])],
    "G1c": [ok(0, 0, [["append", "x", 1], ["r", "y", [1]]]),
            ok(1, 1, [["append", "x", 2], ["append", "y", 1]]),
            ok(2, 2, [["r", "x", [1, 2]]])],
}


def test_planted_kinds() -> None:
    """Each planted history is found with exactly its kind when that kind is asked for."""
    for kind, ops in PLANTED.items():
        result = TxnChecker(TxnOptions(consistency_models=None, anomalies=(kind,))).check(None, ops, None)
        assert kind in result.stats["anomaly_types"], (kind, result.stats["found"])
        assert result.valid is False
    g0 = TxnChecker(TxnOptions(consistency_models=None, anomalies=("G1",))).check(None, PLANTED["G0"], None)
    assert g0.stats["anomaly_types"] == ["G0"]  # G1 widened: a G0 is reported as G0
    g1c = TxnChecker(TxnOptions(consistency_models=None, anomalies=("G1",))).check(None, PLANTED["G1c"], None)
    assert g1c.stats["anomaly_types"] == ["G1c"]
