"""Crashed calls that nobody can see are left out, and leaving them out is exact.

Two properties, for every model, on small random histories with many crashed
calls: the brute-force checker (from the definition, with every crashed call)
gives the same verdict on the history with only the crashed calls that
``prune.seen_crashed`` keeps; and the search (which prunes) agrees with the
brute force on the whole history. Plus examples that the pruning really
removes what the issue says it should, and keeps what it must.
"""

from __future__ import annotations

import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checkers.linearizable.models import get_model
from checkers.linearizable.prune import seen_crashed
from checkers.linearizable.search import search as plain_search
from harness.core.op import INF, UNKNOWN, Call, History, Op
from tests.unit.test_search_properties import (
    assert_is_linearization,
    brute_force,
    random_history,
    random_kv_history,
)
from tests.unit.test_search_properties import (
    search as search,  # plain and with eager hopeless-read tests, which must agree
)

SEEDS = st.integers(min_value=0, max_value=2**32 - 1)
SLOW = settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def pruned(calls: list[Call], model: Any) -> list[Call]:
    done = [c for c in calls if not c.crashed]
    return done + seen_crashed(model, done, [c for c in calls if c.crashed])


def assert_exact(calls: list[Call], model: Any, seed: int) -> None:
    """Pruning keeps the verdict (brute force on both), and the search agrees."""
    expected = brute_force(calls, model)
    assert brute_force(pruned(calls, model), model) is expected, f"seed={seed}: pruning changed it"
    result = search(calls, model)
    assert result.valid is expected, f"seed={seed}: search says {result.valid}, brute {expected}"
    assert_is_linearization(calls, model, result.linearization, complete=expected)


def model_for(name: str) -> Any:
    return get_model(name, 0) if name == "cas-register" else get_model(name)


@SLOW
@given(
    seed=SEEDS,
    name=st.sampled_from(["register", "cas-register", "etcd-register"]),
    n_ops=st.integers(4, 11),
    values=st.sampled_from([(0, 1), (0, 1, 2, 3), tuple(range(8))]),
)
def test_registers_with_many_crashes(seed: int, name: str, n_ops: int, values: tuple) -> None:
    """Half the ops crash; with more values, more crashed writes go unread."""
    model = model_for(name)
    history = random_history(random.Random(seed), name, n_ops, crash=8, values=values)
    assert_exact(history.calls(observed_failures=model.observed_failures), model, seed)


@SLOW
@given(seed=SEEDS, n_ops=st.integers(4, 9))
def test_kv_with_many_crashes(seed: int, n_ops: int) -> None:
    model = get_model("kv")
    calls = random_kv_history(random.Random(seed), n_ops).calls(independent=True)
    crash_more = random.Random(seed + 1)
    calls = [_crash(c) if not c.crashed and crash_more.random() < 0.3 else c for c in calls]
    assert_exact(calls, model, seed)


def _crash(c: Call) -> Call:
    """The same call, crashed (a get crashes too: it is then never seen)."""
    return Call(c.id, c.process, c.f, c.input, UNKNOWN, c.call, INF, c.invoke_index, None, c.key)


def random_txn_history(rng: random.Random, max_ops: int) -> History:
    """multi-register: txns of one or two micro-ops over keys x, y; reads often wrong."""
    ops: list[Op] = []
    open_op: dict[int, Op] = {}
    live, fresh, invoked = [0, 1, 2], 3, 0
    while invoked < max_ops or open_op:
        p = rng.choice(live)
        if p in open_op:
            inv = open_op.pop(p)
            typ = rng.choices(["ok", "info"], [1, 1])[0]
            if typ == "info":
                live[live.index(p)], fresh = fresh, fresh + 1
                ops.append(Op(len(ops), 0, p, "info", "txn", inv.value))
                continue
            done = [[f, k, rng.choice((0, 1, 2)) if f == "read" else v] for f, k, v in inv.value]
            ops.append(Op(len(ops), 0, p, "ok", "txn", done))
        elif invoked < max_ops:
            micro = [
                [rng.choice(["read", "write"]), rng.choice("xy"), rng.choice((0, 1, 2, 3))]
                for _ in range(rng.randint(1, 2))
            ]
            value = [[f, k, None if f == "read" else v] for f, k, v in micro]
            op = Op(len(ops), 0, p, "invoke", "txn", value)
            ops.append(op)
            open_op[p] = op
            invoked += 1
    return History(ops)


@SLOW
@given(seed=SEEDS, n_ops=st.integers(3, 8))
def test_multi_register_with_many_crashes(seed: int, n_ops: int) -> None:
    model = get_model("multi-register")
    assert_exact(random_txn_history(random.Random(seed), n_ops).calls(), model, seed)


@settings(max_examples=300, deadline=None)
@given(seed=SEEDS, n_ops=st.integers(3, 8))
def test_mutex_with_many_crashes_keeps_them_all(seed: int, n_ops: int) -> None:
    """A mutex cannot tell which crashed call matters, so every one is kept."""
    rng = random.Random(seed)
    ops: list[Op] = []
    for i in range(n_ops):
        f = rng.choice(["acquire", "release"])
        ops.append(Op(len(ops), 0, i, "invoke", f, None))
        ops.append(Op(len(ops), 0, i, rng.choice(["ok", "info", "info"]), f, None))
    model = get_model("mutex")
    calls = History(ops).calls()
    assert pruned(calls, model) == [c for c in calls if not c.crashed] + [
        c for c in calls if c.crashed
    ]
    assert_exact(calls, model, seed)


# --------------------------------------------------------------------------- examples


def _calls(*rows: tuple[int, str, str, Any]) -> list[Call]:
    return History([Op(i, 0, p, t, f, v) for i, (p, t, f, v) in enumerate(rows)]).calls(
        observed_failures=get_model("etcd-register").observed_failures
    )


def _kept(calls: list[Call], model: Any) -> list[Any]:
    done = [c for c in calls if not c.crashed]
    return [c.input for c in seen_crashed(model, done, [c for c in calls if c.crashed])]


def test_unread_crashed_writes_are_left_out_and_read_ones_kept() -> None:
    rows: list[tuple[int, str, str, Any]] = []
    for v in range(40):
        rows += [(100 + v, "invoke", "write", v), (100 + v, "info", "write", v)]
    rows += [(1, "invoke", "read", None), (1, "ok", "read", 7)]
    assert _kept(_calls(*rows), get_model("register")) == [7]


def test_a_kept_crashed_cas_sees_the_write_of_its_old_value() -> None:
    """read 3 needs cas 2->3 (crashed), which needs write 2 (crashed): a chain."""
    calls = _calls(
        (5, "invoke", "write", 2),
        (5, "info", "write", 2),
        (6, "invoke", "write", 9),
        (6, "info", "write", 9),
        (7, "invoke", "cas", [2, 3]),
        (7, "info", "cas", [2, 3]),
        (1, "invoke", "read", None),
        (1, "ok", "read", 3),
    )
    assert _kept(calls, get_model("cas-register")) == [2, [2, 3]]
    assert search(calls, get_model("cas-register")).valid is True


def test_an_observed_failed_cas_sees_every_crashed_write() -> None:
    """etcd: cas 0->1 failed, so the value was not 0: only an unread crashed write explains it."""
    calls = _calls(
        (5, "invoke", "write", 4),
        (5, "info", "write", 4),
        (1, "invoke", "write", 0),
        (1, "ok", "write", 0),
        (2, "invoke", "cas", [0, 1]),
        (2, "fail", "cas", [0, 1]),
    )
    model = get_model("etcd-register")
    assert _kept(calls, model) == [4]
    assert search(calls, model).valid is True


def test_kv_crashed_append_is_seen_only_through_a_get_that_shows_it() -> None:
    model = get_model("kv")
    rows: list[tuple[int, str, str, Any]] = [
        (1, "invoke", "append", ["k", "a"]),
        (1, "ok", "append", ["k", "a"]),
    ]
    for i, s in enumerate(["x", "yy", "b"]):
        rows += [(10 + i, "invoke", "append", ["k", s]), (10 + i, "info", "append", ["k", s])]
    rows += [(2, "invoke", "get", ["k", None]), (2, "ok", "get", ["k", "ab"])]
    calls = History([Op(i, 0, p, t, f, v) for i, (p, t, f, v) in enumerate(rows)]).calls(
        independent=True
    )
    assert [c.input for c in pruned(calls, model) if c.crashed] == ["b"]
    assert search(calls, model).valid is True


def test_unique_value_register_with_unread_crashes_stays_cheap() -> None:
    """300 sequential writes with unique values, every fourth crashed and never
    read: the search explores about one configuration per completed call."""
    rows: list[tuple[int, str, str, Any]] = []
    process = 0
    for v in range(300):
        crashed = v % 4 == 3
        rows += [
            (process, "invoke", "write", v),
            (process, "info" if crashed else "ok", "write", v),
        ]
        if crashed:
            process += 1
        elif v % 2 == 0:
            rows += [(process, "invoke", "read", None), (process, "ok", "read", v)]
    calls = _calls(*rows)
    result = search(calls, get_model("register"))
    assert result.valid is True
    done = sum(1 for c in calls if not c.crashed)
    assert result.explored <= done + 1


def test_values_the_hook_cannot_read_keep_every_crashed_call() -> None:
    """An unhashable read result (never past validate, but search() takes any
    calls): the pruning keeps everything rather than guess."""

    class Odd:
        __hash__ = None  # type: ignore[assignment]

    calls = _calls((5, "invoke", "write", 4), (5, "info", "write", 4))
    read = Call(9, 1, "read", None, Odd(), 10, 11, 10, 11)
    done = [read]
    assert seen_crashed(get_model("register"), done, calls) == calls


def test_kv_run_of_concurrent_appends_is_cut_by_the_get_that_orders_them() -> None:
    """40 appends, five at a time, then one get that shows their order: a
    state that is not a prefix of what the get saw is a dead end even before
    the get is invoked, so the search does not try the 5!^8 orders."""
    rows: list[tuple[int, str, str, Any]] = []
    order: list[str] = []
    for batch in range(8):
        values = [f"<{batch}.{p}>" for p in range(5)]
        rows += [(p, "invoke", "append", ["k", v]) for p, v in enumerate(values)]
        rows += [(p, "ok", "append", ["k", v]) for p, v in reversed(list(enumerate(values)))]
        order += values[::-1] if batch % 2 else values
    rows += [(9, "invoke", "get", ["k", None]), (9, "ok", "get", ["k", "".join(order)])]
    calls = History([Op(i, 0, p, t, f, v) for i, (p, t, f, v) in enumerate(rows)]).calls(
        independent=True
    )
    result = plain_search(calls, get_model("kv"), max_configs=5000)
    assert result.valid is True, result.reason


def test_a_refuted_read_is_explained_by_calls_as_they_really_completed() -> None:
    """Found by hypothesis: the read of 7 is impossible, and the explanation's prefix (ops
    invoked before that read) counts the cas 4->2 still open there as crashed, so it may
    take effect in the prefix. It completed with its compare failed, so the witness must
    stop before it: write 4 alone, not write 4, cas 4->2, cas 2->5."""
    model = model_for("etcd-register")
    history = random_history(random.Random(49337), "etcd-register", 5, crash=8, values=tuple(range(8)))
    calls = history.calls(observed_failures=model.observed_failures)
    assert [model.describe_call(c) for c in calls][2] == "cas 4→2 (compare failed)"
    result = search(calls, model)  # the plain search and the one that refutes at once
    assert result.valid is False
