"""Combinators that shape the flow of ops: how many, in what order, until when.

Each is a tiny frozen record with ``op`` and ``update`` plus a constructor
function; none keeps mutable state, so ``op`` may be asked again and again.
Time-based combinators live in ``timing``; thread routing in ``routing``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harness.core.protocols import Test
from harness.generator.context import PENDING, Context, next_below, seed_state
from harness.generator.core import Seq, op, update

log = logging.getLogger("seam.generator")


def _update_all(gens: tuple, test: Test | None, ctx: Context, event: Any) -> tuple:
    """Update every generator; returns the same tuple object when nothing changed."""
    changed = False
    out = []
    for g in gens:
        after = update(g, test, ctx, event)
        changed = changed or after is not g
        out.append(after)
    return tuple(out) if changed else gens


@dataclass(frozen=True, slots=True)
class Limit:
    remaining: int
    gen: Any

    def op(self, test: Test | None, ctx: Context) -> tuple[Any, Any] | None:
        if self.remaining <= 0:
            return None
        answer = op(self.gen, test, ctx)
        if answer is None:
            return None
        template, after = answer
        if template is PENDING:
            return PENDING, Limit(self.remaining, after)
        return template, Limit(self.remaining - 1, after)

    def update(self, test: Test | None, ctx: Context, event: Any) -> Any:
        gen = update(self.gen, test, ctx, event)
        return self if gen is self.gen else Limit(self.remaining, gen)


def limit(n: int, gen: Any) -> Limit:
    """At most ``n`` ops of ``gen``."""
    return Limit(int(n), gen)


def once(gen: Any) -> Limit:
    """Only the first op of ``gen``."""
    return Limit(1, gen)


@dataclass(frozen=True, slots=True)
class Repeat:
    remaining: int | None
    gen: Any

    def op(self, test: Test | None, ctx: Context) -> tuple[Any, Any] | None:
        if self.remaining == 0:
            return None
        answer = op(self.gen, test, ctx)
        if answer is None:
            return None
        template, _ = answer
        if template is PENDING:
            return PENDING, self
        left = None if self.remaining is None else self.remaining - 1
        return template, Repeat(left, self.gen)

    def update(self, test: Test | None, ctx: Context, event: Any) -> Any:
        gen = update(self.gen, test, ctx, event)
        return self if gen is self.gen else Repeat(self.remaining, gen)


def repeat(gen: Any, n: int | None = None) -> Repeat:
    """The first op of ``gen`` again and again (``n`` times, or forever), as Jepsen's repeat.

    ``gen`` itself never advances: ``repeat({"f": "read"})`` reads forever; to
    replay a whole sequence use ``cycle``.
    """
    return Repeat(n, gen)


@dataclass(frozen=True, slots=True)
class Cycle:
    remaining: int | None
    original: Any
    current: Any

    def op(self, test: Test | None, ctx: Context) -> tuple[Any, Any] | None:
        remaining, current = self.remaining, self.current
        restarted = False
        while True:
            answer = op(current, test, ctx)
            if answer is not None:
                template, after = answer
                return template, Cycle(remaining, self.original, after)
            if restarted or remaining == 1:
                return None  # a fresh copy that yields nothing would spin forever
            remaining = None if remaining is None else remaining - 1
            current, restarted = self.original, True

    def update(self, test: Test | None, ctx: Context, event: Any) -> Any:
        current = update(self.current, test, ctx, event)
        return self if current is self.current else Cycle(self.remaining, self.original, current)


def cycle(gen: Any, n: int | None = None) -> Cycle:
    """Run ``gen`` to exhaustion, then start it afresh: ``n`` times in all, or forever."""
    return Cycle(n, gen, gen)


@dataclass(frozen=True, slots=True)
class Mix:
    gens: tuple
    state: int | None = None

    def op(self, test: Test | None, ctx: Context) -> tuple[Any, Any] | None:
        gens = self.gens
        state = self.state if self.state is not None else seed_state(ctx.rng_seed, "mix", ctx.step)
        while gens:
            i, drawn = next_below(state, len(gens))
            answer = op(gens[i], test, ctx)
            if answer is None:
                gens = gens[:i] + gens[i + 1 :]
                state = drawn
                continue
            template, after = answer
            replaced = gens[:i] + (after,) + gens[i + 1 :]
            if template is PENDING:
                return PENDING, Mix(replaced, state)  # same choice when asked again
            return template, Mix(replaced, drawn)
        return None

    def update(self, test: Test | None, ctx: Context, event: Any) -> Any:
        gens = _update_all(self.gens, test, ctx, event)
        return self if gens is self.gens else Mix(gens, self.state)


def mix(gens: Sequence[Any]) -> Mix:
    """Each op from one of ``gens`` chosen uniformly at random (seeded); exhausted ones drop out."""
    return Mix(tuple(gens))


@dataclass(frozen=True, slots=True)
class FlipFlop:
    gens: tuple
    i: int = 0

    def op(self, test: Test | None, ctx: Context) -> tuple[Any, Any] | None:
        answer = op(self.gens[self.i], test, ctx)
        if answer is None:
            return None
        template, after = answer
        gens = self.gens[: self.i] + (after,) + self.gens[self.i + 1 :]
        if template is PENDING:
            return PENDING, FlipFlop(gens, self.i)
        return template, FlipFlop(gens, (self.i + 1) % len(gens))

    def update(self, test: Test | None, ctx: Context, event: Any) -> Any:
        gens = _update_all(self.gens, test, ctx, event)
        return self if gens is self.gens else FlipFlop(gens, self.i)


def flip_flop(a: Any, b: Any) -> FlipFlop:
    """An op from ``a``, then from ``b``, then ``a`` again...; stops when either is exhausted.

    The shape of a fault schedule: ``flip_flop(start_faults, stop_faults)``.
    """
    return FlipFlop((a, b))


@dataclass(frozen=True, slots=True)
class UntilOk:
    gen: Any
    done: bool = False
    mine: frozenset = frozenset()

    def op(self, test: Test | None, ctx: Context) -> tuple[Any, Any] | None:
        if self.done:
            return None
        answer = op(self.gen, test, ctx)
        if answer is None:
            return None
        template, after = answer
        if template is PENDING:
            return PENDING, UntilOk(after, False, self.mine)
        return template, UntilOk(after, False, self.mine | {template["process"]})

    def update(self, test: Test | None, ctx: Context, event: Any) -> Any:
        gen = update(self.gen, test, ctx, event)
        if event.process in self.mine and event.type != "invoke":
            if event.type == "ok":
                return UntilOk(gen, True, frozenset())
            return UntilOk(gen, self.done, self.mine - {event.process})
        return self if gen is self.gen else UntilOk(gen, self.done, self.mine)


def until_ok(gen: Any) -> UntilOk:
    """Ops of ``gen`` until one of them completes ``ok`` (a retry loop for a setup write)."""
    return UntilOk(gen)


@dataclass(frozen=True, slots=True)
class Synchronize:
    gen: Any
    ready: bool = False

    def op(self, test: Test | None, ctx: Context) -> tuple[Any, Any] | None:
        if not self.ready and not ctx.all_free():
            return PENDING, self
        answer = op(self.gen, test, ctx)
        if answer is None:
            return None
        template, after = answer
        return template, Synchronize(after, True)

    def update(self, test: Test | None, ctx: Context, event: Any) -> Any:
        gen = update(self.gen, test, ctx, event)
        return self if gen is self.gen else Synchronize(gen, self.ready)


def synchronize(gen: Any) -> Synchronize:
    """Starts ``gen`` only once every thread in view is free (all earlier ops completed)."""
    return Synchronize(gen)


def phases(*gens: Any) -> Seq:
    """Each generator in turn; the next starts when the last is exhausted AND its ops completed."""
    return Seq(tuple(Synchronize(g) for g in gens))


def then(*gens: Any) -> Seq:
    """Each generator in turn, without waiting for completions (a plain sequence)."""
    return Seq(tuple(gens))


def sleep(seconds: float) -> dict:
    """One special op: its thread does nothing for ``seconds``. Not recorded in the history."""
    return {"type": "sleep", "f": "sleep", "value": float(seconds)}


def log_op(message: str) -> dict:
    """One special op: the driver logs ``message`` (to ``seam.generator``). Not recorded."""
    return {"type": "log", "f": "log", "value": str(message)}
