"""Each combinator's scheduling, checked with the thread-free simulator."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

import pytest

from harness.core.errors import ConfigError
from harness.generator import (
    PENDING,
    any_of,
    clients,
    cycle,
    delay,
    each_process,
    each_thread,
    flip_flop,
    limit,
    log,
    mix,
    nemesis,
    on_threads,
    once,
    op,
    phases,
    repeat,
    reserve,
    simulate,
    sleep,
    stagger,
    synchronize,
    time_limit,
    until_ok,
)

from .helpers import client_invokes, ctx, fs, invokes

MS = 1_000_000
READ = {"f": "read"}
WRITE = {"f": "write", "value": 1}


def completions_of(history, f=None):
    return [o for o in history if o.type != "invoke" and (f is None or o.f == f)]


# -- counting ---------------------------------------------------------------------


def test_limit_stops_after_n_ops():
    assert len(invokes(simulate(clients(limit(7, repeat(READ))), concurrency=3))) == 7


def test_limit_of_zero_is_exhausted_at_once():
    assert op(limit(0, repeat(READ)), None, ctx()) is None


def test_once_takes_only_the_first_op():
    assert fs(simulate(clients(once([{"f": "a"}, {"f": "b"}])), concurrency=2)) == ["a"]


def test_repeat_re_emits_the_first_op_without_advancing():
    assert fs(simulate(clients(repeat([{"f": "a"}, {"f": "b"}], 3)), concurrency=1)) == [
        "a",
        "a",
        "a",
    ]


def test_cycle_replays_a_finite_generator_n_times():
    assert (
        fs(simulate(clients(cycle([{"f": "a"}, {"f": "b"}], 3)), concurrency=1)) == ["a", "b"] * 3
    )


def test_cycle_of_an_empty_generator_is_exhausted_not_a_spin():
    assert op(cycle([]), None, ctx()) is None


def test_flip_flop_alternates_and_stops_when_either_is_exhausted():
    gen = flip_flop(repeat({"f": "start"}), [{"f": "stop"}, {"f": "stop"}])
    assert fs(simulate(nemesis(gen), concurrency=1)) == ["start", "stop", "start", "stop", "start"]


# -- randomness -------------------------------------------------------------------


def test_mix_proportions_are_roughly_uniform_with_a_fixed_seed():
    gen = clients(limit(3000, mix([repeat(READ), repeat(WRITE), repeat({"f": "cas"})])))
    counts = Counter(fs(simulate(gen, concurrency=4, seed=11)))
    assert set(counts) == {"read", "write", "cas"}
    for f in counts:
        assert 850 < counts[f] < 1150, counts


def test_mix_drops_exhausted_generators_and_ends_when_all_are():
    gen = clients(mix([[{"f": "a"}] * 5, [{"f": "b"}] * 3]))
    counts = Counter(fs(simulate(gen, concurrency=2, seed=3)))
    assert counts == {"a": 5, "b": 3}


# -- time -------------------------------------------------------------------------


def test_delay_spaces_ops_exactly():
    history = simulate(clients(limit(5, delay(0.01, repeat(READ)))), concurrency=3)
    times = [o.time for o in invokes(history)]
    assert [b - a for a, b in pairwise(times)] == [10 * MS] * 4


def test_stagger_gaps_stay_within_zero_to_twice_the_mean_and_average_near_it():
    history = simulate(clients(limit(400, stagger(0.01, repeat(READ)))), concurrency=8, seed=5)
    times = [o.time for o in invokes(history)]
    gaps = [b - a for a, b in pairwise(times)]
    assert all(0 <= g < 20 * MS for g in gaps)
    assert 8.5 * MS < sum(gaps) / len(gaps) < 11.5 * MS


def test_stagger_paces_over_all_threads_together_not_per_thread():
    history = simulate(
        clients(time_limit(1.0, stagger(0.01, repeat(READ)))), concurrency=10, seed=2
    )
    assert 80 <= len(invokes(history)) <= 120  # ~100 ops/s in total, not 1,000


def test_time_limit_emits_nothing_at_or_after_the_cutoff():
    history = simulate(clients(time_limit(0.05, delay(0.01, repeat(READ)))), concurrency=2)
    times = [o.time for o in invokes(history)]
    assert times == [0, 10 * MS, 20 * MS, 30 * MS, 40 * MS]


def test_time_limit_counts_from_its_first_op_not_from_time_zero():
    gen = clients([sleep(1.0), time_limit(0.02, delay(0.01, repeat(READ)))])
    times = [o.time for o in invokes(simulate(gen, concurrency=1))]
    assert times == [1000 * MS, 1010 * MS]


def test_time_limit_ends_while_its_generator_is_pending():
    # One client held by a long op: the limited generator is pending, then over.
    gen = clients(time_limit(0.01, repeat(READ)))
    history = simulate(gen, concurrency=1, latency_ns=50 * MS)
    assert len(invokes(history)) == 1


def test_durations_must_not_be_negative():
    with pytest.raises(ConfigError, match="stagger needs a duration"):
        stagger(-1, READ)


def test_sleep_holds_its_thread_and_is_not_recorded():
    history = simulate(clients([{"f": "a"}, sleep(2.0), {"f": "b"}]), concurrency=1)
    assert fs(history) == ["a", "b"]
    # a completes at 1 ms; the sleep holds the only client thread for 2 s.
    assert invokes(history)[1].time == 1 * MS + 2000 * MS


def test_log_is_not_recorded(caplog):
    with caplog.at_level("INFO", logger="seam.generator"):
        history = simulate(clients([log("hello"), {"f": "a"}]), concurrency=1)
    assert fs(history) == ["a"]
    assert "hello" in caplog.text


# -- phases and synchronization ---------------------------------------------------


def test_phases_waits_for_every_op_of_a_phase_to_complete():
    gen = clients(phases(limit(3, repeat({"f": "a"})), limit(2, repeat({"f": "b"}))))
    history = simulate(gen, concurrency=3, latency_ns=5 * MS)
    last_a_done = max(o.time for o in completions_of(history, "a"))
    first_b = min(o.time for o in invokes(history) if o.f == "b")
    assert first_b >= last_a_done
    assert fs(history) == ["a", "a", "a", "b", "b"]


def test_plain_sequences_do_not_wait_for_completions():
    gen = clients([limit(2, repeat({"f": "a"})), {"f": "b"}])
    history = simulate(gen, concurrency=3, latency_ns=5 * MS)
    assert [o.time for o in invokes(history)] == [0, 0, 0]


def test_synchronize_is_pending_until_all_threads_in_view_are_free():
    assert op(synchronize(READ), None, ctx(free=(0,)))[0] is PENDING
    assert op(synchronize(READ), None, ctx(free=(0, 1, "nemesis")))[0]["f"] == "read"


def test_phases_inside_clients_ignore_the_busy_nemesis():
    gen = any_of(nemesis([{"f": "start"}]), clients(phases({"f": "a"}, {"f": "b"})))
    history = simulate(
        gen,
        concurrency=1,
        latency_ns=MS,
        complete=lambda t: ("info", None, 100 * MS) if t["f"] == "start" else ("ok", None),
    )
    b = next(o for o in invokes(history) if o.f == "b")
    assert b.time < 100 * MS


def test_until_ok_retries_until_an_op_succeeds():
    outcomes = iter(["fail", "info", "fail", "ok", "ok"])
    results = {}

    def complete(template):
        key = (template["process"], template["time"])
        if key not in results:
            results[key] = next(outcomes)
        return results[key], None

    history = simulate(clients(until_ok(repeat({"f": "setup"}))), concurrency=1, complete=complete)
    assert [o.type for o in completions_of(history)] == ["fail", "info", "fail", "ok"]


# -- routing ----------------------------------------------------------------------


def test_clients_never_route_to_the_nemesis_and_nemesis_only_to_it():
    gen = nemesis(limit(3, repeat({"f": "kill"})), limit(20, repeat(READ)))
    history = simulate(gen, concurrency=2)
    assert {o.process for o in invokes(history) if o.f == "kill"} == {"nemesis"}
    assert "nemesis" not in {o.process for o in invokes(history) if o.f == "read"}
    assert len([o for o in invokes(history) if o.f == "read"]) == 20


def test_nemesis_completions_are_info_and_retire_nothing():
    history = simulate(nemesis(limit(3, repeat({"f": "kill"}))), concurrency=1)
    assert [o.type for o in history if o.type != "invoke"] == ["info"] * 3
    assert {o.process for o in history} == {"nemesis"}


def test_a_nemesis_slot_without_a_nemesis_thread_is_exhausted():
    workers = {0: 0}
    from harness.generator import make_context

    assert op(nemesis(repeat({"f": "kill"})), None, make_context(0, [0], workers)) is None


def test_on_threads_restricts_to_the_given_threads():
    history = simulate(on_threads({1, 2}, limit(30, repeat(READ))), concurrency=4)
    assert {o.process for o in invokes(history)} <= {1, 2}


def test_on_threads_ignores_events_of_other_threads():
    gen = any_of(
        on_threads({0}, until_ok(repeat({"f": "a"}))), on_threads({1}, limit(3, repeat({"f": "b"})))
    )
    history = simulate(
        gen,
        concurrency=2,
        complete=lambda t: ("fail", None) if t["f"] == "a" else ("ok", None),
        max_ops=20,
    )
    # b's ok completions must not stop a's until_ok.
    assert len([o for o in invokes(history) if o.f == "a"]) > 3


def test_any_of_takes_the_soonest_op():
    gen = clients(
        any_of(
            delay(0.01, limit(3, repeat({"f": "slow"}))),
            delay(0.004, limit(5, repeat({"f": "fast"}))),
        )
    )
    history = simulate(gen, concurrency=4)
    times = [o.time for o in invokes(history)]
    assert times == sorted(times)
    assert Counter(fs(history)) == {"slow": 3, "fast": 5}


def test_each_thread_gives_every_thread_its_own_copy():
    history = simulate(clients(each_thread([{"f": "a"}, {"f": "b"}])), concurrency=3)
    by_process = {p: [o.f for o in invokes(history) if o.process == p] for p in range(3)}
    assert by_process == {0: ["a", "b"], 1: ["a", "b"], 2: ["a", "b"]}


def test_each_process_starts_afresh_for_a_retired_process():
    def complete(template):
        return ("info" if template["process"] == 0 else "ok"), None

    history = simulate(
        clients(each_process([{"f": "a"}, {"f": "b"}])), concurrency=2, complete=complete
    )
    by_process = {}
    for o in invokes(history):
        by_process.setdefault(o.process, []).append(o.f)
    # 0 crashes on its first op; its thread continues as 2, which starts from "a" again.
    assert by_process[0] == ["a"] and by_process[1] == ["a", "b"] and by_process[2][0] == "a"


def test_each_thread_keeps_the_threads_copy_across_a_retirement():
    def complete(template):
        return ("info" if template["process"] == 0 else "ok"), None

    history = simulate(
        clients(each_thread([{"f": "a"}, {"f": "b"}])), concurrency=1, complete=complete
    )
    assert [(o.process, o.f) for o in invokes(history)] == [(0, "a"), (1, "b")]


def test_reserve_splits_client_threads():
    gen = reserve(2, repeat({"f": "read"}), 1, repeat({"f": "write"}), repeat({"f": "cas"}))
    history = simulate(limit(200, gen), concurrency=5)
    seen = {(o.f, o.process) for o in invokes(history)}
    assert {p for f, p in seen if f == "read"} <= {0, 1}
    assert {p for f, p in seen if f == "write"} == {2}
    assert {p for f, p in seen if f == "cas"} <= {3, 4}
    assert "nemesis" not in {p for _, p in seen}


def test_reserve_needs_count_generator_pairs_and_a_default():
    with pytest.raises(ConfigError, match="count, generator pairs"):
        reserve(2, READ)


def test_a_classic_fault_schedule():
    faults = cycle([sleep(0.1), {"f": "start-partition"}, sleep(0.1), {"f": "stop-partition"}])
    gen = time_limit(1.0, nemesis(faults, stagger(0.01, repeat(READ))))
    history = simulate(gen, concurrency=3, seed=1)
    nem = [o for o in invokes(history) if o.process == "nemesis"]
    # sleep 100 ms, start (1 ms), sleep, stop, ...: starts at 100, 302, 504, 706, 908 ms.
    assert [o.f for o in nem] == ["start-partition", "stop-partition"] * 4 + ["start-partition"]
    assert [o.time // MS for o in nem] == [100, 201, 302, 403, 504, 605, 706, 807, 908]
    assert len(client_invokes(history)) > 50
