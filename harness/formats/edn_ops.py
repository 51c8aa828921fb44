"""A fast path for the commonest EDN history: flat op maps of integers, one after another.

Knossos' data files and many Jepsen histories are nothing but maps like
``{:process 3, :type :ok, :f :cas, :value [1 2]}``. For those, translating
the text to JSON, decoding dicts and turning each into an ``Op``
(``harness.formats.edn`` and ``knossos``) costs about ten microseconds per
op. Here one regular expression splits the text into the fields of every
map at once, and ops are built straight from them.

The path is exact or it steps aside. ``ops_of`` returns None (and the
general reader runs) unless the whole text is such maps, in one of the two
key orders below, separated by whitespace and commas, optionally inside one
vector or list (its brackets before the first map and after the last).
Anything left between two matches (another key, a string, a set, a tag, a
nested map, a comment when the text has a string in which a ``;`` could
hide) means None. Integers longer than 18 digits or with a leading zero or
``+`` fall back too, so every ``int()`` here is cheap and exact. The ops
are those the general reader builds (a test compares them on generated and
mutated texts).
"""

from __future__ import annotations

import re

from harness.core.op import NEMESIS, Op
from harness.formats._build import NO_EXTRA, make_op

_INT = r"-?(?:0|[1-9]\d{0,17})"  # no leading zeros or +: EDN reads those differently
_ATOM = rf"(?:{_INT}|nil)"
_S = r"[\s,]+"  # EDN's whitespace: commas count as whitespace
_O = r"[\s,]*"
_VALUE = rf"(nil|{_INT}|\[{_O}(?:{_ATOM}(?:{_S}{_ATOM})*)?{_O}\])"
_PROCESS = rf"({_INT}|:nemesis)"
_TYPE = r":(invoke|ok|fail|info)"
_F = r":([a-zA-Z][\w\-?!*+.]*)"

#: Knossos' order: {:process P, :type :T, :f :F, :value V}
_KNOSSOS = re.compile(
    rf"\{{{_O}:process{_S}{_PROCESS}{_S}:type{_S}{_TYPE}{_S}:f{_S}{_F}{_S}:value{_S}{_VALUE}{_O}\}}"
)
#: Jepsen's order: {:type :T, :f :F, :value V, :process P, :time N, :index N} (time and index optional)
_JEPSEN = re.compile(
    rf"\{{{_O}:type{_S}{_TYPE}{_S}:f{_S}{_F}{_S}:value{_S}{_VALUE}{_S}:process{_S}{_PROCESS}"
    rf"(?:{_S}:time{_S}({_INT}))?(?:{_S}:index{_S}{_INT})?{_O}\}}"
)
_COMMENT = re.compile(r";[^\n]*")
_WRAPPERS = ("", "[]", "()")


def ops_of(text: str) -> tuple[list[Op], int] | None:
    """(ops, depth) for a text of flat integer op maps, else None. ``depth`` is 1 when
    the maps sit in one vector or list (for the line numbers of errors), else 0."""
    if '"' in text or "#" in text:
        return None  # strings may hold ';' or '{'; '#' starts sets, tags and ##Inf
    if ";" in text:
        text = _COMMENT.sub("", text)
    first = text.find("{")
    if first < 0:
        return None
    key = text[first + 1 : first + 40].lstrip(" \t\r\n,")
    if key.startswith(":process"):
        parts, jepsen = _KNOSSOS.split(text), False
    elif key.startswith(":type"):
        parts, jepsen = _JEPSEN.split(text), True
    else:
        return None
    width = 6 if jepsen else 5  # the text before a match, then its groups
    head, tail = parts[0].replace(",", " ").strip(), parts[-1].replace(",", " ").strip()
    between = "".join(parts[width:-1:width]).replace(",", " ")  # type: ignore[arg-type]
    if head + tail not in _WRAPPERS or between.strip():
        return None
    return _build(parts, width, jepsen), 1 if head else 0


def _build(parts: list[str | None], width: int, jepsen: bool) -> list[Op]:
    ops: list[Op] = []
    append = ops.append
    n = (len(parts) - 1) // width
    for i in range(n):
        at = i * width + 1
        if jepsen:
            typ, f, value, process, time = parts[at : at + 5]
        else:
            process, typ, f, value = parts[at : at + 4]
            time = None
        v = _value(value)  # type: ignore[arg-type]
        append(make_op(
            i,
            int(time) if time else 0,
            NEMESIS if process == ":nemesis" else int(process),  # type: ignore[arg-type]
            typ,
            f,
            v,
            v is None and typ == "ok" and f == "read",  # Knossos' nil read, as entries_to_ops
            NO_EXTRA,
        ))
    return ops


def _value(text: str) -> object:
    if text == "nil":
        return None
    if text[0] != "[":
        return int(text)
    return [None if a == "nil" else int(a) for a in text[1:-1].replace(",", " ").split()]
