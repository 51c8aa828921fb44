"""Linearizability checking, as a pipeline written down once.

    History.calls -> models (validate) -> partition (per key) -> search
                  -> explain + shrink (failing keys) -> narrate
                  -> checker (CheckResult)

``models`` are sequential specifications, ``search`` is Wing and Gong's
search with Lowe's memoization, ``partition`` splits a history by key and
searches each key, ``explain`` turns a failing key into data (with a
sub-history that ``shrink`` cut down by delta debugging), ``narrate`` tells
that data as text, and ``checker.LinearizableChecker`` is the Checker that
``seam check`` and ``seam test`` compose. Names below are imported on first
use, so ``import checkers.linearizable`` costs nothing.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "LinearizableChecker": "checkers.linearizable.checker",
    "Explanation": "checkers.linearizable.explain",
    "explain": "checkers.linearizable.explain",
    "narrate": "checkers.linearizable.narrate",
    "write_explanation_jsonl": "checkers.linearizable.explain",
    "get_model": "checkers.linearizable.models",
    "MODELS": "checkers.linearizable.models",
    "search": "checkers.linearizable.search",
    "check_history": "checkers.linearizable.partition",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'checkers.linearizable' has no attribute {name!r}")
