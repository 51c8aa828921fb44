"""A run on disk, written as it happens (DESIGN section 5).

``RunStore`` creates ``results/<test>/<YYYYmmddTHHMMSS>/`` and keeps the
history there as JSON Lines. Why the history is written the way it is:

* every op is one ``os.write`` of one whole line on an ``O_APPEND`` file
  descriptor, with no user-space buffer in between. A control node killed
  with SIGKILL therefore loses nothing it had recorded: the kernel holds
  every completed write, and there is never half a line from us in the
  page cache. (A power cut can still tear the last line; readers tolerate
  a truncated *last* line, and ``close`` fsyncs.)
* ``record`` is thread-safe: the interpreter's workers and its main loop
  may all record, and the file order is the order ``record`` was called,
  which is the order the control node saw the ops.

The ``latest`` links are made when the run starts, not when it ends, so a
crashed run is the one ``seam check results/latest`` finds.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from harness.core.errors import ConfigError
from harness.core.op import Op

HISTORY = "history.jsonl"
TEST_JSON = "test.json"
RESULTS_JSON = "results.json"
LOG_FILE = "seam.log"
STAMP_FORMAT = "%Y%m%dT%H%M%S"

_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _dumps(row: Any) -> str:
    # default=str keeps an odd value (a tuple key, a Path) from killing the run.
    return json.dumps(row, separators=(", ", ": "), default=str)


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
        # Two runs in the same second get -1, -2 ... instead of sharing a directory.
        for n in range(1000):
            candidate = test_dir / (stamp if n == 0 else f"{stamp}-{n}")
            try:
                candidate.mkdir()
                return candidate
            except FileExistsError:
                continue
        raise ConfigError(f"too many runs of {self.test_name} started at {stamp} in {test_dir}")

    def _link_latest(self) -> None:
        """Point results/latest and results/<test>/latest here, with relative links."""
        _replace_symlink(self.root / "latest", Path(self.test_name) / self._path.name)
        _replace_symlink(self.root / self.test_name / "latest", Path(self._path.name))

    # -- writing --------------------------------------------------------------

    def record(self, op: Op) -> None:
        """Append one op as one line, written by one system call (see module doc)."""
        line = (_dumps(op.to_json()) + "\n").encode()
        with self._lock:
            if self._fd is None:
                raise ValueError(f"{self.history_path}: record after close")
            _write_all(self._fd, line)
            self.ops_recorded += 1

    def write_json(self, name: str, data: Any) -> Path:
        """Write ``name`` atomically (temp file + rename), so a reader never sees half."""
        dst = self._path / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(dst.name + ".tmp")
        with open(tmp, "w") as f:
            json.dump(data, f, indent=2, default=str)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dst)
        return dst

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
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _replace_symlink(link: Path, target: Path) -> None:
    tmp = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    try:
        tmp.unlink()
    except FileNotFoundError:
        pass
    os.symlink(target, tmp)
    os.replace(tmp, link)


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
