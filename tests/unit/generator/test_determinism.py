"""Same seed and same configuration give the same op sequence; another seed, another one."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.generator import (
    clients,
    cycle,
    delay,
    each_process,
    each_thread,
    fn,
    limit,
    mix,
    nemesis,
    phases,
    repeat,
    simulate,
    sleep,
    stagger,
    time_limit,
)

from .helpers import invokes


def _random_value(test, ctx):
    rng = ctx.rng("value")
    return {"f": rng.choice(["read", "write", "cas"]), "value": rng.randrange(100)}


def workload(seed_free_config: int):
    """A realistic configuration: a fault schedule next to a staggered random mix."""
    faults = cycle([sleep(0.05), {"f": "start"}, sleep(0.05), {"f": "stop"}])
    ops = stagger(
        0.002, mix([repeat({"f": "read"}), fn(_random_value), repeat({"f": "write", "value": 1})])
    )
    return (
        time_limit(0.5, nemesis(faults, ops))
        if seed_free_config == 0
        else phases(
            clients(
                limit(
                    100, each_process(stagger(0.003, mix([repeat({"f": "a"}), repeat({"f": "b"})])))
                )
            ),
            clients(each_thread({"f": "final"})),
        )
    )


def _flaky(template):
    # A deterministic mix of outcomes, so retirement happens too.
    v = template.get("value")
    return ("info", v) if isinstance(v, int) and v % 7 == 0 else ("ok", v)


def fingerprint(history):
    return [(o.time, o.process, o.type, o.f, o.value) for o in history]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32), config=st.sampled_from([0, 1]), concurrency=st.integers(1, 12))
def test_same_seed_same_history(seed, config, concurrency):
    a = simulate(workload(config), concurrency=concurrency, seed=seed, complete=_flaky)
    b = simulate(workload(config), concurrency=concurrency, seed=seed, complete=_flaky)
    assert fingerprint(a) == fingerprint(b)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32))
def test_a_different_seed_gives_a_different_mix(seed):
    gen = clients(limit(60, mix([repeat({"f": "read"}), repeat({"f": "write"})])))
    a = [o.f for o in invokes(simulate(gen, concurrency=3, seed=seed))]
    b = [o.f for o in invokes(simulate(gen, concurrency=3, seed=seed + 1))]
    assert a != b  # 60 fair coin flips agree with probability 2**-60


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32))
def test_a_different_seed_gives_a_different_stagger(seed):
    gen = clients(limit(20, stagger(0.01, repeat({"f": "read"}))))
    a = [o.time for o in invokes(simulate(gen, concurrency=3, seed=seed))]
    b = [o.time for o in invokes(simulate(gen, concurrency=3, seed=seed + 1))]
    assert a != b


def test_the_op_sequence_does_not_depend_on_wall_time_or_global_random_state():
    import random

    gen = clients(limit(50, stagger(0.01, mix([repeat({"f": "read"}), fn(_random_value)]))))
    random.seed(1)
    a = simulate(gen, concurrency=4, seed=9)
    random.seed(2)
    b = simulate(gen, concurrency=4, seed=9)
    assert fingerprint(a) == fingerprint(b)


def test_each_process_copies_draw_different_streams():
    gen = clients(limit(200, each_process(mix([repeat({"f": "a"}), repeat({"f": "b"})]))))
    history = simulate(gen, concurrency=4, seed=3)
    per_process = {p: [o.f for o in invokes(history) if o.process == p] for p in range(4)}
    assert len({tuple(v) for v in per_process.values()}) > 1


def test_delay_is_the_same_for_every_seed():
    gen = clients(limit(10, delay(0.01, repeat({"f": "r"}))))
    assert fingerprint(simulate(gen, concurrency=2, seed=1)) == fingerprint(
        simulate(gen, concurrency=2, seed=2)
    )
