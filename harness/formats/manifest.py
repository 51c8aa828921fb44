"""A check manifest: many history files, each with its own model and expected verdict.

``seam check --manifest FILE`` reads a JSON array of objects, one per history::

    [{"file": "cas/bad-analysis.edn", "model": "cas-register", "initial": 0,
      "expected": "not-linearizable"},
     {"file": "etcd_000.log", "expected": "linearizable", "note": "etcd, from Porcupine"}]

Why: a corpus of foreign histories (Knossos data, Jepsen archives, histories
kept from past incidents) mixes models and initial states, which ``--model``
and ``--initial`` can give only for all files at once. One process for the
whole corpus also starts Python once, not once per model.

Keys: ``file`` (required; relative to the manifest's folder unless
absolute), ``model``, ``initial`` (any JSON value), ``independent`` (bool),
``format`` (a history format; default auto), ``expected``
(``linearizable``, ``not-linearizable`` or ``unknown``) and ``note``
(ignored). Any other key is refused, so that a misspelt ``intial`` is not
silently a different check.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.core.errors import HistoryError
from harness.formats import FORMATS, open_regular
from harness.formats.values import BadValue, loads

#: What ``expected`` may say, and the exit code of ``seam check`` that means it.
EXPECTED = {"linearizable": 0, "not-linearizable": 1, "unknown": 2}
KEYS = ("file", "model", "initial", "independent", "format", "expected", "note")
_NO_INITIAL = object()


@dataclass(frozen=True)
class Entry:
    """One history of a manifest; ``has_initial`` tells ``initial: null`` from no initial."""

    path: Path
    name: str
    model: str | None = None
    initial: Any = None
    has_initial: bool = False
    independent: bool = False
    fmt: str = "auto"
    expected: str | None = None


def read_manifest(path: Path) -> list[Entry]:
    """The entries of the manifest at ``path``; any problem is a HistoryError naming the entry."""
    source = str(path)
    with open_regular(path, source) as fh:
        try:
            text = fh.read().decode("utf-8-sig")
        except (OSError, UnicodeDecodeError) as e:
            raise HistoryError(f"cannot read the manifest: {e}", source=source) from None
    try:
        rows = loads(text)
    except json.JSONDecodeError as e:
        raise HistoryError(f"not JSON: {e.msg}", source=source, line=e.lineno) from None
    except (BadValue, ValueError) as e:
        raise HistoryError(f"not a manifest: {e}", source=source) from None
    if not isinstance(rows, list) or not rows:
        raise HistoryError(
            'a manifest is a non-empty JSON array of {"file": ..., "model": ...} objects',
            source=source,
        )
    return [_entry(row, i, path.parent, source) for i, row in enumerate(rows, 1)]


def _entry(row: Any, n: int, folder: Path, source: str) -> Entry:
    def bad(problem: str) -> HistoryError:
        return HistoryError(f"entry {n}: {problem}", source=source)

    if not isinstance(row, dict):
        raise bad(f'expected an object like {{"file": "h.edn"}}, got {json.dumps(row)[:60]}')
    unknown = sorted(set(row) - set(KEYS))
    if unknown:
        raise bad(f"unknown key {unknown[0]!r}; a manifest entry has {', '.join(KEYS)}")
    file = row.get("file")
    if not isinstance(file, str) or not file or file == "-":
        raise bad('"file" must name a history file (stdin cannot be one)')
    model = row.get("model")
    if model is not None and not isinstance(model, str):
        raise bad(f'"model" must be a model name, got {model!r}')
    if not isinstance(row.get("independent", False), bool):
        raise bad('"independent" must be true or false')
    fmt = row.get("format", "auto")
    if fmt not in FORMATS:
        raise bad(f'"format" must be one of {", ".join(FORMATS)}, got {fmt!r}')
    expected = row.get("expected")
    if expected is not None and expected not in EXPECTED:
        raise bad(f'"expected" must be one of {", ".join(EXPECTED)}, got {expected!r}')
    initial = row.get("initial", _NO_INITIAL)
    return Entry(
        path=folder / file,
        name=str(folder / file),
        model=model,
        initial=None if initial is _NO_INITIAL else initial,
        has_initial=initial is not _NO_INITIAL,
        independent=row.get("independent", False),
        fmt=fmt,
        expected=expected,
    )
