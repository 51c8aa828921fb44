"""The thread-free simulator: virtual time, outcomes, retirement, well-formed histories."""

from __future__ import annotations

import pytest

from harness.core.op import History
from harness.generator import (
    GeneratorError,
    clients,
    limit,
    nemesis,
    phases,
    repeat,
    simulate,
    synchronize,
)

from .helpers import invokes

MS = 1_000_000


def test_each_op_completes_latency_ns_later_with_the_default_ok():
    history = simulate(
        clients(limit(2, repeat({"f": "w", "value": 3}))), concurrency=1, latency_ns=7 * MS
    )
    assert [(o.type, o.time, o.value) for o in history] == [
        ("invoke", 0, 3),
        ("ok", 7 * MS, 3),
        ("invoke", 7 * MS, 3),
        ("ok", 14 * MS, 3),
    ]
    assert [o.index for o in history] == [0, 1, 2, 3]


def test_complete_decides_type_value_and_optionally_latency():
    def complete(template):
        return ("ok", 42, 3 * MS) if template["f"] == "read" else ("fail", None)

    history = simulate(clients([{"f": "read"}, {"f": "write"}]), concurrency=1, complete=complete)
    assert [(o.f, o.type, o.value, o.time) for o in history] == [
        ("read", "invoke", None, 0),
        ("read", "ok", 42, 3 * MS),
        ("write", "invoke", None, 3 * MS),
        ("write", "fail", None, 4 * MS),
    ]


def test_complete_must_answer_a_completion_type():
    with pytest.raises(GeneratorError, match="use ok, fail or info"):
        simulate(clients({"f": "x"}), concurrency=1, complete=lambda t: ("done", None))


def test_info_retires_the_process_and_its_thread_continues_as_process_plus_concurrency():
    def complete(template):
        return ("info" if template["process"] in (1, 4) else "ok"), None

    history = simulate(clients(limit(12, repeat({"f": "r"}))), concurrency=3, complete=complete)
    processes = [o.process for o in invokes(history)]
    # Thread 1 runs 1, then 4 (after 1 crashed), then 7 (after 4 crashed).
    assert 1 in processes and 4 in processes and 7 in processes
    assert processes.count(1) == 1 and processes.count(4) == 1
    History(history)  # every invoke completes once; retired processes never invoke again
    retired = {1, 4}
    for i, o in enumerate(history):
        if o.type == "info":
            assert all(later.process != o.process for later in history[i + 1 :])
    assert retired <= {o.process for o in history if o.type == "info"}


def test_extra_template_fields_are_kept_on_invoke_and_completion():
    history = simulate(clients({"f": "r", "key": "k1"}), concurrency=1)
    assert [o.extra for o in history] == [{"key": "k1"}, {"key": "k1"}]


def test_max_ops_bounds_an_endless_generator_and_completes_what_is_in_flight():
    history = simulate(clients(repeat({"f": "r"})), concurrency=4, max_ops=10)
    assert len(invokes(history)) == 10
    History(history)
    assert sum(1 for o in history if o.type == "ok") == 10


def test_a_generator_that_can_never_progress_is_reported():
    # A template for a process that does not exist waits forever: a real deadlock.
    with pytest.raises(GeneratorError, match="PENDING with no op in flight"):
        simulate({"f": "r", "process": 99}, concurrency=1)


def test_synchronize_with_nothing_in_flight_is_not_a_deadlock():
    history = simulate(clients(synchronize({"f": "r"})), concurrency=2)
    assert len(history) == 2


def test_simulated_histories_validate_with_nemesis_and_phases():
    gen = phases(
        nemesis(limit(4, repeat({"f": "kill"})), limit(50, repeat({"f": "r"}))),
        clients(limit(5, repeat({"f": "final-read"}))),
    )
    history = simulate(
        gen, concurrency=5, complete=lambda t: ("info" if t["f"] == "kill" else "ok", None)
    )
    checked = History(history)
    assert len(checked.nemesis_ops) == 8
    assert len(checked.pairs()) == 55
    assert not any(p.open for p in checked.pairs())
    assert [o.index for o in history] == list(range(len(history)))
    assert [o.time for o in history] == sorted(o.time for o in history)


def test_concurrency_must_be_positive():
    with pytest.raises(GeneratorError, match="concurrency >= 1"):
        simulate({"f": "r"}, concurrency=0)
