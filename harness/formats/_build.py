"""Shared pieces of the readers: a fast Op constructor and lazily computed line numbers.

Readers build one ``Op`` per line of a history, and a history can have
millions of lines, so the cost of building an ``Op`` matters. ``Op`` is a
frozen dataclass whose generated ``__init__`` goes through
``object.__setattr__`` once per field; ``make_op`` fills the slots directly
and is about twice as fast. It is only used while ``Op`` keeps exactly the
fields below and has no ``__post_init__``; otherwise it is ``Op`` itself, so
a change to ``Op`` can make readers slower but never wrong.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields
from typing import Any

from harness.core.errors import HistoryError
from harness.core.op import OP_TYPES, History, Op, pairing

_FIELDS = ("index", "time", "process", "type", "f", "value", "unknown", "extra")


def _fast_constructor() -> Callable[..., Op]:
    if tuple(f.name for f in fields(Op)) != _FIELDS or hasattr(Op, "__post_init__"):
        return Op
    new = object.__new__
    setters = [getattr(Op, name).__set__ for name in _FIELDS]
    s_index, s_time, s_process, s_type, s_f, s_value, s_unknown, s_extra = setters

    def make_op(
        index: int,
        time: int,
        process: int | str,
        type: str,
        f: str,
        value: Any,
        unknown: bool,
        extra: dict[str, Any],
    ) -> Op:
        op = new(Op)
        s_index(op, index)
        s_time(op, time)
        s_process(op, process)
        s_type(op, type)
        s_f(op, f)
        s_value(op, value)
        s_unknown(op, unknown)
        s_extra(op, extra)
        return op

    return make_op


#: make_op(index, time, process, type, f, value, unknown, extra) -> Op, all positional.
make_op: Callable[..., Op] = _fast_constructor()


class _NoExtra(dict):  # type: ignore[type-arg]
    """An empty ``Op.extra`` that refuses changes, so that one can serve every op.

    Most ops have no fields beyond the core ones; a history of millions of
    ops would otherwise hold millions of empty dicts (64 bytes each, and
    the time to make them). Every reader of ``extra`` copies it before
    adding to it; this makes sure no one writes to the shared one instead.
    """

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("Op.extra of an op read from a file is shared: copy it (dict(op.extra)) to change it")

    __setitem__ = __delitem__ = __ior__ = _refuse
    update = setdefault = pop = popitem = clear = _refuse

    def __reduce__(self) -> Any:
        return (_no_extra, ())

    def __copy__(self) -> _NoExtra:
        return self

    def __deepcopy__(self, memo: Any) -> _NoExtra:
        return self


def _no_extra() -> _NoExtra:
    return NO_EXTRA


#: The one empty ``extra`` of the ops readers build (see ``_NoExtra``).
NO_EXTRA = _NoExtra()


@contextmanager
def no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a reader allocates millions of objects.

    The objects a reader builds hold no cycles, yet every few thousand
    allocations the collector would walk all of them again; pausing it
    roughly halves the time to read a large history.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class LazyLines(Sequence[int]):
    """Line numbers of a history's ops, computed only if someone asks.

    Finding where each EDN entry starts costs a second, slower pass over the
    text. ``History`` needs a line number only to report an error, so the
    pass runs at most once, and only then.
    """

    def __init__(self, compute: Callable[[], Sequence[int]]):
        self._compute = compute
        self._lines: Sequence[int] | None = None

    def _get(self) -> Sequence[int]:
        if self._lines is None:
            self._lines = self._compute()
        return self._lines

    def __getitem__(self, i):  # type: ignore[override]
        return self._get()[i]

    def __len__(self) -> int:
        return len(self._get())


def offsets_to_lines(text: str, offsets: Sequence[int]) -> list[int]:
    """1-based line numbers of ascending character offsets in ``text``."""
    lines: list[int] = []
    line = 1
    prev = 0
    for off in offsets:
        line += text.count("\n", prev, off)
        prev = off
        lines.append(line)
    return lines


class LenientHistory(History):
    """A History that keeps what foreign transactional histories hold: completions
    with no invoke (Elle's tests write bare ``:ok`` ops) and a process with several
    invokes open at once. Only an unknown op type is refused. Readers build one
    when asked with ``lenient=True``; checkers that do their own pairing
    (``checkers.txn``) take it, the others need a plain ``History``.
    """

    def _validate(self) -> None:
        for pos, op in enumerate(self.ops):
            if op.type not in OP_TYPES:
                raise HistoryError(
                    f"unknown op type {op.type!r} (expected invoke, ok, fail or info)",
                    source=self.source,
                    line=self.line(pos),
                )
        self._pairing = pairing(self.ops)


def history_class(lenient: bool) -> type[History]:
    """``LenientHistory`` when ``lenient``, else ``History``."""
    return LenientHistory if lenient else History
