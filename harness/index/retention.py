"""Which old runs ``seam runs --prune`` may delete, and deleting them.

The rule that matters: a run is the only copy of the anomalies it found until
they are promoted into the regression corpus (``regressions/``, one case file
per anomaly whose header names its fingerprint). So a run with an anomaly
whose fingerprint no case carries is kept unless ``--force``, and so is a run
that was never checked (no results.json: ``seam check`` it first). The
decision (``plan_prune``) is pure and is shown before anything is deleted.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from harness.index.db import RunIndex
from harness.index.records import RunRecord


@dataclass
class Decision:
    run: RunRecord
    delete: bool
    reason: str


def corpus_fingerprints(corpus: Path) -> set[str]:
    """The fingerprint in the header line of every case under ``corpus``."""
    from harness.formats.case import HEADER_KEY

    found: set[str] = set()
    for case in sorted(corpus.rglob("*.jsonl")) if corpus.is_dir() else []:
        try:
            with open(case, encoding="utf-8-sig") as fh:
                header = json.loads(fh.readline() or "null")
        except (OSError, ValueError):
            continue
        if isinstance(header, dict) and HEADER_KEY in header and isinstance(header.get("fingerprint"), str):
            found.add(header["fingerprint"])
    return found


def plan_prune(runs: Iterable[RunRecord], *, now: datetime, keep_days: float, keep_invalid: bool,
               corpus: set[str], force: bool) -> list[Decision]:
    """Keep or delete each run, with the reason; nothing is touched."""
    cutoff = (now - timedelta(days=keep_days)).isoformat(timespec="seconds")
    decisions = []
    for run in runs:
        missing = [fp for fp in run.fingerprints if fp not in corpus]
        if run.start >= cutoff:
            d = Decision(run, False, f"newer than {keep_days:g} days")
        elif keep_invalid and run.verdict == "invalid":
            d = Decision(run, False, "invalid (--keep-invalid)")
        elif run.verdict == "incomplete" and not force:
            d = Decision(run, False, "never checked (no results.json): `seam check` it, or --force")
        elif missing and not force:
            d = Decision(run, False, f"{', '.join(missing)} not in the regression corpus: "
                                     f"`seam regress --promote {run.id}`, or --force")
        else:
            d = Decision(run, True, f"older than {keep_days:g} days" + (" (--force)" if missing else ""))
        decisions.append(d)
    return decisions


def delete_runs(index: RunIndex, decisions: Iterable[Decision]) -> list[str]:
    """Delete the chosen run directories, drop them from the index, mend ``latest`` links."""
    deleted = []
    for d in decisions:
        if not d.delete:
            continue
        shutil.rmtree(index.root / d.run.id, ignore_errors=True)
        deleted.append(d.run.id)
    index.remove(deleted)
    _mend_links(index.root, {d.split("/")[0] for d in deleted})
    return deleted


def _mend_links(root: Path, tests: set[str]) -> None:
    """A ``latest`` link whose run was deleted points at the newest run left, or goes;
    a test directory left with no run goes too."""
    for test in tests:
        test_dir = root / test
        left = sorted(p.name for p in test_dir.iterdir() if p.is_dir() and not p.is_symlink()) \
            if test_dir.is_dir() else []
        _relink(test_dir / "latest", Path(left[-1]) if left else None)
        if not left and test_dir.is_dir():
            shutil.rmtree(test_dir, ignore_errors=True)
    latest = root / "latest"
    if latest.is_symlink() and not latest.exists():
        runs = sorted((p for p in root.glob("*/*") if p.is_dir() and not p.is_symlink()
                       and not p.parent.is_symlink() and p.parent.name != "nights" and not p.parent.name.startswith(".")),
                      key=lambda p: p.name)
        _relink(latest, Path(runs[-1].parent.name) / runs[-1].name if runs else None)


def _relink(link: Path, target: Path | None) -> None:
    if not link.is_symlink() or link.exists():
        return
    link.unlink()
    if target is not None:
        os.symlink(target, link)
