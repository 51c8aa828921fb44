"""History readers and the JSONL writer.

Every reader returns a validated ``harness.core.op.History`` and raises
``HistoryError`` (an ``InputError``, exit code 3) naming the file, the line
and the problem for any bad input, including values no checker can compare
(``harness.formats.values``). Files are opened without blocking and must be
regular files: a FIFO or a device would make ``seam check`` hang or read
forever; a stream is read from stdin instead (``read_data``). Each foreign format keeps its own
meaning (DESIGN section 4): see the module of each reader.

    load(path, fmt="auto", *, lenient=False) -> History
    read_text(text, fmt="auto", *, source="<string>", lenient=False) -> History
    read_data(data, fmt="auto", *, source="<stdin>", lenient=False) -> History  (bytes, e.g. stdin)

``lenient`` (JSONL and EDN) keeps completions with no invoke and overlapping
invokes of one process, as transactional histories from Elle's tests hold
(``harness.formats._build.LenientHistory``); only ``checkers.txn`` reads those.
    read_head(path) -> str                                          (to detect a format)
    write_jsonl(history_or_ops, path_or_file) -> None
    detect(text) -> "jsonl" | "edn" | "porcupine-etcd" | "porcupine-kv"
"""

from __future__ import annotations

import importlib
import io
import os
import stat
from pathlib import Path
from typing import BinaryIO

from harness.core.errors import HistoryError
from harness.core.op import History
from harness.formats.detect import CONCRETE, detect
from harness.formats.jsonl import read_jsonl_lines, write_jsonl

__all__ = [
    "FORMATS",
    "detect",
    "load",
    "open_regular",
    "read_data",
    "read_head",
    "read_text",
    "write_jsonl",
]

FORMATS = ("auto", *CONCRETE)

# Readers are imported when first used, so reading JSONL never loads the EDN code.
_READERS = {
    "jsonl": "harness.formats.jsonl:read_jsonl",
    "edn": "harness.formats.knossos:read_edn",
    "porcupine-etcd": "harness.formats.porcupine:read_etcd_log",
    "porcupine-kv": "harness.formats.porcupine:read_kv",
}


def read_text(
    text: str, fmt: str = "auto", *, source: str = "<string>", lenient: bool = False
) -> History:
    """Parse a history held in a string; ``fmt`` is one of FORMATS."""
    if fmt not in FORMATS:
        raise HistoryError(
            f"unknown history format {fmt!r}; use one of {', '.join(FORMATS)}", source=source
        )
    if text.startswith("\ufeff"):
        text = text[1:]
    if fmt == "auto":
        fmt = detect(text, source=source)
    module, name = _READERS[fmt].split(":")
    extra = {"lenient": True} if lenient and fmt in ("jsonl", "edn") else {}
    history: History = getattr(importlib.import_module(module), name)(text, source=source, **extra)
    if not history.ops:
        raise HistoryError(
            f"no operations: the {fmt} history holds no client or nemesis op", source=source
        )
    return history


def load(path: str | Path, fmt: str = "auto", *, lenient: bool = False) -> History:
    """Read a history file; errors name the file as given.

    JSONL is read line by line from the open file, so a large history is
    never held in memory twice (as text and as ops).
    """
    source = str(path)
    if fmt not in FORMATS:
        return read_text("", fmt, source=source)  # raises: unknown format
    if fmt in ("auto", "jsonl"):
        head = _read(path, source, limit=1 << 16)
        if (
            fmt == "jsonl"
            or detect(head.decode("utf-8", errors="replace"), source=source) == "jsonl"
        ):
            try:
                raw = open_regular(path, source)
                with io.TextIOWrapper(raw, encoding="utf-8-sig", newline="\n") as fh:
                    history = read_jsonl_lines(fh, source=source, lenient=lenient)
            except UnicodeDecodeError:
                pass  # read it whole below, to name the line
            except OSError as e:  # an I/O error mid-file
                raise HistoryError(
                    f"cannot read the history: {e.strerror or e}", source=source
                ) from None
            else:
                if not history.ops:
                    raise HistoryError(
                        "no operations: the jsonl history holds no op", source=source
                    )
                return history
    return read_data(_read(path, source), fmt, source=source, lenient=lenient)


def read_data(
    data: bytes, fmt: str = "auto", *, source: str = "<stdin>", lenient: bool = False
) -> History:
    """Parse a history held in bytes (UTF-8, as read from stdin or a file)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise HistoryError(
            f"not UTF-8 text ({e.reason} at byte {e.start})", source=source, line=line
        ) from None
    return read_text(text, fmt, source=source, lenient=lenient)


def read_head(path: str | Path, *, source: str | None = None) -> str:
    """The first 64 KiB of a history file as text, enough to ``detect`` its format."""
    head = _read(path, str(path) if source is None else source, limit=1 << 16)
    return head.decode("utf-8", errors="replace")


def open_regular(path: str | Path, source: str) -> BinaryIO:
    """Open ``path`` for reading, refusing anything but a regular file, without blocking.

    ``O_NONBLOCK`` makes opening a FIFO return at once instead of waiting
    for a writer; ``fstat`` on the open descriptor then tells what it is (no
    race with a rename). Regular files ignore the flag.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise HistoryError(f"cannot read the history: {e.strerror or e}", source=source) from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise HistoryError(
            f"not a regular file ({_kind(mode)}); to check a stream, pipe it to `seam check -`",
            source=source,
        )
    return os.fdopen(fd, "rb")


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a file"


def _read(path: str | Path, source: str, limit: int = -1) -> bytes:
    with open_regular(path, source) as fh:
        try:
            return fh.read(limit)
        except OSError as e:
            raise HistoryError(
                f"cannot read the history: {e.strerror or e}", source=source
            ) from None
