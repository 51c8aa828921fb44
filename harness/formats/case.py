"""A regression case: one anomaly as a JSON Lines file that says how to check it.

The first line is the header, a JSON object with ``"seam_case": <format>``:
which checker found the anomaly, its kind and fingerprint, the verdict a
re-check must give, and everything the checker needs besides the rows (the
model, its initial state and ``independent`` for linearizability; a trimmed
test.json for the pipeline checkers) plus where the case came from (run,
seed). The lines after it are either ops, exactly as in a history, or
collected node files (``{"artifact": "nodes/n1/<file>.jsonl", "row":
{...}}`` a row of a JSONL file, ``{"artifact": ..., "json": {...}}`` a whole
JSON file such as a node's config).

Why one file and not a directory: a case must survive being copied, mailed,
promoted into the corpus and read by ``seam check CASE.jsonl`` with no
flags. Ops stay plain history lines, so a case without artifacts reads as a
history once its header is skipped.

This module reads and writes the layout only; re-checking a case is
``harness.regress``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from harness.core.errors import HistoryError
from harness.core.op import History

#: The header's layout version; a reader refuses a newer one instead of guessing.
CASE_FORMAT = 1
HEADER_KEY = "seam_case"
#: What a re-check may give, as the header's ``verdict`` spells it.
VERDICTS = ("valid", "invalid", "unknown")
#: Where an artifact row may be written when a case is replayed: one node's file.
ARTIFACT_ROOT = "nodes"


@dataclass
class CaseHeader:
    """The first line of a case. ``verdict`` is what the checker must say on a
    re-check; ``found`` whether ``fingerprint`` must be among its anomalies
    (a warning, such as ``duplicate-key-alert``, is found in a valid verdict)."""

    kind: str
    checker: str
    fingerprint: str
    verdict: str = "invalid"
    found: bool = True
    severity: str = "error"
    summary: str = ""
    model: str | None = None
    initial: Any = None
    independent: bool = False
    #: test.json without this machine's paths: what the workload's checkers read
    test: dict[str, Any] = field(default_factory=dict)
    #: {"run": "<test>/<stamp>", "seed": N, "anomaly": n} or {"file": ...}
    source: dict[str, Any] = field(default_factory=dict)
    #: how the rows were chosen: shrunk, key, focused, files or whole
    evidence: str = ""
    #: whether the writer re-checked the rows and saw the fingerprint again
    verified: bool | None = None

    def to_json(self) -> dict[str, Any]:
        return {HEADER_KEY: CASE_FORMAT, **asdict(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any], *, source: str) -> CaseHeader:
        version = data.get(HEADER_KEY)
        if not isinstance(version, int) or version > CASE_FORMAT:
            raise HistoryError(f"case format {version!r} is newer than this Seam reads "
                               f"({CASE_FORMAT}); upgrade Seam", source=source, line=1)
        known = set(cls.__dataclass_fields__)
        fields = {k: v for k, v in data.items() if k in known}
        for name in ("kind", "checker", "fingerprint"):
            if not isinstance(fields.get(name), str) or not fields[name]:
                raise HistoryError(f"case header has no {name!r}; a case header names the checker, "
                                   "kind and fingerprint it reproduces", source=source, line=1)
        if fields.get("verdict", "invalid") not in VERDICTS:
            raise HistoryError(f"case header verdict {fields['verdict']!r}: expected one of "
                               f"{', '.join(VERDICTS)}", source=source, line=1)
        for name in ("test", "source"):
            if not isinstance(fields.get(name, {}), dict):
                raise HistoryError(f"case header {name!r} must be an object", source=source, line=1)
        return cls(**fields)


@dataclass
class ArtifactRow:
    """One line of a collected node file (``row``), or a whole JSON file (``whole``)."""

    path: str
    row: dict[str, Any] | None = None
    whole: Any = None

    def to_json(self) -> dict[str, Any]:
        if self.row is not None:
            return {"artifact": self.path, "row": self.row}
        return {"artifact": self.path, "json": self.whole}


@dataclass
class Case:
    header: CaseHeader
    history: History
    artifacts: list[ArtifactRow]
    source: str

    def materialize(self, root: Path) -> None:
        """Write the artifact rows back as ``root/nodes/<node>/<file>`` (and test.json),
        so the checkers read them as they read a run directory."""
        files: dict[str, list[str]] = {}
        for a in self.artifacts:
            if a.row is None:
                _write(root / a.path, json.dumps(a.whole) + "\n")
            else:
                files.setdefault(a.path, []).append(json.dumps(a.row) + "\n")
        for rel, lines in files.items():
            _write(root / rel, "".join(lines))
        if self.header.test:
            _write(root / "test.json", json.dumps(self.header.test))


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


# ---------------------------------------------------------------------------
# writing


def write_case(path: Path, header: CaseHeader, ops: Iterable[dict[str, Any]],
               artifacts: Iterable[ArtifactRow] = ()) -> None:
    """The header, the ops (history rows, in history order), then the artifact rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(_line(header.to_json()))
        fh.writelines(_line(op) for op in ops)
        fh.writelines(_line(a.to_json()) for a in artifacts)


def _line(row: Any) -> str:
    return json.dumps(row, ensure_ascii=False, default=str) + "\n"


# ---------------------------------------------------------------------------
# reading


def is_case(path: Path) -> bool:
    """Whether ``path``'s first non-blank line is a case header (reads at most 64 KiB)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(1 << 16).decode("utf-8", errors="replace")
    except OSError:
        return False
    return is_case_text(head)


def is_case_text(text: str) -> bool:
    for line in text.removeprefix("\ufeff").splitlines():
        if line.strip():
            return f'"{HEADER_KEY}"' in line and _header_of(line) is not None
    return False


def _header_of(line: str) -> dict[str, Any] | None:
    try:
        row = json.loads(line)
    except ValueError:
        return None
    return row if isinstance(row, dict) and HEADER_KEY in row else None


def read_case(path: Path | str) -> Case:
    """Parse a case; ``HistoryError`` names the file, the line and the problem."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise HistoryError(f"cannot read the case: {getattr(e, 'strerror', None) or e}",
                           source=source) from None
    lines = text.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    header_row = None if first is None else _header_of(lines[first])
    if first is None or header_row is None:
        raise HistoryError(f'not a regression case: its first line is not a {{"{HEADER_KEY}": ...}} '
                           "header; check it as a history with --model", source=source, line=1)
    header = CaseHeader.from_json(header_row, source=source)
    artifacts: list[ArtifactRow] = []
    op_lines = list(_split(lines, first, artifacts, source))
    from harness.formats.jsonl import read_jsonl_lines

    return Case(header, read_jsonl_lines(op_lines, source=source), artifacts, source)


def _split(lines: list[str], first: int, artifacts: list[ArtifactRow], source: str) -> Iterator[str]:
    """Op lines, with every other line blanked so the reader's line numbers stay the file's."""
    for n, line in enumerate(lines):
        if n <= first or '"artifact"' not in line:
            yield "" if n <= first else line
            continue
        try:
            row = json.loads(line)
        except ValueError:
            yield line  # the history reader names the bad line
            continue
        if not (isinstance(row, dict) and "artifact" in row):
            yield line
            continue
        artifacts.append(_artifact(row, source, n + 1))
        yield ""


def _artifact(row: dict[str, Any], source: str, line: int) -> ArtifactRow:
    rel = row.get("artifact")
    if not isinstance(rel, str) or not _safe(rel):
        raise HistoryError(f"artifact path {rel!r} must be {ARTIFACT_ROOT}/<node>/<file>, "
                           "relative and without '..'", source=source, line=line)
    if isinstance(row.get("row"), dict):
        return ArtifactRow(rel, row=row["row"])
    if "json" in row:
        return ArtifactRow(rel, whole=row["json"])
    raise HistoryError('an artifact line needs "row" (an object) or "json"', source=source, line=line)


def _safe(rel: str) -> bool:
    p = PurePosixPath(rel)
    parts = p.parts
    return (not p.is_absolute() and "\\" not in rel and len(parts) == 3
            and parts[0] == ARTIFACT_ROOT and all(x not in ("", ".", "..") for x in parts))
