"""Combinators that place ops in time: delay, stagger, time_limit.

Times are nanoseconds on the generator's clock (``Context.time``). They set
the ``time`` of a template, which means "not before": the driver waits until
then. Pacing is over the whole wrapped generator, not per thread, so
``stagger(1/rate, gen)`` gives about ``rate`` ops per second in total.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.core.errors import ConfigError
from harness.core.protocols import Test
from harness.generator.context import PENDING, Context, next_float, seed_state
from harness.generator.core import op, update

NS = 1_000_000_000

#: How far behind its schedule a paced generator may fall and still catch up
#: (at least one gap): wake-ups on a busy machine are often a few ms late.
CATCH_UP_NS = 10_000_000


def to_ns(seconds: float, what: str) -> int:
    if seconds is None or seconds < 0:
        raise ConfigError(f"{what} needs a duration >= 0 seconds, got {seconds!r}")
    return int(round(seconds * NS))


def _at_least(template: dict, t: int) -> dict:
    if template["time"] >= t:
        return template
    moved = dict(template)
    moved["time"] = t
    return moved


def _base(scheduled: int | None, actual: int, slack: int) -> int:
    """Where the next gap starts: the schedule, unless we fell behind it by ``slack`` or more.

    A driver wakes a little late for every op; measuring gaps from the schedule
    keeps those small delays from adding up (so the rate holds), while a long
    stall (every thread busy) resets the schedule instead of bursting to catch up.
    """
    if scheduled is None or actual - scheduled >= slack:
        return actual
    return scheduled


@dataclass(frozen=True, slots=True)
class Delay:
    dt: int
    next_time: int | None
    gen: Any

    def op(self, test: Test | None, ctx: Context) -> tuple[Any, Any] | None:
        answer = op(self.gen, test, ctx)
        if answer is None:
            return None
        template, after = answer
        if template is PENDING:
            return PENDING, Delay(self.dt, self.next_time, after)
        if self.next_time is not None:
            template = _at_least(template, self.next_time)
        base = _base(self.next_time, template["time"], max(self.dt, CATCH_UP_NS))
        return template, Delay(self.dt, base + self.dt, after)

    def update(self, test: Test | None, ctx: Context, event: Any) -> Any:
        gen = update(self.gen, test, ctx, event)
        return self if gen is self.gen else Delay(self.dt, self.next_time, gen)


def delay(seconds: float, gen: Any) -> Delay:
    """Ops of ``gen`` ``seconds`` apart, on a schedule (small lateness does not add up)."""
    return Delay(to_ns(seconds, "delay"), None, gen)


@dataclass(frozen=True, slots=True)
class Stagger:
    span: int  # 2 x the mean gap
    next_time: int | None
    state: int | None
    gen: Any

    def op(self, test: Test | None, ctx: Context) -> tuple[Any, Any] | None:
        answer = op(self.gen, test, ctx)
        if answer is None:
            return None
        template, after = answer
        state = (
            self.state if self.state is not None else seed_state(ctx.rng_seed, "stagger", ctx.step)
        )
        if template is PENDING:
            return PENDING, Stagger(self.span, self.next_time, state, after)
        if self.next_time is not None:
            template = _at_least(template, self.next_time)
        base = _base(self.next_time, template["time"], max(self.span, CATCH_UP_NS))
        gap, state = next_float(state)
        return template, Stagger(self.span, base + int(gap * self.span), state, after)

    def update(self, test: Test | None, ctx: Context, event: Any) -> Any:
        gen = update(self.gen, test, ctx, event)
        return self if gen is self.gen else Stagger(self.span, self.next_time, self.state, gen)


def stagger(seconds: float, gen: Any) -> Stagger:
    """Ops of ``gen`` separated by random gaps uniform in [0, 2 x seconds) (seeded).

    The mean gap is ``seconds``, over all threads together: ``--rate 200`` is
    ``stagger(1 / 200, gen)``.
    """
    return Stagger(2 * to_ns(seconds, "stagger"), None, None, gen)


@dataclass(frozen=True, slots=True)
class TimeLimit:
    dt: int
    cutoff: int | None
    gen: Any

    def op(self, test: Test | None, ctx: Context) -> tuple[Any, Any] | None:
        cutoff = self.cutoff if self.cutoff is not None else ctx.time + self.dt
        if ctx.time >= cutoff:
            return None
        answer = op(self.gen, test, ctx)
        if answer is None:
            return None
        template, after = answer
        if template is PENDING:
            return PENDING, TimeLimit(self.dt, cutoff, after)
        if template["time"] >= cutoff:
            return None
        return template, TimeLimit(self.dt, cutoff, after)

    def update(self, test: Test | None, ctx: Context, event: Any) -> Any:
        gen = update(self.gen, test, ctx, event)
        return self if gen is self.gen else TimeLimit(self.dt, self.cutoff, gen)


def time_limit(seconds: float, gen: Any) -> TimeLimit:
    """Ops of ``gen`` until ``seconds`` after this generator is first asked for one."""
    return TimeLimit(to_ns(seconds, "time_limit"), None, gen)
