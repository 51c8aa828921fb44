"""Write a history as Jepsen/Knossos EDN, so Knossos can check it again.

One vector, one op map per line (the shape of Knossos' ``data/`` files):
``{:process 0, :type :invoke, :f :write, :value 1, :time 0, :index 0}``.
Op fields become keywords (``:nemesis`` for the nemesis process); values
keep their types: strings stay strings, ``null`` is ``nil``, maps and lists
are EDN maps and vectors. The micro-op names of a ``txn`` (``["read", k, v]``)
become keywords, as Knossos' multi-register expects.

Knossos reads an ``:ok :read`` of ``nil`` as "saw nothing useful"
(``harness.formats.knossos``): a Seam read that returned ``null`` can only
be written that way, so it loses its constraint (the result can only miss an
anomaly, never invent one); ``write_edn`` says how many. An unknown read is
written the same way, which is exactly its meaning. Anything else the
format cannot say raises ``HistoryError`` naming the op's line.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import IO, Any

from harness.core.errors import HistoryError
from harness.core.op import NEMESIS, History, Op

#: Keys EDN readers give a meaning to; an extra field of that name cannot be written.
RESERVED = frozenset(("process", "type", "f", "value", "time", "index", "key"))

_KEYWORD = re.compile(r"[A-Za-z*!_?<>=][A-Za-z0-9*!_?<>=+.\-]*")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f\x7f]')


def edn_string(s: str) -> str:
    """An EDN string literal; control characters as ``\\uXXXX``."""
    if not _NEEDS_ESCAPE.search(s):
        return f'"{s}"'
    return '"' + _NEEDS_ESCAPE.sub(lambda m: _ESCAPES.get(m[0], f"\\u{ord(m[0]):04x}"), s) + '"'


def keyword(name: str) -> str | None:
    """``:name`` if ``name`` is a valid EDN keyword name, else None."""
    return ":" + name if _KEYWORD.fullmatch(name) else None


def edn_value(v: Any) -> str:
    """EDN text for a history value. Raises ValueError for what EDN cannot hold."""
    if v is None:
        return "nil"
    if v is True or v is False:
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError(f"{v} is not a finite number")
        return repr(v)
    if isinstance(v, str):
        return edn_string(v)
    if isinstance(v, (list, tuple)):
        return "[" + " ".join(map(edn_value, v)) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{edn_value(k)} {edn_value(x)}" for k, x in v.items()) + "}"
    if isinstance(v, (set, frozenset)):
        return "#{" + " ".join(map(edn_value, v)) + "}"
    raise ValueError(f"a {type(v).__name__} has no EDN form")


def _txn_value(v: Any) -> str:
    """A txn's micro-ops with keyword names: ``[[:read "x" 1]]``."""
    if not isinstance(v, (list, tuple)):
        return edn_value(v)
    parts = []
    for m in v:
        name = (
            keyword(m[0]) if isinstance(m, (list, tuple)) and m and isinstance(m[0], str) else None
        )
        parts.append(f"[{name} {' '.join(map(edn_value, m[1:]))}]" if name else edn_value(m))
    return "[" + " ".join(parts) + "]"


def op_map(op: Op) -> tuple[str, bool]:
    """(EDN text of one op, whether a real nil read became unconstrained)."""
    process = ":nemesis" if op.process == NEMESIS else str(op.process)
    f = keyword(op.f) or edn_string(op.f)
    weakened = False
    if op.unknown:
        if not (op.type == "ok" and op.f == "read"):
            raise ValueError("only a read can have an unknown result in Knossos EDN (as nil)")
        value = "nil"
    else:
        weakened = op.type == "ok" and op.f == "read" and op.value is None
        value = (_txn_value if op.f == "txn" else edn_value)(op.value)
    parts = [f":process {process}", f":type :{op.type}", f":f {f}", f":value {value}"]
    parts += [f":time {op.time}", f":index {op.index}"]
    for k, v in op.extra.items():
        if k in RESERVED:
            raise ValueError(f"field {k!r} would mean something else to an EDN reader")
        parts.append(f"{keyword(k) or edn_string(k)} {edn_value(v)}")
    return "{" + ", ".join(parts) + "}", weakened


def write_edn(history: History, fh: IO[str]) -> list[str]:
    """Write ``history`` as one EDN vector of op maps; returns notes for the user.

    Nothing is written if an op cannot be expressed (HistoryError).
    """
    lines, weakened = render_lines(history, op_map)
    fh.write("[" + "\n ".join(lines) + "]\n")
    if not weakened:
        return []
    return [
        f"{weakened} ok reads of null are nil in EDN, which Knossos and Seam's EDN reader "
        "take as unconstrained: the exported history can only hide an anomaly there"
    ]


def render_lines(history: History, one: Callable[[Op], tuple[str, bool]]) -> tuple[list[str], int]:
    """(a line per op, how many were weakened); ``one`` raises ValueError for an op
    the format cannot hold, which becomes a HistoryError naming the op's line."""
    lines: list[str] = []
    weakened = 0
    for pos, op in enumerate(history):
        try:
            text, weak = one(op)
        except (ValueError, TypeError, IndexError) as e:
            raise HistoryError(
                f"cannot export this op: {e}", source=history.source, line=history.line(pos)
            ) from None
        lines.append(text)
        weakened += weak
    return lines, weakened
