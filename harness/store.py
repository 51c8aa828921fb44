"""A run on disk, written as it happens (DESIGN section 5).

``RunStore`` creates ``results/<test>/<YYYYmmddTHHMMSS>/`` and keeps the
history there as JSON Lines. Why the history is written the way it is:

* every op is one ``write(2)`` of one whole line on an ``O_APPEND`` file
  descriptor, with no user-space buffer in between (made with the GIL held:
  see ``_libc_write``). A control node killed
  with SIGKILL therefore loses nothing it had recorded: the kernel holds
  every completed write, and there is never half a line from us in the
  page cache. (A power cut can still tear the last line; readers tolerate
  a truncated *last* line, and ``close`` fsyncs.)
* ``record`` is thread-safe: any of the interpreter's threads may record
  (it calls ``record`` under its own lock), and the file order is the order
  ``record`` was called, which is the order the control node saw the ops.

The ``latest`` links are made when the run starts, not when it ends, so a
crashed run is the one ``seam check results/latest`` finds.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import threading
from collections.abc import Sequence
from datetime import datetime
from errno import EINTR
from pathlib import Path
from typing import Any

import msgspec

from harness.core.errors import ConfigError
from harness.core.faults import FaultTimeline
from harness.core.op import Op
from harness.core.verdict import UNKNOWN_VERDICT, CheckResult, exit_code, link_causes, merge_valid
from harness.formats.case import write_case
from harness.regress.evidence import NO_FILES, CaseFiles

HISTORY = "history.jsonl"
TEST_JSON = "test.json"
RESULTS_JSON = "results.json"
SERIES_JSON = "series.json"
ANOMALIES = "anomalies"
LOG_FILE = "seam.log"
#: results.json's layout version: 2 added schema, test, seed, exit_code and moved
#: graph series to series.json.
RESULTS_SCHEMA = 2
STAMP_FORMAT = "%Y%m%dT%H%M%S"

_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _dumps(row: Any) -> str:
    # default=str keeps an odd value (a tuple key, a Path) from killing the run.
    return json.dumps(row, separators=(", ", ": "), default=str)


_LINE_ENCODER = msgspec.json.Encoder(enc_hook=str)


def _line(row: Any) -> bytes:
    """One history line. msgspec, at a tenth of json.dumps's cost: every op pays it twice,
    under the interpreter's lock. An odd value (a Path, a tuple key) is written as its
    text; whatever msgspec still refuses goes through json."""
    try:
        return _LINE_ENCODER.encode(row) + b"\n"
    except (TypeError, ValueError, OverflowError):
        return (_dumps(row) + "\n").encode()


def fresh_dir(parent: Path, stamp: str) -> Path | None:
    """Create ``parent/stamp``, or ``stamp-1``, ``stamp-2`` ... when runs (or nights)
    started in the same second; None after a thousand tries."""
    for n in range(1000):
        candidate = parent / (stamp if n == 0 else f"{stamp}-{n}")
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
    return None


class RunStore:
    """One run's directory. Use as a context manager, or call ``close``."""

    def __init__(self, root: str | Path = "results", test_name: str = "test", start: datetime | None = None):
        if not test_name or "/" in test_name or test_name.startswith("."):
            raise ConfigError(f"test name {test_name!r} cannot be a directory name; use letters, digits and dashes")
        self.root = Path(root)
        self.test_name = test_name
        self.start = start or datetime.now()
        self._path = self._make_dir()
        self._lock = threading.Lock()
        self._fd: int | None = os.open(
            self._path / HISTORY, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644
        )
        self.ops_recorded = 0
        self._handler: logging.Handler | None = None
        self._link_latest()

    # -- layout ---------------------------------------------------------------

    @property
    def path(self) -> Path:
        return self._path

    @property
    def history_path(self) -> Path:
        return self._path / HISTORY

    def nodes_dir(self, node: str) -> Path:
        """``nodes/<node>/``, where a target's collected files go."""
        d = self._path / "nodes" / node
        d.mkdir(parents=True, exist_ok=True)
        return d

    def _make_dir(self) -> Path:
        test_dir = self.root / self.test_name
        try:
            test_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ConfigError(f"cannot create results directory {test_dir}: {e.strerror}; pass --results DIR") from None
        stamp = self.start.strftime(STAMP_FORMAT)
        made = fresh_dir(test_dir, stamp)
        if made is None:
            raise ConfigError(f"too many runs of {self.test_name} started at {stamp} in {test_dir}")
        return made

    def _link_latest(self) -> None:
        """Point results/latest and results/<test>/latest here, with relative links."""
        _replace_symlink(self.root / "latest", Path(self.test_name) / self._path.name)
        _replace_symlink(self.root / self.test_name / "latest", Path(self._path.name))

    # -- writing --------------------------------------------------------------

    def record(self, op: Op) -> None:
        """Append one op as one line, written by one system call (see module doc)."""
        line = _line(op.to_json())
        with self._lock:
            if self._fd is None:
                raise ValueError(f"{self.history_path}: record after close")
            _write_all(self._fd, line)
            self.ops_recorded += 1

    def write_json(self, name: str, data: Any) -> Path:
        """Write ``name`` atomically (temp file + rename), so a reader never sees half."""
        return write_json_atomic(self._path / name, data)

    def log_handler(self, level: int = logging.INFO) -> logging.Handler:
        """A handler writing ``seam.log``; attach it to the ``seam`` logger for the run."""
        if self._handler is None:
            h = logging.FileHandler(self._path / LOG_FILE)
            h.setLevel(level)
            h.setFormatter(logging.Formatter(_LOG_FORMAT))
            self._handler = h
        return self._handler

    def close(self) -> None:
        """fsync and close the history; detach and close the log handler. Idempotent."""
        with self._lock:
            fd, self._fd = self._fd, None
        if fd is not None:
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        if self._handler is not None:
            logging.getLogger("seam").removeHandler(self._handler)
            self._handler.close()
            self._handler = None

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _write_all(fd: int, data: bytes) -> None:
    # A regular file takes the whole line in one write; the loop only covers
    # a short write (disk full is raised, not looped on).
    while data:
        n = _write(fd, data)
        data = data[n:]


def _libc_write() -> Any:
    """write(2) called with the GIL held, or None where libc cannot be loaded.

    ``os.write`` lets go of the GIL for the call. The interpreter records under
    the lock every worker needs after its call, so the writer then waited to get
    the GIL back from a client thread while everyone waited for the lock: most
    of the harness's share of an op's latency at 10 clients (issue 23). A write
    of one line to the page cache takes about a microsecond; holding the GIL for
    it costs nobody anything.
    """
    try:
        fn = ctypes.PyDLL(None, use_errno=True).write
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t]
    fn.restype = ctypes.c_ssize_t
    return fn


_LIBC_WRITE = _libc_write()


def _write(fd: int, data: bytes) -> int:
    if _LIBC_WRITE is None:
        return os.write(fd, data)
    while True:
        n = _LIBC_WRITE(fd, data, len(data))
        if n >= 0:
            return int(n)
        errno = ctypes.get_errno()
        if errno != EINTR:
            raise OSError(errno, os.strerror(errno))


def _replace_symlink(link: Path, target: Path) -> None:
    tmp = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    try:
        tmp.unlink()
    except FileNotFoundError:
        pass
    os.symlink(target, tmp)
    os.replace(tmp, link)


# ---------------------------------------------------------------------------
# results: one writer for a run and a re-check


def write_json_atomic(dst: Path, data: Any) -> Path:
    """Write ``dst`` atomically (temp file + rename), so a reader never sees half."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, default=str, ensure_ascii=False)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, dst)
    return dst


def write_results(
    out_dir: Path,
    result: CheckResult,
    *,
    history: Sequence[Op] = (),
    test: dict[str, Any] | None = None,
    run: dict[str, Any] | None = None,
    case_files: CaseFiles = NO_FILES,
) -> list[str]:
    """results.json, anomalies/<n>.jsonl and series.json for one check of one history.

    The only writer of results.json: ``seam test`` calls it at the end of a
    run and ``seam check RUN_DIR`` after a re-check, so both leave the same
    layout. ``result`` is a composed CheckResult (``stats`` holds each
    checker's result by name). A re-check keeps what it did not redo: other
    checkers' entries and the ``run`` block of the stored results.json.
    ``case_files`` is the run's target's say on which node files its cases keep.
    Returns the files written, relative to ``out_dir``.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    old = read_json_object(out_dir / RESULTS_JSON)
    ran = run if run is not None else old.get("run")
    epoch_wall = ran.get("epoch_wall") if isinstance(ran, dict) else None
    # Read once: the case headers and results.json rows both get it.
    timeline = FaultTimeline(history, epoch_wall if isinstance(epoch_wall, (int, float)) else None)
    timeline.attribute_all(result.anomalies)  # each case header keeps the faults of its anomaly
    written = _write_anomalies(out_dir, result, history, test, case_files)
    stored = old.get("checkers")
    checkers: dict[str, Any] = {**(stored if isinstance(stored, dict) else {}), **result.stats}
    series = {name: c["stats"].pop("series") for name, c in checkers.items()
              if isinstance(c.get("stats"), dict) and "series" in c["stats"]}
    if series:
        write_json_atomic(out_dir / SERIES_JSON, series)
        written.append(SERIES_JSON)
    valid = merge_valid([_stored_valid(c.get("valid")) for c in checkers.values()])
    test = test or {}
    doc: dict[str, Any] = {
        "schema": RESULTS_SCHEMA,
        "test": test.get("name") or old.get("test"),
        "seed": test.get("seed", old.get("seed")),
        "valid": valid,
        "exit_code": exit_code(valid),
        "anomalies": [a for c in checkers.values() for a in c.get("anomalies", [])],
        "checkers": checkers,
        "files": sorted({*(old.get("files") or []), *result.files, *written}),
        "error": "; ".join(f"{k}: {c['error']}" for k, c in checkers.items() if c.get("error")) or None,
    }
    causes = link_causes(doc["anomalies"], [r for c in checkers.values() for r in c.get("explains") or []])
    if causes:
        doc["causes"] = causes
    # Which faults were active over each anomaly's ops, and the count per set of faults.
    during = timeline.attribute_all(doc["anomalies"])
    if during:
        doc["anomalies_during"] = during
    if run is not None or "run" in old:
        doc["run"] = run if run is not None else old["run"]
    write_json_atomic(out_dir / RESULTS_JSON, doc)
    return [RESULTS_JSON, *written]


def _write_anomalies(out_dir: Path, result: CheckResult, history: Sequence[Op],
                     test: dict[str, Any] | None = None, case_files: CaseFiles = NO_FILES) -> list[str]:
    """anomalies/<n>.jsonl for every anomaly: a regression case (``harness.formats.case``),
    a header saying how to re-check it, then its shrunk sub-history or the ops and
    collected rows that show it (``harness.regress.capture``). Each anomaly (and
    its copy under its checker in ``stats``) gets ``history`` pointing at the file."""
    from harness.regress.capture import Capture

    capture = Capture(history, run_dir=out_dir, test=test, files=case_files)
    nested = [a for r in result.stats.values() for a in r.get("anomalies", [])]
    same = len(nested) == len(result.anomalies)  # stats hold the same anomalies, in order
    written: list[str] = []
    folder = out_dir / ANOMALIES
    if folder.is_dir():  # a re-check replaces the files of the check before it
        for stale in [*folder.glob("*.jsonl"), *folder.glob("*.json")]:
            stale.unlink()
    for n, anomaly in enumerate(result.anomalies, start=1):
        folder.mkdir(exist_ok=True)
        rel = f"{ANOMALIES}/{n}.jsonl"
        parts = capture.case(anomaly, n)
        write_case(out_dir / rel, parts.header, parts.ops, parts.artifacts)
        anomaly.history = anomaly.details["history"] = rel
        if same:
            nested[n - 1]["history"] = nested[n - 1].setdefault("details", {})["history"] = rel
        written.append(rel)
    return written


def read_json_object(path: Path) -> dict[str, Any]:
    """A JSON object file such as results.json or test.json; {} when missing or not an object."""
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _stored_valid(v: Any) -> Any:
    """A stored verdict; anything but true/false (a run that failed: null) counts as unknown."""
    return v if v is True or v is False else UNKNOWN_VERDICT


def open_history_lines(path: Path) -> list[dict[str, Any]]:
    """Parse a history file this store wrote; a torn *last* line is dropped.

    Only for the store's own tests and the bench: ``seam check`` reads
    histories through ``harness.formats``.
    """
    rows: list[dict[str, Any]] = []
    lines = Path(path).read_bytes().split(b"\n")
    for i, raw in enumerate(lines):
        if not raw.strip():
            continue
        try:
            rows.append(json.loads(raw))
        except json.JSONDecodeError:
            if i == len(lines) - 1:
                break  # torn last line: the write it belonged to never finished
            raise
    return rows
