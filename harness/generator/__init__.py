"""Seeded, pure generators of ops (Jepsen's model) and a thread-free simulator.

Quick reference::

    gen = nemesis(
        cycle([sleep(5), {"f": "start-partition"}, sleep(5), {"f": "stop-partition"}]),
        stagger(1 / rate, mix([reads, writes, cas])),
    )
    gen = time_limit(30, gen)
    history = simulate(gen, test, concurrency=5, seed=1)

See ``core`` for what counts as a generator, ``context`` for what one may
know, and ``harness.interpreter.run_generator`` for running one for real.
"""

from harness.generator.combinators import (
    Cycle,
    FlipFlop,
    Limit,
    Mix,
    Repeat,
    Synchronize,
    UntilOk,
    cycle,
    flip_flop,
    limit,
    mix,
    once,
    phases,
    repeat,
    sleep,
    synchronize,
    then,
    until_ok,
)
from harness.generator.combinators import log_op as log
from harness.generator.context import NEMESIS, PENDING, Context, make_context
from harness.generator.core import Fn, GeneratorError, Seq, fn, op, update
from harness.generator.routing import (
    AnyOf,
    EachThread,
    OnThreads,
    any_of,
    clients,
    each_process,
    each_thread,
    nemesis,
    on_threads,
    reserve,
)
from harness.generator.simulate import default_complete, invoke_op, simulate
from harness.generator.timing import Delay, Stagger, TimeLimit, delay, stagger, time_limit

__all__ = [
    "NEMESIS",
    "PENDING",
    "AnyOf",
    "Context",
    "Cycle",
    "Delay",
    "EachThread",
    "FlipFlop",
    "Fn",
    "GeneratorError",
    "Limit",
    "Mix",
    "OnThreads",
    "Repeat",
    "Seq",
    "Stagger",
    "Synchronize",
    "TimeLimit",
    "UntilOk",
    "any_of",
    "clients",
    "cycle",
    "default_complete",
    "delay",
    "each_process",
    "each_thread",
    "flip_flop",
    "fn",
    "invoke_op",
    "limit",
    "log",
    "make_context",
    "mix",
    "nemesis",
    "on_threads",
    "once",
    "op",
    "phases",
    "repeat",
    "reserve",
    "simulate",
    "sleep",
    "stagger",
    "synchronize",
    "then",
    "time_limit",
    "until_ok",
    "update",
]
