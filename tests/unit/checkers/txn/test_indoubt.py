"""In-doubt transactions (``info``) are handled soundly: whether one committed or not, and
whenever it did, no anomaly comes from it; a ``fail`` never committed.

The simulated database is serializable and strict: each transaction that commits applies
atomically at one instant inside its interval. Outcomes as a client records them:

* ``ok``: committed, and the completion came after the commit;
* ``fail``: never committed;
* ``info`` (committed): the answer was lost after the commit;
* ``info`` (never): the connection broke before COMMIT arrived;
* ``info`` (late): the client gave up (an op timeout) *before* the commit, which still
  happened later, as an abandoned PostgreSQL transaction whose server was paused does.

Every such history is strict serializable, so the checker must call it valid. Shown to
fail when the rule is broken on purpose (by hand, once each):

* realtime edges out of an ``info`` at its recorded completion (in
  ``checkers.txn.order.realtime_edges``, letting ``info`` complete like ``ok``): a
  late commit then seems to precede transactions it did not, G-single-realtime;
* taking an ``info`` transaction's appends as aborted (``append.index`` orders only ``ok``
  appends, ``append_cases.aborted_and_garbage`` calls every non-``ok`` writer failed): a
  read of its committed append is then G1a.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from checkers.txn import TxnChecker, TxnOptions
from harness.core.op import History, Op

FATES = ("ok", "fail", "info-committed", "info-never", "info-late")
KEYS = ("x", "y", "z")


@st.composite
def txn(draw: Any) -> tuple[list[tuple[str, str]], float, float, float, str]:
    mops = draw(st.lists(st.tuples(st.sampled_from(("r", "append")), st.sampled_from(KEYS)), min_size=1, max_size=4))
    start = draw(st.floats(0, 20))
    commit = start + draw(st.floats(0.01, 3))
    end = commit + draw(st.floats(0.01, 3))
    fate = draw(st.sampled_from(FATES))
    if fate == "info-late":  # the completion is recorded between invoke and commit
        end = start + (commit - start) * draw(st.floats(0.1, 0.9))
    return mops, start, commit, end, fate


def simulate(txns: list[tuple[list[tuple[str, str]], float, float, float, str]]) -> History:
    """Invokes, commits and completions in time order (module docstring)."""
    events = []
    for t, (_, start, commit, end, fate) in enumerate(txns):
        events += [(start, 0, t), (end, 2, t)]
        if fate in ("ok", "info-committed", "info-late"):
            events.append((commit, 1, t))
    values = {}
    n = 0
    for t, (mops, *_) in enumerate(txns):
        for j in range(len(mops)):
            n += 1
            values[(t, j)] = n
    db: dict[str, list[int]] = {}
    done: dict[int, list[list[Any]]] = {}
    ops: list[Op] = []
    for _, kind, t in sorted(events):
        mops, *_, fate = txns[t]
        invoke = [[f, k, values[(t, j)] if f == "append" else None] for j, (f, k) in enumerate(mops)]
        if kind == 0:
            ops.append(Op(len(ops), 0, t, "invoke", "txn", invoke))
        elif kind == 1:
            out = []
            for j, (f, k) in enumerate(mops):
                if f == "append":
                    db.setdefault(k, []).append(values[(t, j)])
                    out.append([f, k, values[(t, j)]])
                else:
                    out.append([f, k, list(db.get(k, [])) or None])
            done[t] = out
        else:
            typ = "ok" if fate == "ok" else "fail" if fate == "fail" else "info"
            ops.append(Op(len(ops), 0, t, typ, "txn", done[t] if typ == "ok" else invoke))
    return History(ops)


@settings(max_examples=120, deadline=None)
@given(st.lists(txn(), min_size=2, max_size=14))
def test_in_doubt_transactions_never_make_an_anomaly(txns: Any) -> None:
    result = TxnChecker(TxnOptions(consistency_models=("strict-serializable",))).check(None, simulate(txns), None)
    assert result.valid is not False, [a.summary for a in result.anomalies[:2]]
    assert set(result.stats["anomaly_types"]) <= {"empty-transaction-graph"}


def test_a_late_commit_after_its_info_is_no_realtime_anomaly() -> None:
    """The case spelled out: T1's client gave up (info) before T1 committed; T2 started
    after the info and read x empty; T1's append then committed; T3 read it."""
    txns = [([("append", "x")], 0.0, 5.0, 1.0, "info-late"),
            ([("r", "x")], 2.0, 3.0, 4.0, "ok"),
            ([("r", "x")], 6.0, 6.5, 7.0, "ok")]
    history = simulate(txns)
    assert [o.type for o in history] == ["invoke", "info", "invoke", "ok", "invoke", "ok"]
    assert history[5].value == [["r", "x", [1]]] and history[3].value == [["r", "x", None]]
    result = TxnChecker(TxnOptions(consistency_models=("strict-serializable",))).check(None, history, None)
    assert result.valid is True, [a.summary for a in result.anomalies]
