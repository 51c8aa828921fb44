"""Jepsen and Knossos EDN histories: op maps to Ops, keeping Knossos' meaning.

A history is either one vector or list of op maps (the Knossos ``data/``
files) or a sequence of top-level op maps (Jepsen's ``history.edn``, and
Porcupine's kv files). Each map has ``:process`` (an integer or
``:nemesis``), ``:type``, ``:f`` and usually ``:value``; other keys go to
``Op.extra`` (``:index`` is dropped: an Op's index is its position).

Knossos semantics that differ from Seam's own JSONL:

* an ``:ok`` ``:read`` whose value is ``nil`` read nothing useful: Knossos
  lets it match any state, so the Op gets ``unknown=True``;
* a map with ``:key`` (Porcupine's kv files) gets the value ``[key, value]``
  so the ``kv`` model can partition by key; there a ``nil`` or ``""`` read is
  a real value (``keyed=True`` turns the Knossos rule above off).

``:fail`` ops stay ``fail`` (History drops them) and ``:info`` ops stay
``info`` (a crash if the process has an open op, otherwise a note).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harness.core.errors import HistoryError
from harness.core.op import NEMESIS, OP_TYPES, History, Op
from harness.formats._build import NO_EXTRA, LazyLines, history_class, make_op, no_gc
from harness.formats.edn import form_lines, parse_edn
from harness.formats.edn_ops import ops_of
from harness.formats.values import bad_value

#: Values that need a look: a float may be ##Inf or ##NaN, a collection may hide one.
_LOOK = (float, list, dict, frozenset)

_CORE = frozenset(("process", "type", "f", "value", "time", "index", "key"))


def read_edn(text: str, *, source: str = "<string>", lenient: bool = False) -> History:
    """A Jepsen/Knossos EDN history (one collection of op maps, or one op map after
    another); ``lenient``: see ``harness.formats._build.LenientHistory``."""
    with no_gc():
        fast = ops_of(text)  # flat integer op maps: built straight from the text
        if fast is None:
            return read_edn_forms(text, source=source, lenient=lenient)
        ops, depth = fast
    return history_class(lenient)(ops, source=source, lines=LazyLines(_EntryLines(text, depth=depth)))


def read_edn_forms(text: str, *, source: str = "<string>", lenient: bool = False) -> History:
    """``read_edn`` through the general EDN reader, for any text (``edn_ops`` is its fast path)."""
    with no_gc():
        forms = parse_edn(text, source=source)
        if len(forms) == 1 and isinstance(forms[0], list):
            entries = forms[0]
            lines = LazyLines(_EntryLines(text, depth=1))
        else:
            entries = forms
            lines = LazyLines(_EntryLines(text, depth=0))
        ops = entries_to_ops(entries, source=source, lines=lines)
    return history_class(lenient)(ops, source=source, lines=lines)


@dataclass(frozen=True)
class _EntryLines:
    """Computes the line of each entry: of top-level forms (depth 0) or of the
    elements of the one top-level collection (depth 1). A class, not a lambda,
    so that a History stays picklable."""

    text: str
    depth: int

    def __call__(self) -> list[int]:
        return form_lines(self.text)[self.depth]


def entries_to_ops(
    entries: Sequence[Any],
    *,
    source: str,
    lines: Sequence[int],
    keyed: bool = False,
    first_index: int = 0,
) -> list[Op]:
    """Ops for parsed op maps; ``lines[i]`` is the line of ``entries[i]`` (read only on error)."""
    ops: list[Op] = []
    append = ops.append
    core = _CORE
    for i, m in enumerate(entries):
        if m.__class__ is not dict:
            raise _bad(m, source, _line(lines, i))
        process = m.get("process")
        typ = m.get("type")
        f = m.get("f")
        if (
            typ.__class__ is not str
            or typ not in OP_TYPES
            or f.__class__ is not str
            or not (process.__class__ is int or process == NEMESIS)
        ):
            raise _bad(m, source, _line(lines, i))
        value = m.get("value")
        if value.__class__ in _LOOK and bad_value(value):
            raise _bad_value("value", value, source, _line(lines, i))
        if "key" in m:
            value = [m["key"], value]
            unknown = False
        else:
            unknown = value is None and typ == "ok" and f == "read" and not keyed
        time = m.get("time", 0)
        if time.__class__ is not int:
            time = 0
        extra = NO_EXTRA if m.keys() <= core else {k: v for k, v in m.items() if k not in core}
        if extra:
            for k, v in extra.items():
                if v.__class__ in _LOOK and bad_value(v):
                    raise _bad_value(k, v, source, _line(lines, i))
        append(make_op(first_index + i, time, process, typ, f, value, unknown, extra))
    return ops


def _line(lines: Sequence[int], i: int) -> int | None:
    """The line of entry ``i``; None when it cannot be told (text only edn_format reads,
    whose entries are not maps: the approximate lines find only maps)."""
    try:
        return lines[i]
    except IndexError:
        return None


def _bad_value(name: Any, value: Any, source: str, line: int | None) -> HistoryError:
    """Values no checker can compare are bad input (``harness.formats.values``)."""
    return HistoryError(f":{name} {bad_value(value)}", source=source, line=line)


def _bad(m: Any, source: str, line: int | None) -> HistoryError:
    """Say exactly what is wrong with an entry that is not an op map."""

    def err(problem: str) -> HistoryError:
        return HistoryError(problem, source=source, line=line)

    if not isinstance(m, dict):
        return err(
            f"expected an op map like {{:process 0, :type :invoke, :f :read}}, got {_show(m)}"
        )
    for name in ("process", "type", "f"):
        if name not in m:
            return err(f"op map has no :{name}")
    process, typ, f = m["process"], m["type"], m["f"]
    if not isinstance(typ, str) or typ not in OP_TYPES:
        return err(f"unknown op type {_show(typ)} (expected :invoke, :ok, :fail or :info)")
    if not isinstance(f, str):
        return err(f":f must be a keyword naming the operation, got {_show(f)}")
    return err(f"process must be an integer or :nemesis, got {_show(process)}")


def _show(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."
