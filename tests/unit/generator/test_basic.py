"""What counts as a generator, and how templates become ops."""

from __future__ import annotations

import pytest

from harness.generator import (
    PENDING,
    GeneratorError,
    clients,
    fn,
    limit,
    op,
    repeat,
    simulate,
    update,
)
from harness.generator.core import Seq

from .helpers import ctx, fs, invokes


def test_none_is_exhausted():
    assert op(None, None, ctx()) is None
    assert update(None, None, ctx(), object()) is None


def test_a_template_is_one_op_filled_in_with_the_lowest_free_client_process():
    template, after = op({"f": "read"}, None, ctx(time=7, free=(1, "nemesis", 0)))
    assert template == {"f": "read", "process": 0, "time": 7, "type": "invoke"}
    assert after is None


def test_a_template_goes_to_the_nemesis_only_when_no_client_is_free():
    template, _ = op({"f": "x"}, None, ctx(free=("nemesis",)))
    assert template["process"] == "nemesis"


def test_a_template_is_pending_when_no_thread_is_free_and_keeps_itself():
    gen = {"f": "read"}
    assert op(gen, None, ctx(free=())) == (PENDING, gen)


def test_a_template_naming_a_busy_process_waits_for_it():
    gen = {"f": "read", "process": 1}
    assert op(gen, None, ctx(free=(0,)))[0] is PENDING
    assert op(gen, None, ctx(free=(1,)))[0]["process"] == 1


def test_a_template_keeps_its_own_time_and_extra_fields():
    template, _ = op({"f": "w", "time": 99, "key": "k"}, None, ctx(time=5))
    assert template["time"] == 99 and template["key"] == "k"


def test_asking_twice_gives_the_same_answer_and_mutates_nothing():
    gen = [{"f": "a"}, {"f": "b"}]
    first = op(gen, None, ctx())
    second = op(gen, None, ctx())
    assert first == second
    assert gen == [{"f": "a"}, {"f": "b"}]


def test_a_list_yields_each_element_in_order():
    assert fs(simulate([{"f": "a"}, {"f": "b"}, [{"f": "c"}, {"f": "d"}]], concurrency=1)) == [
        "a",
        "b",
        "c",
        "d",
    ]


def test_an_empty_list_is_exhausted():
    assert op([], None, ctx()) is None
    assert simulate([], concurrency=1) == []


def test_a_function_is_called_until_it_returns_none():
    def numbers(test, ctx):
        return {"f": "n", "value": ctx.step} if ctx.step < 10 else None

    # One client, so each op waits for the last (step: one per invoke and completion).
    history = simulate(clients(numbers), concurrency=1)
    assert [o.value for o in invokes(history)] == [0, 2, 4, 6, 8]


def test_a_bare_template_also_goes_to_the_free_nemesis_thread_as_in_jepsen():
    history = simulate(limit(2, repeat({"f": "r"})), concurrency=1)
    assert [o.process for o in invokes(history)] == [0, "nemesis"]


def test_fn_accepts_a_function_of_no_arguments():
    gen = limit(3, fn(lambda: {"f": "n"}))
    assert fs(simulate(gen, concurrency=1)) == ["n", "n", "n"]


def test_a_function_may_return_a_sequence_which_runs_before_it_is_called_again():
    def pairs(test, ctx):
        return [{"f": "a"}, {"f": "b"}] if ctx.step < 8 else None

    assert fs(simulate(clients(pairs), concurrency=1)) == ["a", "b", "a", "b"]


def test_a_function_may_be_asked_several_times_for_one_op_so_it_must_be_pure():
    asked = []

    def spy(test, ctx):
        asked.append(ctx.step)
        return {"f": "x"}

    simulate(clients(limit(3, spy)), concurrency=1, latency_ns=10)
    assert len(asked) > 3  # a completion due first makes the driver ask again


def test_something_that_is_not_a_generator_is_refused_with_the_fix():
    with pytest.raises(GeneratorError, match="not a generator.*dict template"):
        op(42, None, ctx())
    with pytest.raises(ValueError):  # GeneratorError is also a ValueError
        simulate(iter([{"f": "a"}]), concurrency=1)


def test_a_sequence_updates_only_its_current_element():
    seen = []

    class Spy:
        def op(self, test, ctx):
            return {"f": "spy", "process": 0, "time": 0, "type": "invoke"}, self

        def update(self, test, ctx, event):
            seen.append(event)
            return self

    seq = Seq((Spy(), {"f": "later"}))
    assert seq.update(None, ctx(), "e1") is seq
    assert seen == ["e1"]
