"""Combinators that route ops to threads: clients, nemesis, on_threads, any_of, each_*.

A routed generator sees a restricted context (only its threads), so a
template inside ``clients(...)`` is never given to the nemesis and
``phases`` inside ``clients`` waits for client ops alone. It is updated only
with events from its own threads.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from harness.core.errors import ConfigError
from harness.core.protocols import Test
from harness.generator.context import NEMESIS, PENDING, Context
from harness.generator.core import op, update


@dataclass(frozen=True, slots=True)
class ThreadSet:
    """A hashable predicate over threads, so ``Context.restrict`` can cache its view."""

    kind: str  # "clients" | "nemesis" | "set" | "from"
    members: frozenset = frozenset()
    start: int = 0

    def __call__(self, thread: Any) -> bool:
        if self.kind == "clients":
            return thread != NEMESIS
        if self.kind == "nemesis":
            return thread == NEMESIS
        if self.kind == "from":
            return thread != NEMESIS and thread >= self.start
        return thread in self.members


CLIENTS = ThreadSet("clients")
NEMESIS_ONLY = ThreadSet("nemesis")


@dataclass(frozen=True, slots=True)
class OnThreads:
    allowed: Callable[[Any], bool]
    gen: Any

    def op(self, test: Test | None, ctx: Context) -> tuple[Any, Any] | None:
        view = ctx.restrict(self.allowed)
        if not view.workers:
            return None  # no such thread in this run (a nemesis slot without a nemesis)
        answer = op(self.gen, test, view)
        if answer is None:
            return None
        template, after = answer
        return template, OnThreads(self.allowed, after)

    def update(self, test: Test | None, ctx: Context, event: Any) -> Any:
        thread = ctx.thread_of(event.process)
        if thread is None or not self.allowed(thread):
            return self
        gen = update(self.gen, test, ctx.restrict(self.allowed), event)
        return self if gen is self.gen else OnThreads(self.allowed, gen)


def on_threads(threads: Callable[[Any], bool] | Collection[Any], gen: Any) -> OnThreads:
    """``gen`` restricted to ``threads``: a predicate over threads or a collection of them."""
    allowed = threads if callable(threads) else ThreadSet("set", frozenset(threads))
    return OnThreads(allowed, gen)


def clients(gen: Any) -> OnThreads:
    """``gen`` on client threads only (never the nemesis)."""
    return OnThreads(CLIENTS, gen)


def nemesis(gen: Any, clients_gen: Any = None) -> Any:
    """A nemesis schedule slot: ``gen`` on the ``"nemesis"`` thread only.

    With ``clients_gen``, both run side by side (Jepsen's two-argument form):
    ``nemesis(fault_schedule, workload)``.
    """
    slot = OnThreads(NEMESIS_ONLY, gen)
    return slot if clients_gen is None else AnyOf((slot, clients(clients_gen)))


@dataclass(frozen=True, slots=True)
class AnyOf:
    gens: tuple

    def op(self, test: Test | None, ctx: Context) -> tuple[Any, Any] | None:
        soonest = None  # (template, index, after)
        kept: list = []
        pending = False
        for g in self.gens:
            answer = op(g, test, ctx)
            if answer is None:
                continue  # exhausted: dropped
            template, after = answer
            if template is PENDING:
                pending = True
                kept.append(after)
                continue
            if soonest is None or template["time"] < soonest[0]["time"]:
                soonest = (template, len(kept), after)
            kept.append(g)  # not chosen: ask again later, from where it was
        if soonest is None:
            return (PENDING, AnyOf(tuple(g for g in kept if g is not None))) if pending else None
        template, index, after = soonest
        kept[index] = after
        return template, AnyOf(tuple(g for g in kept if g is not None))

    def update(self, test: Test | None, ctx: Context, event: Any) -> Any:
        changed = False
        out = []
        for g in self.gens:
            after = update(g, test, ctx, event)
            changed = changed or after is not g
            out.append(after)
        return AnyOf(tuple(out)) if changed else self


def any_of(*gens: Any) -> AnyOf:
    """All generators at once: each op is the soonest any of them offers; updates go to all."""
    return AnyOf(tuple(gens))


_EXHAUSTED: Any = object()


@dataclass(frozen=True, slots=True)
class EachThread:
    fresh: Any
    gens: tuple  # ((key, gen | _EXHAUSTED), ...): a thread's or process's own copy
    by_process: bool

    def _key(self, ctx: Context, thread: Any) -> Any:
        return ctx.workers[thread] if self.by_process else thread

    def op(self, test: Test | None, ctx: Context) -> tuple[Any, Any] | None:
        gens = dict(self.gens)
        soonest = None  # (template, key, after)
        for thread in ctx.sorted_free_threads():
            key = self._key(ctx, thread)
            gen = gens.get(key, self.fresh)
            if gen is _EXHAUSTED:
                continue
            answer = op(gen, test, ctx.only(thread))
            if answer is None:
                gens[key] = _EXHAUSTED
                continue
            template, after = answer
            if template is PENDING:
                continue
            if soonest is None or template["time"] < soonest[0]["time"]:
                soonest = (template, key, after)
        if soonest is not None:
            template, key, after = soonest
            gens[key] = _EXHAUSTED if after is None else after
            return template, EachThread(self.fresh, _freeze(gens), self.by_process)
        if all(gens.get(self._key(ctx, t)) is _EXHAUSTED for t in ctx.workers):
            return None
        return PENDING, EachThread(self.fresh, _freeze(gens), self.by_process)

    def update(self, test: Test | None, ctx: Context, event: Any) -> Any:
        thread = ctx.thread_of(event.process)
        if thread is None:
            return self
        key = event.process if self.by_process else thread
        gens = dict(self.gens)
        gen = gens.get(key)
        if gen is None or gen is _EXHAUSTED:
            return self
        after = update(gen, test, ctx.only(thread), event)
        if after is gen:
            return self
        gens[key] = after
        return EachThread(self.fresh, _freeze(gens), self.by_process)


def _freeze(gens: dict) -> tuple:
    return tuple(gens.items())


def each_thread(gen: Any) -> EachThread:
    """An independent copy of ``gen`` for every thread, each seeing only its own thread."""
    return EachThread(gen, (), False)


def each_process(gen: Any) -> EachThread:
    """An independent copy of ``gen`` for every process: a retired process's replacement starts afresh."""
    return EachThread(gen, (), True)


def reserve(*args: Any) -> AnyOf:
    """``reserve(5, reads, 10, writes, default)``: client threads 0-4 run ``reads``, 5-14
    ``writes``, the rest ``default`` (Jepsen's reserve). Wrap in nothing: it routes to
    client threads itself."""
    if len(args) % 2 != 1:
        raise ConfigError(
            "reserve takes count, generator pairs and then one default generator, "
            f"e.g. reserve(5, reads, default); got {len(args)} arguments"
        )
    parts = []
    start = 0
    for i in range(0, len(args) - 1, 2):
        n = int(args[i])
        parts.append(OnThreads(ThreadSet("set", frozenset(range(start, start + n))), args[i + 1]))
        start += n
    parts.append(OnThreads(ThreadSet("from", start=start), args[-1]))
    return AnyOf(tuple(parts))
