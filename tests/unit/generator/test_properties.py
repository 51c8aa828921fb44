"""Properties of any generator built from the combinators, checked on random trees."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.core.op import History
from harness.generator import (
    any_of,
    clients,
    cycle,
    delay,
    each_process,
    each_thread,
    flip_flop,
    limit,
    mix,
    nemesis,
    once,
    phases,
    repeat,
    simulate,
    sleep,
    stagger,
    time_limit,
    until_ok,
)

LEAVES = st.sampled_from(
    [
        {"f": "read"},
        {"f": "write", "value": 1},
        repeat({"f": "read"}, 3),
        [{"f": "a"}, {"f": "b"}],
        sleep(0.002),
        limit(4, repeat({"f": "cas", "value": [1, 2]})),
    ]
)


def _extend(children):
    small = st.floats(0.0, 0.003)
    return st.one_of(
        st.builds(lambda n, g: limit(n, g), st.integers(0, 6), children),
        st.builds(once, children),
        st.builds(lambda g: cycle(g, 2), children),
        st.builds(lambda gs: mix(gs), st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda d, g: stagger(d, g), small, children),
        st.builds(lambda d, g: delay(d, g), small, children),
        st.builds(lambda d, g: time_limit(d, g), st.floats(0.0, 0.05), children),
        st.builds(lambda gs: phases(*gs), st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda gs: any_of(*gs), st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda g: each_thread(limit(3, g)), children),
        st.builds(lambda g: each_process(limit(3, g)), children),
        st.builds(lambda a, b: flip_flop(a, b), children, children),
        st.builds(lambda g: until_ok(limit(5, g)), children),
        st.builds(lambda g: clients(g), children),
    )


TREES = st.recursive(LEAVES, _extend, max_leaves=6)


def _outcome(template):
    # Deterministic, mixed outcomes: some ops crash (info), some fail.
    h = sum(map(ord, str(template.get("f")))) + template["time"] // 1000
    return ("ok", "fail", "info")[h % 3], template.get("value")


@settings(max_examples=60, deadline=None)
@given(tree=TREES, faults=TREES, concurrency=st.integers(1, 4), seed=st.integers(0, 1000))
def test_any_tree_gives_a_well_formed_deterministic_history(tree, faults, concurrency, seed):
    gen = nemesis(limit(5, faults), limit(60, tree))
    history = simulate(gen, concurrency=concurrency, seed=seed, complete=_outcome, max_ops=400)
    checked = History(history)  # every completion pairs with an open invoke of its process
    assert not any(p.open for p in checked.pairs())  # and every invoke completes
    assert [o.index for o in history] == list(range(len(history)))
    assert [o.time for o in history] == sorted(o.time for o in history)
    crashed = set()
    for o in history:
        if o.process == "nemesis":
            continue
        assert o.process not in crashed, "a retired process invoked again"
        assert o.process % concurrency in range(concurrency)
        if o.type == "info":
            crashed.add(o.process)
    nemesis_fs = {o.f for o in history if o.process == "nemesis"}
    assert len([o for o in history if o.process == "nemesis" and o.type == "invoke"]) <= 5
    assert nemesis_fs <= {"read", "write", "a", "b", "cas"}
    again = simulate(gen, concurrency=concurrency, seed=seed, complete=_outcome, max_ops=400)
    assert [(o.time, o.process, o.type, o.f) for o in again] == [
        (o.time, o.process, o.type, o.f) for o in history
    ]
