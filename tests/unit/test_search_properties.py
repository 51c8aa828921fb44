"""Property tests for the linearizability search.

Two independent checks:

* histories produced by *simulating* a linearizable register (every op takes
  effect atomically at one instant between its invoke and completion;
  crashed ops may take effect or not; failed ops do not) must be found
  linearizable, with a linearization that really is one;
* on small random histories (linearizable or not) the search must agree with
  a brute-force checker written here from the definition alone: try every
  order that respects real time, with any subset of the crashed ops.

Histories are drawn from a seed so a failure names the seed to replay.
"""

from __future__ import annotations

import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import checkers.linearizable.search as search_module
from checkers.linearizable.models import get_model
from harness.core.op import UNKNOWN, Call, History, Op

SEEDS = st.integers(min_value=0, max_value=2**32 - 1)


def search(calls: list[Call], model: Any) -> Any:
    """The search twice: as configured, and with the hopeless-read pruning (and
    the impossible-read refutation) set up at the first dead end instead of
    after many, so small histories exercise it too. Both must agree."""
    plain = search_module.search(calls, model)
    saved = search_module._HOPELESS_AFTER, search_module._HOPELESS_PER_CALLS
    search_module._HOPELESS_AFTER, search_module._HOPELESS_PER_CALLS = 1, 1 << 30
    try:
        eager = search_module.search(calls, model)
    finally:
        search_module._HOPELESS_AFTER, search_module._HOPELESS_PER_CALLS = saved
    assert eager.valid is plain.valid, f"eager pruning says {eager.valid}, plain {plain.valid}"
    if plain.valid is False:
        assert_is_linearization(calls, model, eager.linearization, complete=False)
        assert eager.stuck and eager.states
    return plain


VALUES = (0, 1, 2)


# --------------------------------------------------------------------------- brute force


def brute_force(calls: list[Call], model: Any) -> bool:
    """Linearizable by definition: some order of all completed calls plus any
    subset of crashed ones, respecting real time, that the model accepts.

    Plain recursion over (placed calls, state), memoized on exactly that pair
    (the rest of the search depends on nothing else): none of the search's
    reductions (crashed classes, dominance, greedy or hopeless reads).
    """
    done = [c for c in calls if not c.crashed]
    all_done = frozenset(c.id for c in done)
    must_precede = {c.id: frozenset(a.id for a in done if a.ret < c.call) for c in calls}
    failed: set[tuple[frozenset[int], Any]] = set()

    def go(placed: frozenset[int], state: Any) -> bool:
        if all_done <= placed:
            return True
        if (placed, state) in failed:
            return False
        for c in calls:
            if c.id in placed or not must_precede[c.id] <= placed:
                continue
            ok, nxt = model.step(state, c)
            if ok and go(placed | {c.id}, nxt):
                return True
        failed.add((placed, state))
        return False

    return go(frozenset(), model.init())


def assert_is_linearization(
    calls: list[Call], model: Any, order: list[int], *, complete: bool
) -> None:
    """``order`` is legal, respects real time, and (if complete) covers every completed call."""
    by_id = {c.id: c for c in calls}
    assert len(set(order)) == len(order)
    seen: set[int] = set()
    state = model.init()
    for i in order:
        c = by_id[i]
        for a in calls:
            if not a.crashed and a.ret < c.call:
                assert a.id in seen, (
                    f"call {i} placed before call {a.id}, which returned before it began"
                )
        ok, state = model.step(state, c)
        assert ok, f"call {i} ({model.describe_call(c)}) is illegal where the linearization puts it"
        seen.add(i)
    if complete:
        assert all(c.id in seen for c in calls if not c.crashed)


# --------------------------------------------------------------------------- random histories


def random_history(
    rng: random.Random, model_name: str, max_ops: int, crash: int = 1, values: tuple = VALUES
) -> History:
    """Any interleaving of ops with arbitrary results: often not linearizable."""
    ops: list[Op] = []
    open_op: dict[int, Op] = {}
    next_process = 3
    live = [0, 1, 2]
    invoked = 0
    while invoked < max_ops or open_op:
        p = rng.choice(live)
        if p in open_op:
            inv = open_op.pop(p)
            kind = rng.choices(["ok", "fail", "info"], [8, 1, crash])[0]
            if kind == "info":
                live[live.index(p)] = next_process
                next_process += 1
                if rng.random() < 0.5:
                    continue  # never completed at all
            value = inv.value
            if inv.f == "read":
                value = rng.choice((*values, None))
            ops.append(Op(len(ops), 0, p, kind, inv.f, value))
        elif invoked < max_ops:
            f = rng.choice(
                ["read", "write", "cas"] if model_name != "register" else ["read", "write"]
            )
            value = {
                "read": None,
                "write": rng.choice(values),
                "cas": [rng.choice(values), rng.choice(values)],
            }[f]
            op = Op(len(ops), 0, p, "invoke", f, value)
            ops.append(op)
            open_op[p] = op
            invoked += 1
    return History(ops)


def simulated_history(rng: random.Random, model_name: str, n_ops: int, n_procs: int) -> History:
    """A history of a real linearizable register: each op takes effect at one
    instant between its invoke and its completion (crashed ops: maybe never)."""
    initial = 0 if model_name == "cas-register" else None
    value = initial
    ops: list[Op] = []
    # per process: (invoke op, phase) where phase is "pending" or ("applied", type, value)
    running: dict[int, tuple[Op, Any]] = {}
    procs = list(range(n_procs))
    next_process = n_procs
    invoked = 0
    fs = ["read", "write"] if model_name == "register" else ["read", "write", "cas"]
    while invoked < n_ops or running:
        p = rng.choice(procs)
        if p not in running:
            if invoked >= n_ops:
                if not running:
                    break
                continue
            f = rng.choice(fs)
            v = {
                "read": None,
                "write": rng.choice(VALUES),
                "cas": [rng.choice(VALUES), rng.choice(VALUES)],
            }[f]
            op = Op(len(ops), 0, p, "invoke", f, v)
            ops.append(op)
            running[p] = (op, "pending")
            invoked += 1
            continue
        inv, phase = running[p]
        if phase == "pending":
            r = rng.random()
            if r < 0.05:  # crashes before taking effect
                _crash(rng, ops, running, procs, p, inv)
                procs[procs.index(p)] = next_process
                next_process += 1
                continue
            if r < 0.1 and inv.f == "write" and model_name != "etcd-register":
                running[p] = (inv, ("fail", inv.value))  # refused: never takes effect
                continue
            # take effect now, atomically
            if inv.f == "read":
                result = ("ok", value)
            elif inv.f == "write":
                value = inv.value
                result = ("ok", inv.value)
            else:
                old, new = inv.value
                if value == old:
                    value = new
                    result = ("ok", inv.value)
                else:
                    result = ("fail", inv.value)
            running[p] = (inv, result)
            continue
        typ, out = phase
        if rng.random() < 0.05:  # took effect, but nobody hears about it
            _crash(rng, ops, running, procs, p, inv)
            procs[procs.index(p)] = next_process
            next_process += 1
            continue
        ops.append(Op(len(ops), 0, p, typ, inv.f, out))
        del running[p]
    return History(ops)


def _crash(
    rng: random.Random, ops: list[Op], running: dict, procs: list[int], p: int, inv: Op
) -> None:
    del running[p]
    if rng.random() < 0.7:
        ops.append(Op(len(ops), 0, p, "info", inv.f, inv.value))


def model_for(name: str) -> Any:
    return get_model(name, 0) if name == "cas-register" else get_model(name)


# --------------------------------------------------------------------------- properties

MODEL_NAMES = st.sampled_from(["register", "cas-register", "etcd-register"])


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=SEEDS, name=MODEL_NAMES, n_ops=st.integers(1, 120), n_procs=st.integers(1, 8))
def test_simulated_histories_are_linearizable(
    seed: int, name: str, n_ops: int, n_procs: int
) -> None:
    model = model_for(name)
    history = simulated_history(random.Random(seed), name, n_ops, n_procs)
    calls = history.calls(observed_failures=model.observed_failures)
    result = search(calls, model)
    assert result.valid is True, f"seed={seed} {name}: {result}"
    assert_is_linearization(calls, model, result.linearization, complete=True)


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=SEEDS, name=MODEL_NAMES, n_ops=st.integers(1, 7))
def test_search_agrees_with_brute_force(seed: int, name: str, n_ops: int) -> None:
    model = model_for(name)
    history = random_history(random.Random(seed), name, n_ops)
    calls = history.calls(observed_failures=model.observed_failures)
    expected = brute_force(calls, model)
    result = search(calls, model)
    assert result.valid is expected, (
        f"seed={seed} {name}: search says {result.valid}, brute force {expected}"
    )
    if expected:
        assert_is_linearization(calls, model, result.linearization, complete=True)
    else:
        assert_is_linearization(calls, model, result.linearization, complete=False)
        assert result.stuck, "an invalid result names the calls that could not be linearized"
        blamed = next(c for c in calls if c.id == result.stuck[0])
        assert not blamed.crashed
        assert result.states


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=SEEDS, name=MODEL_NAMES, n_ops=st.integers(6, 12))
def test_search_agrees_with_brute_force_on_many_crashes(seed: int, name: str, n_ops: int) -> None:
    """Up to 12 ops, a third of them crashed, two values: many identical crashed
    calls, which exercises the crashed classes and the dominance cache."""
    model = model_for(name)
    history = random_history(random.Random(seed), name, n_ops, crash=5, values=(0, 1))
    calls = history.calls(observed_failures=model.observed_failures)
    expected = brute_force(calls, model)
    result = search(calls, model)
    assert result.valid is expected, f"seed={seed} {name}: search says {result.valid}"
    assert_is_linearization(calls, model, result.linearization, complete=expected)


@settings(max_examples=500, deadline=None)
@given(seed=SEEDS, n_ops=st.integers(1, 7))
def test_mutex_agrees_with_brute_force(seed: int, n_ops: int) -> None:
    rng = random.Random(seed)
    ops: list[Op] = []
    open_op: dict[int, Op] = {}
    live, fresh, invoked = [0, 1, 2], 3, 0
    while invoked < n_ops or open_op:
        p = rng.choice(live)
        if p in open_op:
            inv = open_op.pop(p)
            typ = rng.choices(["ok", "fail", "info"], [6, 1, 2])[0]
            if typ == "info":
                live[live.index(p)], fresh = fresh, fresh + 1
            ops.append(Op(len(ops), 0, p, typ, inv.f, None))
        elif invoked < n_ops:
            op = Op(len(ops), 0, p, "invoke", rng.choice(["acquire", "release"]), None)
            ops.append(op)
            open_op[p] = op
            invoked += 1
    model = get_model("mutex")
    calls = History(ops).calls()
    assert search(calls, model).valid is brute_force(calls, model), f"seed={seed}"


def test_brute_force_sees_crashed_write_take_effect() -> None:
    """The reference itself: a crashed write can explain a later read, or be left out."""
    model = get_model("register")
    w = Call(0, 0, "write", 1, UNKNOWN, 0, 1 << 62, 0, None)
    r1 = Call(1, 1, "read", None, 1, 1, 2, 1, 2)
    r0 = Call(2, 1, "read", None, None, 3, 4, 3, 4)
    assert brute_force([w, r1], model) is True
    assert brute_force([w, r0], model) is True
    assert brute_force([w, r1, r0], model) is False


def random_kv_history(rng: random.Random, max_ops: int) -> History:
    """One key of Porcupine's kv map, with gets whose results are often impossible."""
    ops: list[Op] = []
    open_op: dict[int, Op] = {}
    live, fresh, invoked = [0, 1, 2], 3, 0
    while invoked < max_ops or open_op:
        p = rng.choice(live)
        if p in open_op:
            inv = open_op.pop(p)
            typ = rng.choices(["ok", "info"], [8, 1])[0]
            if typ == "info":
                live[live.index(p)], fresh = fresh, fresh + 1
            value = inv.value
            if inv.f == "get" and typ == "ok":
                value = ["k", rng.choice(["", "a", "b", "ab", "ba", "aa", "bab"])]
            ops.append(Op(len(ops), 0, p, typ, inv.f, value))
        elif invoked < max_ops:
            f = rng.choices(["get", "put", "append"], [2, 1, 3])[0]
            op = Op(len(ops), 0, p, "invoke", f, ["k", None if f == "get" else rng.choice("ab")])
            ops.append(op)
            open_op[p] = op
            invoked += 1
    return History(ops)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=SEEDS, n_ops=st.integers(1, 7))
def test_kv_agrees_with_brute_force(seed: int, n_ops: int) -> None:
    model = get_model("kv")
    calls = random_kv_history(random.Random(seed), n_ops).calls(independent=True)
    expected = brute_force(calls, model)
    result = search(calls, model)
    assert result.valid is expected, (
        f"seed={seed}: search says {result.valid}, brute force {expected}"
    )
    assert_is_linearization(calls, model, result.linearization, complete=expected)
