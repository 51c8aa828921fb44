"""The regression corpus: a directory of cases, each re-checked and judged.

A case passes when its checker gives the header's ``verdict`` and the
header's fingerprint is among the anomalies exactly when ``found`` says so.
Otherwise it is ``fixed`` (the anomaly is gone and the verdict is valid: a
bug was mended, so the case's header should now say so) or ``changed`` (any
other difference, such as another kind of anomaly or an unknown verdict).
A case that cannot be read or checked is an ``error``, never a pass.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from harness.core.errors import SeamError
from harness.formats.case import CaseHeader, is_case, read_case
from harness.regress.replay import Recheck, recheck

#: The corpus folder at the project root (``seam regress`` with no argument).
DEFAULT_DIR = "regressions"
#: Statuses, and whether each passes.
PASSING = {"still found": True, "still clean": True, "fixed": False, "changed": False, "error": False}


@dataclass
class Judgement:
    """One case's result: ``status`` is a key of PASSING; ``detail`` says what differed."""

    path: Path
    status: str
    detail: str
    seconds: float
    header: CaseHeader | None = None

    @property
    def ok(self) -> bool:
        return PASSING[self.status]

    @property
    def name(self) -> str:
        """The case's path, relative to the working directory when it is below it."""
        try:
            return str(self.path.resolve().relative_to(Path.cwd().resolve()))
        except ValueError:
            return str(self.path)


def judge(header: CaseHeader, got: Recheck) -> tuple[str, str]:
    """(status, detail) for a case's expectation against its re-check."""
    found = header.fingerprint in got.fingerprints
    expected = f"{header.verdict}" + (f" with {header.fingerprint}" if header.found else "")
    others = sorted(got.fingerprints - {header.fingerprint})
    seen = f"{got.verdict}" + (f" with {header.fingerprint}" if found else "")
    if others:
        seen += f" (also {', '.join(others)})"
    if got.verdict == header.verdict and found == header.found:
        return ("still found" if found else "still clean"), seen
    detail = f"expected {expected}, got {seen}"
    if got.result.error:
        detail += f"; error: {got.result.error}"
    if header.found and not found and got.verdict == "valid":
        return "fixed", detail
    return "changed", detail


def check_case(path: Path) -> Judgement:
    """Re-check one case file and judge it; bad input is an ``error`` judgement."""
    t0 = time.perf_counter()
    try:
        got = recheck(path)
    except SeamError as e:
        return Judgement(path, "error", str(e), time.perf_counter() - t0)
    status, detail = judge(got.case.header, got)
    return Judgement(path, status, detail, time.perf_counter() - t0, got.case.header)


def find_cases(root: Path) -> list[Path]:
    """Every ``*.jsonl`` under ``root`` (or ``root`` itself), sorted; each must be a case."""
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*.jsonl") if p.is_file())


# ---------------------------------------------------------------------------
# promotion: a run's anomalies into the corpus


def promote(run_dir: Path, corpus: Path, *, every: bool = False) -> list[tuple[Path, Path]]:
    """Copy ``run_dir/anomalies/*.jsonl`` into ``corpus/<fingerprint>/<test>-<stamp>-<n>.jsonl``.

    One case per fingerprint (the smallest file) unless ``every``; a case
    whose exact bytes the corpus already holds is skipped. Returns
    (source, copy) pairs. Raises ``InputError`` when the run has no cases.
    """
    from harness.core.errors import InputError

    run_dir = run_dir.resolve()  # results/latest names its run, not "latest"
    folder = run_dir / "anomalies"
    cases = [p for p in sorted(folder.glob("*.jsonl")) if is_case(p)] if folder.is_dir() else []
    if not cases:
        raise InputError(f"{run_dir}: no regression cases under anomalies/ (a run writes them "
                         "when it finds an anomaly; `seam check RUN_DIR` writes them again)")
    chosen: dict[str, Path] = {}
    for p in sorted(cases, key=lambda p: p.stat().st_size):
        fp = read_case(p).header.fingerprint
        key = str(p) if every else fp
        chosen.setdefault(key, p)
    held = {_digest(p) for p in corpus.rglob("*.jsonl")} if corpus.is_dir() else set()
    copied = []
    for src in sorted(chosen.values(), key=lambda p: int(p.stem) if p.stem.isdigit() else 0):
        if _digest(src) in held:
            continue
        header = read_case(src).header
        dst = corpus / _slug(header.fingerprint) / f"{run_dir.parent.name}-{run_dir.name}-{src.stem}.jsonl"
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        copied.append((src, dst))
    return copied


def _slug(fingerprint: str) -> Path:
    """``duplicate-effect/refund`` -> that sub-folder; anything but [A-Za-z0-9._-] becomes '_'."""
    parts = ["".join(c if c.isalnum() or c in "._-" else "_" for c in part) or "_"
             for part in fingerprint.split("/")]
    return Path(*[p if p not in (".", "..") else "_" for p in parts])


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
