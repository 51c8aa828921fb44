"""Pick a history format from the first lines of the text.

The first line that is neither blank nor an EDN ``;`` comment decides:
``{"`` is Seam JSONL; ``INFO ... jepsen.util`` is a Porcupine etcd log;
``{:`` lines that each hold one whole map with ``:key`` are Porcupine kv
lines; any other ``[``, ``(`` or ``{`` starts a Jepsen EDN history.
"""

from __future__ import annotations

import re

from harness.core.errors import HistoryError

#: Concrete formats, in the order ``--format`` lists them.
CONCRETE = ("jsonl", "edn", "porcupine-etcd", "porcupine-kv")

_JSON_OBJECT = re.compile(r'\{\s*"')
_KV_PROBE_LINES = 5


def detect(text: str, *, source: str = "<string>") -> str:
    """The concrete format of ``text``; HistoryError if it is empty or unrecognisable."""
    first = _meaningful_lines(text.removeprefix("\ufeff"), _KV_PROBE_LINES)
    if not first:
        raise HistoryError("no operations: the history is empty", source=source)
    line = first[0]
    if _JSON_OBJECT.match(line):
        return "jsonl"
    if line.startswith("INFO") and "jepsen.util" in line:
        return "porcupine-etcd"
    if line.startswith("{:") and all(_is_kv_line(x) for x in first):
        return "porcupine-kv"
    if line[0] in "[({":
        return "edn"
    shown = line if len(line) <= 40 else line[:37] + "..."
    raise HistoryError(
        f"cannot tell the history format from its first line {shown!r}; "
        f"pass --format {'|'.join(CONCRETE)}",
        source=source,
    )


def _is_kv_line(line: str) -> bool:
    return line.startswith("{") and line.endswith("}") and ":key " in line


def _meaningful_lines(text: str, limit: int) -> list[str]:
    """Up to ``limit`` stripped lines that are not blank or comments, without splitting all of ``text``."""
    out: list[str] = []
    pos = 0
    size = len(text)
    while pos < size and len(out) < limit:
        end = text.find("\n", pos)
        if end < 0:
            end = size
        line = text[pos:end].strip()
        pos = end + 1
        if line and not line.startswith(";"):
            out.append(line)
    return out
