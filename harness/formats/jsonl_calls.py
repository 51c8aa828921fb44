"""Read a plain JSONL history straight into call rows, one byte range at a time.

On a history of millions of ops, ``seam check`` would spend most of its time
reading: decoding each line with the standard ``json`` scanner, building an
``Op`` for it, then a ``Call`` for each pair. For the common case, a
well-formed JSONL file, this reader keeps neither: it decodes each line with
msgspec straight into a typed record of the op fields checkers read (the
types checked in C, other fields skipped) and pairs every invoke with its
completion as it goes (the rule of
``harness.core.op.pairing``), keeping only one row per call with the fields
of ``History.calls``. Several byte ranges of one file can be read at once
(``checkers.linearizable.bulk`` does, one per worker process); ``stitch``
then pairs what crosses a range boundary.

It is a fast path only. Whatever is not plain raises ``NotPlain``, and the
caller reads the file with ``harness.formats.load`` instead, which gives the
exact error or the same calls: a line msgspec rejects (bad JSON, NaN, a
number too large for a float, bad UTF-8, a lone surrogate, a field of the
wrong type), a row that is not a well-formed op, a field nested too deeply,
an ``--independent`` value that is not ``[key, value]`` with a scalar key, a
torn history (a process invoking while its call is open) and a lone ``ok``
or ``fail``. Integers of any size are read exactly, as ``json`` reads them.

Positions are byte offsets of the lines in the file: they order calls
exactly as history positions do. An op without an integer ``index`` gets
its byte offset as its index.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import msgspec

from harness.core.op import INF, NEMESIS, OP_TYPES, UNKNOWN
from harness.formats.values import MAX_DEPTH, deep_field

__all__ = ["NotPlain", "OpFields", "RangeCalls", "call_row", "read_range", "split_ranges", "stitch"]


class OpFields(msgspec.Struct, gc=False):
    """The fields of an op line that calls are made of; other fields are skipped.

    The types are the ones ``harness.formats.jsonl`` accepts (``process`` an
    integer or a string, which must then be "nemesis"; ``unknown`` a bool).
    """

    process: int | str
    type: str
    f: str
    value: Any = None
    index: Any = None
    unknown: bool = False


_decode = msgspec.json.Decoder(OpFields).decode

#: A call row: ``Call``'s fields after ``id``, with the key first.
#: (key, process, f, input, output, call, ret, invoke_index, complete_index)
Row = tuple[Any, Any, str, Any, Any, int, int, int, int | None]

_BOM = b"\xef\xbb\xbf"
_TYPES = {t: t for t in OP_TYPES}
_KEY_TYPES = frozenset((int, str, bool, type(None)))
#: Values of an ``ok`` call built inline, with no look inside.
_SIMPLE = _KEY_TYPES
#: A line this short cannot nest MAX_DEPTH levels inside the op map.
_DEEP_LINE = 2 * MAX_DEPTH
#: Bytes read at a time.
_CHUNK = 8 << 20


class NotPlain(Exception):
    """The input is not the plain case this reader handles; read it with ``load``."""


@dataclass
class RangeCalls:
    """What one byte range holds.

    ``calls``: rows of the calls invoked and completed inside the range.
    ``carry``: process -> (position, invoke row) of calls still open at the
    range's end. ``heads``: (process, position, completion row) of the
    processes whose first op in the range is a completion (its invoke lies
    in an earlier range, or nowhere). ``first_invokes``: processes whose
    first op in the range is an invoke. ``ops``: ops read (blank lines are
    not ops).
    """

    calls: list[Row] = field(default_factory=list)
    carry: dict[Any, tuple[int, OpFields]] = field(default_factory=dict)
    heads: list[tuple[Any, int, OpFields]] = field(default_factory=list)
    first_invokes: set[Any] = field(default_factory=set)
    ops: int = 0


def split_ranges(path: str, size: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` byte ranges of the file that together cover it, each ending after a newline."""
    cuts = [0]
    with open(path, "rb") as fh:
        for i in range(1, parts):
            at = max(size * i // parts, cuts[-1])
            fh.seek(at)
            while True:
                chunk = fh.read(1 << 16)
                nl = chunk.find(b"\n")
                if nl >= 0:
                    at += nl + 1
                    break
                if not chunk:
                    at = size
                    break
                at += len(chunk)
            cuts.append(min(at, size))
    cuts.append(size)
    return [(a, b) for a, b in zip(cuts, cuts[1:], strict=False) if b > a]


def read_range(
    path: str, start: int, end: int, *, independent: bool, observed_failures: frozenset[str]
) -> RangeCalls:
    """Read bytes ``start`` to ``end`` of ``path`` (whole lines) into a ``RangeCalls``."""
    with open(path, "rb") as fh:
        fh.seek(start)
        offset = start
        if start == 0 and fh.read(3) != _BOM:
            fh.seek(0)
        else:
            offset = fh.tell()
        return read_lines(_lines(fh, end - offset), offset, independent, observed_failures)


def _lines(fh: Any, size: int) -> Iterator[bytes]:
    """The lines of the next ``size`` bytes of ``fh``, read a chunk at a time (the
    range's text is never in memory whole), without their newlines."""
    tail = b""
    while size > 0:
        chunk = fh.read(min(_CHUNK, size))
        if not chunk:
            break
        size -= len(chunk)
        buf = tail + chunk
        if size > 0:
            cut = buf.rfind(b"\n") + 1
            buf, tail = buf[:cut], buf[cut:]
        else:
            tail = b""
        lines = buf.split(b"\n")
        if not lines[-1]:
            lines.pop()  # the newline that ends the buffer
        yield from lines
    if tail:
        yield tail


def read_lines(
    lines: Iterable[bytes], offset: int, independent: bool, observed_failures: frozenset[str]
) -> RangeCalls:
    """The loop of ``read_range``; ``offset`` is the byte position of the first line.

    A completed ``ok`` call of plain values (scalars, or a cas's pair of
    scalars) is built inline; every other call goes through ``call_row``.
    """
    out = RangeCalls()
    append = out.calls.append
    carry = out.carry
    seen: set[Any] = set()
    decode, types, simple, keys = _decode, _TYPES, _SIMPLE, _KEY_TYPES
    ops = 0
    pos = offset
    for line in lines:
        here = pos
        pos += len(line) + 1
        try:
            op = decode(line)
        except (msgspec.DecodeError, RecursionError):
            if line.strip():
                raise NotPlain("a line the fast reader does not take") from None
            continue
        typ = types.get(op.type)
        process = op.process
        if (
            typ is None
            or (process.__class__ is str and process != NEMESIS)
            or (len(line) > _DEEP_LINE and _too_deep(line))
        ):
            raise NotPlain("a row that is not a well-formed op")
        ops += 1
        if typ == "invoke":
            if process in carry:
                raise NotPlain("a torn history")
            if process not in seen:
                if process == NEMESIS:
                    continue
                seen.add(process)
                out.first_invokes.add(process)
            carry[process] = (here, op)
            continue
        invoked = carry.pop(process, None)
        if invoked is None:
            if process == NEMESIS:
                continue
            if process not in seen:
                seen.add(process)
                out.heads.append((process, here, op))
            elif typ != "info":
                raise NotPlain("a completion with no invoke")
            continue
        call, inv = invoked
        if typ == "ok" and independent and not op.unknown:
            iv = inv.value
            dv = op.value
            if (
                iv.__class__ is list
                and dv.__class__ is list
                and len(iv) == 2
                and len(dv) == 2
                and iv[0].__class__ in keys
                and dv[0].__class__ in keys
            ):
                key, x = iv
                invoked_f = inv.f
                y = dv[1]
                if invoked_f == "cas" and op.f == "cas":
                    plain = (
                        x.__class__ is list
                        and len(x) == 2
                        and x[0].__class__ in simple
                        and x[1].__class__ in simple
                    )
                    y = True
                else:
                    plain = x.__class__ in simple and y.__class__ in simple
                if plain:
                    index = inv.index
                    done_index = op.index
                    append(
                        (
                            key,
                            process,
                            invoked_f,
                            x,
                            y,
                            call,
                            here,
                            index if index.__class__ is int else call,
                            done_index if done_index.__class__ is int else here,
                        )
                    )
                    continue
        done = call_row(call, inv, here, op, independent, observed_failures)
        if done is not None:
            append(done)
    out.ops = ops
    return out


def _too_deep(line: bytes) -> bool:
    """Whether a field of the op on ``line`` nests more than MAX_DEPTH levels
    (which needs more than MAX_DEPTH opening brackets on the line)."""
    if line.count(b"[") + line.count(b"{") <= MAX_DEPTH:
        return False
    try:
        return deep_field(json.loads(line)) is not None
    except (ValueError, RecursionError):
        return True


def call_row(
    call: int,
    inv: OpFields,
    ret: int,
    done: OpFields | None,
    independent: bool,
    observed_failures: frozenset[str],
) -> Row | None:
    """The call of an invoke and its completion (None: open), as ``History.calls``
    builds it; None for a ``fail`` that did not happen."""
    value = inv.value
    f = inv.f
    key = None
    if independent:
        key, value = _split(value)
    index = inv.index
    if index.__class__ is not int:
        index = call
    if done is None or done.type == "info":
        return (key, inv.process, f, value, UNKNOWN, call, INF, index, None)
    if done.type == "ok":
        if done.unknown:
            output = UNKNOWN
        elif f == "cas" and done.f == "cas":
            output = True
        elif not independent:
            output = done.value
        else:
            output = _split(done.value)[1]
    elif done.f in observed_failures:
        output = False
    else:
        return None
    done_index = done.index
    if done_index.__class__ is not int:
        done_index = ret
    return (key, inv.process, f, value, output, call, ret, index, done_index)


def _split(value: Any) -> tuple[Any, Any]:
    if value.__class__ is not list or len(value) != 2 or value[0].__class__ not in _KEY_TYPES:
        raise NotPlain("an --independent value that is not [key, value]")
    return value[0], value[1]


def stitch(
    ranges: list[RangeCalls], independent: bool, observed_failures: frozenset[str]
) -> list[Row]:
    """The calls that cross range boundaries, and the calls still open at the end.

    Ranges in file order. A process's open call carried out of a range is
    completed by that process's first op in a later range if it is a
    completion; if it is an invoke, the history is torn (``NotPlain``). A
    completion that finds no open call is a lone op: an ``info`` is a note
    and ignored, an ``ok`` or ``fail`` is bad input (``NotPlain``).
    """
    pending: dict[Any, tuple[int, OpFields]] = {}
    rows: list[Row] = []
    for r in ranges:
        if not pending.keys().isdisjoint(r.first_invokes):
            raise NotPlain("a torn history")
        for process, ret, done in r.heads:
            invoked = pending.pop(process, None)
            if invoked is None:
                if done.type != "info":
                    raise NotPlain("a completion with no invoke")
                continue
            row = call_row(invoked[0], invoked[1], ret, done, independent, observed_failures)
            if row is not None:
                rows.append(row)
        pending.update(r.carry)
    for call, inv in pending.values():
        row = call_row(call, inv, INF, None, independent, observed_failures)
        if row is not None:
            rows.append(row)
    return rows
