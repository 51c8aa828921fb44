"""The cross-run index: one SQLite file, ``results/index.sqlite``.

Why SQLite and not a JSON file: several ``seam test`` processes may finish at
once, and each adds its run; SQLite's file lock makes those writes safe and
lets ``seam runs`` filter thousands of runs without reading every directory.
Why it may be thrown away at any time: the run directories stay the source
of truth. ``sync`` brings the index in step with ``results/`` (a run it has
not seen, a run re-checked since, a run deleted by hand, a night's list of
runs), and a schema change simply rebuilds it, so there are no migrations.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.index.records import (
    AnomalyRow,
    LatencyRow,
    RunRecord,
    coverage_key,
    read_run,
    results_mtime,
    run_id,
)
from harness.store import TEST_JSON, read_json_object

INDEX_FILE = "index.sqlite"
#: ``results/nights/<stamp>/night.json``: what one ``seam nightly`` ran.
NIGHTS_DIR = "nights"
NIGHT_JSON = "night.json"
#: Bumped when a table changes; an index of another version is rebuilt from the runs.
SCHEMA = 1
#: A run directory's name: the start stamp, with -N when two runs shared a second.
RUN_DIR_NAME = re.compile(r"^\d{8}T\d{6}(-\d+)?$")

_RUN_COLUMNS = ("id", "test", "target", "workload", "faults", "bugs", "scenario", "options", "seed", "start",
                "seconds", "verdict", "exit_code", "ops", "ok", "fail", "info", "throughput", "latency_f",
                "p50_ms", "p95_ms", "p99_ms", "night", "mtime")

_TABLES = """
CREATE TABLE runs (
    id TEXT PRIMARY KEY, test TEXT NOT NULL, target TEXT, workload TEXT, faults TEXT, bugs TEXT,
    scenario TEXT, options TEXT, seed INTEGER, start TEXT, seconds REAL, verdict TEXT NOT NULL,
    exit_code INTEGER, ops INTEGER, ok INTEGER, fail INTEGER, info INTEGER, throughput REAL,
    latency_f TEXT, p50_ms REAL, p95_ms REAL, p99_ms REAL, night TEXT, mtime REAL
);
CREATE INDEX runs_start ON runs (start);
CREATE TABLE anomalies (
    run TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE, n INTEGER, checker TEXT, kind TEXT,
    fingerprint TEXT, severity TEXT, summary TEXT
);
CREATE INDEX anomalies_fingerprint ON anomalies (fingerprint);
CREATE INDEX anomalies_run ON anomalies (run);
CREATE TABLE latency (
    run TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE, f TEXT, type TEXT, count INTEGER,
    p50_ms REAL, p95_ms REAL, p99_ms REAL, max_ms REAL
);
CREATE INDEX latency_run ON latency (run);
CREATE TABLE nights (
    stamp TEXT PRIMARY KEY, started TEXT, ended TEXT, budget_seconds REAL, stopped TEXT
);
"""


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


@dataclass
class FingerprintRow:
    """One fingerprint across runs. ``new``: first seen in the latest night."""

    fingerprint: str
    kind: str
    severity: str
    first_seen: str
    last_seen: str
    runs: int
    first_run: str
    last_run: str
    new: bool


def run_dirs(root: Path) -> Iterator[Path]:
    """Every run directory under ``root``: ``<test>/<stamp>/`` holding test.json.

    ``latest`` links, ``nights/`` and hidden directories (``.cluster``) are not tests."""
    if not root.is_dir():
        return
    for test_dir in sorted(root.iterdir()):
        if test_dir.is_symlink() or not test_dir.is_dir() or test_dir.name.startswith(".") \
                or test_dir.name == NIGHTS_DIR:
            continue
        for run_dir in sorted(test_dir.iterdir()):
            if not run_dir.is_symlink() and run_dir.is_dir() and (run_dir / TEST_JSON).is_file():
                yield run_dir


def night_runs(root: Path) -> dict[str, dict[str, Any]]:
    """stamp -> night.json, for every night under ``results/nights/``."""
    nights: dict[str, dict[str, Any]] = {}
    folder = root / NIGHTS_DIR
    if folder.is_dir():
        for night in sorted(folder.iterdir()):
            data = read_json_object(night / NIGHT_JSON)
            if data:
                nights[night.name] = data
    return nights


class RunIndex:
    """The index of the runs under one results root. Use as a context manager."""

    def __init__(self, root: str | Path = "results"):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.path = self.root / INDEX_FILE
        # A writer waits for another (two runs finishing at once) instead of failing.
        self._db = sqlite3.connect(self.path, timeout=60)
        self._db.execute("PRAGMA foreign_keys = ON")
        self._ensure_schema()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> RunIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _ensure_schema(self) -> None:
        """Create the tables (or recreate them for another schema), once: two runs
        finishing at once both see an empty file, so the check is repeated under
        the write lock."""
        if self._version() == SCHEMA:
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            if self._version() != SCHEMA:
                for table in ("latency", "anomalies", "runs", "nights"):
                    self._db.execute(f"DROP TABLE IF EXISTS {table}")
                for statement in _TABLES.split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {SCHEMA}")
            self._db.commit()
        except BaseException:
            self._db.rollback()
            raise

    # -- writing ------------------------------------------------------------

    def add(self, rec: RunRecord) -> None:
        """Insert or replace one run's rows (a re-check replaces its anomalies)."""
        values = {**{c: getattr(rec, c) for c in _RUN_COLUMNS}, "options": json.dumps(rec.options, default=str)}
        with self._db:
            if rec.night is None:  # keep the night a run was given when it ran
                row = self._db.execute("SELECT night FROM runs WHERE id = ?", (rec.id,)).fetchone()
                values["night"] = row[0] if row else None
            self._db.execute("DELETE FROM runs WHERE id = ?", (rec.id,))
            self._db.execute(f"INSERT INTO runs ({', '.join(_RUN_COLUMNS)}) VALUES ({', '.join('?' * len(_RUN_COLUMNS))})",
                             [values[c] for c in _RUN_COLUMNS])
            self._db.executemany("INSERT INTO anomalies VALUES (?, ?, ?, ?, ?, ?, ?)",
                                 [(rec.id, n, a.checker, a.kind, a.fingerprint, a.severity, a.summary)
                                  for n, a in enumerate(rec.anomalies, start=1)])
            self._db.executemany("INSERT INTO latency VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                 [(rec.id, r.f, r.type, r.count, r.p50_ms, r.p95_ms, r.p99_ms, r.max_ms)
                                  for r in rec.latency])

    def index_run(self, run_dir: Path, *, night: str | None = None) -> RunRecord | None:
        """Read ``run_dir`` and add it; None when it is not a run directory."""
        rec = read_run(run_dir, self.root)
        if rec is not None:
            rec.night = night
            self.add(rec)
        return rec

    def remove(self, ids: Iterable[str]) -> None:
        with self._db:
            self._db.executemany("DELETE FROM runs WHERE id = ?", [(i,) for i in ids])

    def record_night(self, stamp: str, night: dict[str, Any]) -> None:
        """A night's row, and each of its runs marked as run by that night."""
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO nights VALUES (?, ?, ?, ?, ?)",
                             (stamp, night.get("started"), night.get("ended"), night.get("budget_seconds"),
                              night.get("stopped")))
            ids = [r["id"] for r in night.get("runs") or [] if isinstance(r, dict) and r.get("id")]
            self._db.executemany("UPDATE runs SET night = ? WHERE id = ?", [(stamp, i) for i in ids])

    def sync(self) -> SyncReport:
        """Bring the index in step with the run directories and night files."""
        report = SyncReport()
        known = dict(self._db.execute("SELECT id, mtime FROM runs").fetchall())
        seen: set[str] = set()
        for run_dir in run_dirs(self.root):
            rid = run_id(run_dir, self.root)
            seen.add(rid)
            if rid in known and known[rid] == results_mtime(run_dir):
                continue
            if self.index_run(run_dir) is not None:
                (report.updated if rid in known else report.added).append(rid)
        report.removed = sorted(set(known) - seen)
        self.remove(report.removed)
        for stamp, night in night_runs(self.root).items():
            self.record_night(stamp, night)
        return report

    def rebuild(self) -> SyncReport:
        """Forget everything and index every run directory again."""
        with self._db:
            for table in ("latency", "anomalies", "runs", "nights"):
                self._db.execute(f"DELETE FROM {table}")
        return self.sync()

    # -- reading ------------------------------------------------------------

    def runs(self, *, test: str | None = None, since: str | None = None,
             verdicts: Iterable[str] = (), night: str | None = None) -> list[RunRecord]:
        """Runs, oldest first; ``since`` is an ISO time compared with each run's start."""
        where, args = [], []
        for column, value in (("test", test), ("night", night)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if since is not None:
            where.append("start >= ?")
            args.append(since)
        chosen = list(verdicts)
        if chosen:
            where.append(f"verdict IN ({', '.join('?' * len(chosen))})")
            args.extend(chosen)
        sql = f"SELECT {', '.join(_RUN_COLUMNS)} FROM runs"
        sql += (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY start, id"
        records = [self._record(row) for row in self._db.execute(sql, args).fetchall()]
        self._attach(records)
        return records

    def _record(self, row: tuple[Any, ...]) -> RunRecord:
        data = dict(zip(_RUN_COLUMNS, row, strict=True))
        data["options"] = json.loads(data["options"] or "{}")
        return RunRecord(**data)

    def _attach(self, records: list[RunRecord]) -> None:
        by_id = {r.id: r for r in records}
        for run, *rest in self._db.execute(
                "SELECT run, checker, kind, fingerprint, severity, summary FROM anomalies ORDER BY run, n"):
            if run in by_id:
                by_id[run].anomalies.append(AnomalyRow(*rest))
        for run, *rest in self._db.execute(
                "SELECT run, f, type, count, p50_ms, p95_ms, p99_ms, max_ms FROM latency"):
            if run in by_id:
                by_id[run].latency.append(LatencyRow(*rest))

    def latest_night(self) -> str | None:
        (stamp,) = self._db.execute("SELECT MAX(stamp) FROM nights").fetchone()
        return stamp

    def fingerprints(self) -> list[FingerprintRow]:
        """Every fingerprint with first and last seen, in order of first appearance."""
        latest = self.latest_night()
        rows = self._db.execute(
            "SELECT a.fingerprint, a.kind, a.severity, r.id, r.start, r.night FROM anomalies a "
            "JOIN runs r ON r.id = a.run ORDER BY r.start, r.id").fetchall()
        found: dict[str, FingerprintRow] = {}
        runs: dict[str, set[str]] = {}
        for fp, kind, severity, rid, start, night in rows:
            if fp not in found:
                found[fp] = FingerprintRow(fp, kind, severity, start, start, 0, rid, rid,
                                           new=latest is not None and night == latest)
            row = found[fp]
            row.last_seen, row.last_run = start, rid
            if severity == "error":
                row.severity = "error"
            runs.setdefault(fp, set()).add(rid)
            row.runs = len(runs[fp])
        return list(found.values())

    def coverage(self) -> Counter[tuple[str, str, str]]:
        """How many runs tried each combination (``records.coverage_key``)."""
        counts: Counter[tuple[str, str, str]] = Counter()
        for w, f, b, s, n in self._db.execute("SELECT workload, faults, bugs, scenario, COUNT(*) FROM runs "
                                              "GROUP BY workload, faults, bugs, scenario"):
            counts[coverage_key(w or "", f or "", b or "", s or "")] += n
        return counts
