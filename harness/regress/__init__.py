"""Regression cases: every anomaly found becomes a case that re-checks on its own.

Three parts, in the order a case lives:

* ``capture``: a results writer turns each anomaly into a case (header,
  ops, collected rows), widening the evidence until the case alone shows
  the anomaly again;
* ``replay``: ``seam check CASE.jsonl`` and the corpus re-check a case with
  the checker, model, initial state and ``independent`` its header names;
* ``corpus``: ``seam regress [DIR]`` judges every case under ``regressions/``
  and ``--promote RUN_DIR`` copies a run's cases in.

The file layout is ``harness.formats.case``.
"""

from __future__ import annotations

from harness.regress.capture import Capture, CaseParts
from harness.regress.corpus import DEFAULT_DIR, Judgement, check_case, find_cases, judge, promote
from harness.regress.replay import Recheck, recheck

__all__ = [
    "DEFAULT_DIR",
    "Capture",
    "CaseParts",
    "Judgement",
    "Recheck",
    "check_case",
    "find_cases",
    "judge",
    "promote",
    "recheck",
]
