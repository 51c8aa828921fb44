"""The generator protocol: two pure functions, ``op`` and ``update`` (as in Jepsen).

A generator is one of:

* ``None``: exhausted;
* a ``dict``: one op template, e.g. ``{"f": "write", "value": 3}``; it is
  given the process of a free thread (client threads first, then, as in
  Jepsen, the nemesis thread: wrap workloads in ``clients(...)``), ``time``
  (not before; defaults to now) and ``type`` ``"invoke"``; other keys
  (``key``, ``node``) travel into ``Op.extra``;
* a ``list`` or ``tuple``: each element in order;
* a callable ``f(test, ctx)``: called every time an op is wanted; it returns a
  generator (usually a template) or None to stop, so it repeats until then.
  It must be pure in ``(test, ctx)``: a driver may call it several times for
  one op (draw randomness from ``ctx.rng()``, not from a global);
* an object with ``op(test, ctx)`` and ``update(test, ctx, event)``.

``op`` returns ``(template, next_generator)``, ``(PENDING, generator)`` when
nothing can happen now, or None when exhausted. Neither function mutates
anything: a driver may ask ``op`` many times with the same generator and keep
only the answer it acts on.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.core.errors import InputError
from harness.core.protocols import Test
from harness.generator.context import PENDING, Context

_FRESH: Any = object()


class GeneratorError(InputError):
    """A value that is not a generator, or a generator that can never make progress."""


def op(gen: Any, test: Test | None, ctx: Context) -> tuple[Any, Any] | None:
    """The next op of ``gen`` at ``ctx``: ``(template | PENDING, next_gen)`` or None."""
    if gen is None:
        return None
    kind = type(gen)
    if kind is dict:
        return _op_template(gen, ctx)
    if kind is list or kind is tuple:
        return Seq(tuple(gen)).op(test, ctx) if gen else None
    method = getattr(gen, "op", None)
    if method is not None:
        return method(test, ctx)
    if callable(gen):
        return Fn(gen, 2).op(test, ctx)
    raise GeneratorError(
        f"{gen!r} ({kind.__name__}) is not a generator; use a dict template, a list, "
        "a function (test, ctx) -> template, or a combinator such as repeat(...)"
    )


def update(gen: Any, test: Test | None, ctx: Context, event: Any) -> Any:
    """``gen`` after it has seen ``event`` (an invoke or a completion Op)."""
    if gen is None:
        return None
    kind = type(gen)
    if kind is dict:
        return gen
    if kind is list or kind is tuple:
        return Seq(tuple(gen)).update(test, ctx, event) if gen else gen
    method = getattr(gen, "update", None)
    return method(test, ctx, event) if method is not None else gen


def _op_template(template: dict, ctx: Context) -> tuple[Any, Any]:
    """Fill in process, time and type; PENDING (keeping the template) when no thread is free."""
    process = template.get("process")
    if process is None:
        process = ctx.some_free_process()
        if process is None:
            return PENDING, template
    else:
        thread = ctx.thread_of(process)
        if thread is None or thread not in ctx.free_threads:
            return PENDING, template
    filled = dict(template)
    filled["process"] = process
    if "time" not in filled:
        filled["time"] = ctx.time
    if "type" not in filled:
        filled["type"] = "invoke"
    return filled, None


@dataclass(frozen=True, slots=True)
class Seq:
    """Elements in order; ``head`` is the current state of ``items[i]``.

    Updates go to the current element only, as in Jepsen.
    """

    items: tuple
    i: int = 0
    head: Any = _FRESH

    def _current(self) -> Any:
        return self.items[self.i] if self.head is _FRESH else self.head

    def op(self, test: Test | None, ctx: Context) -> tuple[Any, Any] | None:
        items, i, head = self.items, self.i, self.head
        while i < len(items):
            current = items[i] if head is _FRESH else head
            answer = op(current, test, ctx)
            if answer is None:
                i, head = i + 1, _FRESH
                continue
            template, after = answer
            if template is PENDING:
                return PENDING, Seq(items, i, after)
            if after is None:
                return template, (Seq(items, i + 1) if i + 1 < len(items) else None)
            return template, Seq(items, i, after)
        return None

    def update(self, test: Test | None, ctx: Context, event: Any) -> Any:
        if self.i >= len(self.items):
            return self
        current = self._current()
        after = update(current, test, ctx, event)
        return self if after is current else Seq(self.items, self.i, after)


@dataclass(frozen=True, slots=True)
class Fn:
    """A function called each time an op is wanted, until it returns None (Jepsen's fn)."""

    f: Callable[..., Any]
    arity: int = 2

    def op(self, test: Test | None, ctx: Context) -> tuple[Any, Any] | None:
        produced = self.f(test, ctx) if self.arity == 2 else self.f()
        if produced is None:
            return None
        answer = op(produced, test, ctx)
        if answer is None:
            return None
        template, after = answer
        if template is PENDING:
            return PENDING, self
        if after is None:
            return template, self
        return template, Seq((after, self))

    def update(self, test: Test | None, ctx: Context, event: Any) -> Any:
        return self


def fn(f: Callable[..., Any]) -> Fn:
    """A generator from a function of ``(test, ctx)`` or of no arguments.

    It is called each time an op is wanted and returns a template (or any
    generator) or None to stop; draw random values from ``ctx.rng()`` so
    that runs repeat under the same seed.
    """
    try:
        params = [
            p
            for p in inspect.signature(f).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
        ]
        arity = 0 if not params else 2
    except (TypeError, ValueError):
        arity = 2
    return Fn(f, arity)
