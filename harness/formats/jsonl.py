"""Seam's own history format: JSON Lines, one op per line (DESIGN section 4).

A ``null`` value is a real value (a read that found nothing); only
``"unknown": true`` marks an output nobody saw. Blank lines are skipped.
Values follow ``harness.formats.values``: ``NaN``, ``Infinity``, integers
over the digit limit and values nested too deeply are bad input.
The reader decodes each line on its own with the C scanner of the standard
``json`` module, so a bad line is reported with its own number and the
decoder's message, and a 2,000,000-line history reads in seconds.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from harness.core.errors import HistoryError
from harness.core.op import NEMESIS, OP_TYPES, History, Op
from harness.formats._build import NO_EXTRA, history_class, make_op, no_gc
from harness.formats.values import DECODER, MAX_DEPTH, deep_field, problem_of

_CORE = frozenset(("index", "time", "process", "type", "f", "value", "unknown"))
_TYPES = {t: t for t in OP_TYPES}
_scan_once = DECODER.scan_once  # type: ignore[attr-defined]  # the C scanner
#: A line shorter than this cannot nest MAX_DEPTH levels inside the op map.
_DEEP_LINE = 2 * MAX_DEPTH


def read_jsonl(text: str, *, source: str = "<string>", lenient: bool = False) -> History:
    """Parse Seam JSONL text into a validated History (``lenient``: see LenientHistory)."""
    return read_jsonl_lines(text.split("\n"), source=source, lenient=lenient)


def read_jsonl_lines(lines: Iterable[str], *, source: str = "<string>", lenient: bool = False) -> History:
    """Parse JSONL lines (with or without their newline), e.g. an open file, into a History.

    Reading an open file line by line keeps only the ops in memory, not the
    text as well. ``type`` and ``f`` strings are shared between ops (each
    line would otherwise hold its own copy of "invoke" and "read").
    """
    ops: list[Op] = []
    append = ops.append
    line_numbers: list[int] | None = None  # only once a blank line shifted them
    types = _TYPES
    names: dict[str, str] = {}
    core = _CORE
    with no_gc():
        for n, line in enumerate(lines, 1):
            try:
                row, end = _scan_once(line, 0)
            except (StopIteration, ValueError, RecursionError):
                if not line or line.isspace():
                    continue
                row, end = _decode_slow(line, source, n)
            if end != len(line):
                tail = line[end:]
                if tail != "\n" and not tail.isspace():
                    _decode_slow(line, source, n)  # raises with json's own "Extra data" message
            # The common, well-formed row is checked inline; anything else gets
            # a precise error from _bad_row.
            if row.__class__ is not dict:
                raise _bad_row(row, source, n)
            if len(line) > _DEEP_LINE:
                _check_depth(row, source, n)
            typ = row.get("type")
            f = row.get("f")
            process = row.get("process")
            unknown = row.get("unknown", False)
            if (
                typ.__class__ is not str
                or typ not in types
                or f.__class__ is not str
                or not (process.__class__ is int or process == NEMESIS)
                or not (unknown is False or unknown is True)
            ):
                raise _bad_row(row, source, n)
            position = len(ops)
            index = row.get("index")
            if index.__class__ is not int:
                index = position
            time = row.get("time", 0)
            if time.__class__ is not int:
                time = 0
            extra = NO_EXTRA if row.keys() <= core else {k: v for k, v in row.items() if k not in core}
            append(
                make_op(
                    index,
                    time,
                    process,
                    types[typ],
                    names.setdefault(f, f),
                    row.get("value"),
                    unknown,
                    extra,
                )
            )
            if line_numbers is not None:
                line_numbers.append(n)
            elif n != position + 1:
                line_numbers = [*range(1, position + 1), n]
    return history_class(lenient)(ops, source=source, lines=line_numbers)


def _decode_slow(line: str, source: str, n: int) -> tuple[Any, int]:
    try:
        return DECODER.decode(line), len(line)
    except json.JSONDecodeError as e:
        raise HistoryError(
            f"invalid JSON at column {e.colno}: {e.msg} (each line must be one JSON object)",
            source=source,
            line=n,
        ) from None
    except (ValueError, RecursionError) as e:  # BadValue, an over-long integer, deep nesting
        raise HistoryError(problem_of(e), source=source, line=n) from None


def _check_depth(row: dict[str, Any], source: str, n: int) -> None:
    name = deep_field(row)
    if name is not None:
        raise HistoryError(
            f"field {name!r} is nested more than {MAX_DEPTH} levels deep", source=source, line=n
        )


def _bad_row(row: Any, source: str, n: int) -> HistoryError:
    """Say exactly what is wrong with a decoded line that is not a valid op."""

    def err(problem: str) -> HistoryError:
        return HistoryError(problem, source=source, line=n)

    if not isinstance(row, dict):
        return err(f"expected a JSON object with process, type and f, got {type(row).__name__}")
    for name in ("process", "type", "f"):
        if name not in row:
            return err(f"op is missing the field {name!r}")
    process, typ, f = row["process"], row["type"], row["f"]
    if not isinstance(typ, str) or typ not in OP_TYPES:
        return err(f"unknown op type {typ!r} (expected invoke, ok, fail or info)")
    if not isinstance(f, str):
        return err(f"f must be a string naming the operation, got {f!r}")
    if not (type(process) is int or process == NEMESIS):
        return err(f'process must be an integer or "nemesis", got {process!r}')
    return err(f"unknown must be true or false, got {row.get('unknown')!r}")


def write_jsonl(history_or_ops: Iterable[Op], path_or_file: str | Path | IO[str]) -> None:
    """Write ops as Seam JSONL, one op per line, so that ``load`` reads back equal ops.

    Values JSON cannot hold are written as the nearest JSON value: tuples and
    sets become arrays, other objects their ``str``.
    """
    if isinstance(path_or_file, (str, Path)):
        with open(path_or_file, "w", encoding="utf-8") as fh:
            _write(history_or_ops, fh)
    else:
        _write(history_or_ops, path_or_file)


_encode = json.JSONEncoder(default=lambda o: _jsonable(o)).encode


def _write(ops: Iterable[Op], fh: IO[str]) -> None:
    chunk: list[str] = []
    for op in ops:
        row = op.to_json()
        try:
            chunk.append(_encode(row))
        except TypeError:  # a map with non-string keys, read from EDN
            chunk.append(_encode(_string_keys(row)))
        if len(chunk) >= 10_000:
            chunk.append("")
            fh.write("\n".join(chunk))
            chunk.clear()
    if chunk:
        chunk.append("")
        fh.write("\n".join(chunk))


def _string_keys(v: Any) -> Any:
    if isinstance(v, dict):
        return {
            k if isinstance(k, str) else json.dumps(k, default=_jsonable): _string_keys(x)
            for k, x in v.items()
        }
    if isinstance(v, (list, tuple, set, frozenset)):
        return [_string_keys(x) for x in v]
    return v


def _jsonable(o: Any) -> Any:
    if isinstance(o, (set, frozenset)):
        try:
            return sorted(o)
        except TypeError:
            return list(o)
    if isinstance(o, tuple):
        return list(o)
    return str(o)
