"""Porcupine's test histories: Jepsen etcd logs and kv EDN lines.

etcd logs (``INFO  jepsen.util - P :type :f value``) keep Porcupine's
meaning, which differs from Knossos:

* ``:ok :read nil`` found the register empty: ``None`` is a real value;
* ``:fail :read :timed-out`` completed with a result nobody saw: an ``ok``
  read with ``unknown=True``;
* ``:fail :cas [A B]`` is a cas whose compare failed: it stays a ``fail``
  op, and the etcd-register model declares ``observed_failures = {"cas"}``
  so that History keeps it as a completed call with output False;
* ``:info ... :timed-out`` is indeterminate: an ``info`` op (crashed).

kv files are one EDN map per line,
``{:process P, :type :invoke, :f :get, :key "K", :value nil}``; the value
becomes ``[key, value]`` and an ok get's string (``""`` = nothing stored)
is a real value. Lines of exactly that shape are matched by one regular
expression; any other line is read by the EDN reader.
"""

from __future__ import annotations

import re
from typing import Any

from harness.core.errors import HistoryError
from harness.core.op import OP_TYPES, History, Op
from harness.formats._build import NO_EXTRA, make_op, no_gc
from harness.formats.edn import parse_edn
from harness.formats.knossos import entries_to_ops
from harness.formats.values import MAX_DIGITS

_TIMED_OUT = object()
_ETCD_SHAPE = (
    "expected `INFO jepsen.util - <process> <:type> <:f> <nil | int | [A B] | :timed-out>`"
)


def read_etcd_log(text: str, *, source: str = "<string>") -> History:
    """A Jepsen etcd log as Porcupine's tests read it."""
    ops: list[Op] = []
    lines: list[int] = []
    with no_gc():
        for n, line in enumerate(text.split("\n"), 1):
            parts = line.split()
            if not parts:
                continue
            ops.append(_etcd_op(parts, len(ops), source, n))
            lines.append(n)
    return History(ops, source=source, lines=lines)


def _etcd_op(parts: list[str], index: int, source: str, n: int) -> Op:
    def err(problem: str) -> HistoryError:
        return HistoryError(f"{problem}; {_ETCD_SHAPE}", source=source, line=n)

    if (
        len(parts) not in (7, 8)
        or parts[0] != "INFO"
        or parts[1] != "jepsen.util"
        or parts[2] != "-"
    ):
        raise err("not a jepsen.util log line")
    p, typ, f = parts[3], parts[4], parts[5]
    if not (p.isascii() and p.isdigit()):
        raise err(f"process {_short(p)!r} is not a non-negative integer")
    if len(p) > MAX_DIGITS:
        raise err(f"process id has more than {MAX_DIGITS} digits")
    if typ[:1] != ":" or typ[1:] not in OP_TYPES:
        raise err(f"unknown op type {typ!r}")
    if f[:1] != ":" or len(f) == 1:
        raise err(f"operation {f!r} is not a keyword")
    value = _etcd_value(parts[6:], err)
    typ, f = typ[1:], f[1:]
    if value is _TIMED_OUT:
        if typ == "info":
            return make_op(index, 0, int(p), "info", f, None, False, {"error": "timed-out"})
        if typ == "fail" and f == "read":
            return make_op(index, 0, int(p), "ok", f, None, True, {"error": "timed-out"})
        raise err(f":{typ} :{f} :timed-out has no agreed meaning")
    return make_op(index, 0, int(p), typ, f, value, False, NO_EXTRA)


def _etcd_value(rest: list[str], err: Any) -> Any:
    if len(rest) == 1:
        v = rest[0]
        if v == "nil":
            return None
        if v == ":timed-out":
            return _TIMED_OUT
        _digit_limit(v, err)
        try:
            return int(v)
        except ValueError:
            raise err(f"value {_short(v)!r} is not nil, an integer or :timed-out") from None
    a, b = rest
    if a[:1] == "[" and b[-1:] == "]":
        _digit_limit(a[1:], err)
        _digit_limit(b[:-1], err)
        try:
            return [int(a[1:]), int(b[:-1])]
        except ValueError:
            pass
    raise err(f"value {_short(' '.join(rest))!r} is not [A B] with two integers")


def _digit_limit(text: str, err: Any) -> None:
    """int() refuses (and would be slow on) longer integers: say so, not "not an integer"."""
    if len(text) > MAX_DIGITS and text.lstrip("+-").isdigit():
        raise err(f"an integer with more than {MAX_DIGITS} digits")


def _short(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


_KV_LINE = re.compile(
    r'\{:process (\d+), :type :(invoke|ok|fail|info), :f :([a-z]+), :key "([^"\\]*)", '
    r':value (?:nil|"([^"\\]*)")\}\s*'
)


def read_kv(text: str, *, source: str = "<string>") -> History:
    """Porcupine kv lines: one op map per line, each with :key."""
    ops: list[Op] = []
    lines: list[int] = []
    match = _KV_LINE.fullmatch
    with no_gc():
        for n, line in enumerate(text.split("\n"), 1):
            m = match(line)
            if m is not None and len(m.group(1)) <= MAX_DIGITS:
                p, typ, f, key, value = m.groups()
                ops.append(make_op(len(ops), 0, int(p), typ, f, [key, value], False, NO_EXTRA))
                lines.append(n)
            elif line and not line.isspace():
                ops.append(_kv_line_slow(line, len(ops), source, n))
                lines.append(n)
    return History(ops, source=source, lines=lines)


def _kv_line_slow(line: str, index: int, source: str, n: int) -> Op:
    try:
        forms = parse_edn(line, source=source)
    except HistoryError as e:
        raise HistoryError(e.problem, source=source, line=n) from None
    if len(forms) != 1 or not isinstance(forms[0], dict):
        raise HistoryError("expected one op map on this line", source=source, line=n)
    if "key" not in forms[0]:
        raise HistoryError(
            "kv op map has no :key (use --format edn for other histories)", source=source, line=n
        )
    return entries_to_ops(forms, source=source, lines=[n], keyed=True, first_index=index)[0]
