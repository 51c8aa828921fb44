"""One night: run a plan's schedule one run at a time within the budget.

Each run is a ``seam test`` **subprocess** (``python -m harness.cli test ...``),
not a call into ``run_test`` in this process. Why:

* it is exactly the code path a person runs, option parsing included;
* each run gets a fresh process: no leaked threads, signal handlers, logging
  handlers or memory from the run before, and a run that hangs or crashes
  (even a segfault in a C extension) costs that run, never the night;
* stopping is by signal, which ``seam test`` already handles: the child runs
  in its own session, and this process sends it SIGINT (end the main phase,
  heal, collect, check, write results) when the night is told to stop
  (SIGTERM, SIGHUP or SIGINT) or the budget ends; a second signal is
  forwarded as a second SIGINT (stop now, still healing). A run still alive
  ``grace`` seconds after that is killed.

After each run the night adds it to the index with the night's stamp and
rewrites ``night.json``, so a night killed outright still has its record.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from harness.core.errors import EXIT_FAILED, EXIT_INVALID, EXIT_UNKNOWN, EXIT_VALID
from harness.index import NIGHT_JSON, NIGHTS_DIR, RunIndex
from harness.nightly.plan import OptionKind, Plan, seam_test_args
from harness.nightly.schedule import Slot, schedule
from harness.store import STAMP_FORMAT, fresh_dir, write_json_atomic

log = logging.getLogger("seam.nightly")
SEAM_TEST = [sys.executable, "-m", "harness.cli", "test"]
_RESULTS_LINE = re.compile(r"^results: (.+)$", re.M)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
STDERR_FD = 2
Say = Callable[[str], None]


@dataclass
class RunRow:
    """One slot of the night: run (``status`` done) or not (skipped, with the reason)."""

    number: int
    test: str
    workload: str
    faults: str
    bugs: str
    seed: int
    status: str = "pending"
    id: str | None = None
    verdict: str | None = None
    exit_code: int | None = None
    wall_seconds: float | None = None
    fingerprints: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    summary: str = ""
    log: str = ""
    reason: str = ""


@dataclass
class NightRecord:
    stamp: str
    plan: str
    budget_seconds: float
    seed: int
    started: str
    ended: str | None = None
    stopped: str | None = None
    runs: list[RunRow] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def aggregate_exit(rows: list[RunRow]) -> int:
    """1 if any run found anomalies, else 2 if any was unknown, else 3 if any failed
    (or nothing ran), else 0."""
    done = [r for r in rows if r.status == "done"]
    codes = {r.exit_code for r in done}
    if not done:
        return EXIT_FAILED
    for code in (EXIT_INVALID, EXIT_UNKNOWN, EXIT_FAILED):
        if code in codes:
            return code
    return EXIT_VALID if codes <= {EXIT_VALID} else EXIT_FAILED


class Night:
    """Runs ``plan`` once. ``command`` is what a run is started with (``seam test`` by
    default; tests give a stand-in with the same output contract)."""

    def __init__(self, plan: Plan, known: dict[str, OptionKind], *, seed: int, command: list[str] | None = None,
                 say: Say = print, now: datetime | None = None):
        self.plan = plan
        self.known = known
        self.command = command or SEAM_TEST
        self.say = say
        self.results = Path(plan.results)
        self.stamp = (now or datetime.now()).strftime(STAMP_FORMAT)
        self.dir = _fresh_dir(self.results / NIGHTS_DIR, self.stamp)
        self.stamp = self.dir.name
        self.record = NightRecord(self.stamp, plan.source, plan.budget, seed,
                                  started=datetime.now().isoformat(timespec="seconds"))
        # Both are read by the signal handler, which runs on the main thread like the night
        # itself: plain attributes, no lock (a handler that takes a lock its own thread holds
        # waits forever).
        self._signals = 0
        self._child: subprocess.Popen[bytes] | None = None

    # -- the night ------------------------------------------------------------

    def run(self) -> NightRecord:
        deadline = time.monotonic() + self.plan.budget
        with RunIndex(self.results) as index:
            index.sync()
            known_fps = {f.fingerprint for f in index.fingerprints()}
            slots = schedule(self.plan.tests, index.coverage(), self.record.seed)
        self.record.runs = [RunRow(s.number, s.test.name, s.test.workload, s.faults, ",".join(s.test.bugs), s.seed)
                            for s in slots]
        self._save()
        overhead: dict[str, float] = {}
        with self._stop_signals():
            for slot, row in zip(slots, self.record.runs, strict=True):
                left = deadline - time.monotonic()
                need = slot.test.time_limit + overhead.get(slot.test.workload, self.plan.overhead)
                if self._signals:
                    row.status, row.reason = "skipped", "the night was stopped by a signal"
                elif left < need:
                    row.status, row.reason = "skipped", f"budget: {left:.0f} s left, a run needs about {need:.0f} s"
                else:
                    self._run_slot(slot, row, deadline, known_fps)
                    if row.wall_seconds is not None:
                        overhead[slot.test.workload] = max(overhead.get(slot.test.workload, 0.0),
                                                           row.wall_seconds - slot.test.time_limit)
                    known_fps.update(row.fingerprints)
                self._say_row(row)
                self._save()
        self.record.ended = datetime.now().isoformat(timespec="seconds")
        if self._signals:
            self.record.stopped = "signal"
        elif any(r.reason.startswith("budget") for r in self.record.runs):
            self.record.stopped = "budget"
        self._save()
        return self.record

    def _run_slot(self, slot: Slot, row: RunRow, deadline: float, known_fps: set[str]) -> None:
        argv = [*self.command, *seam_test_args(slot.test, slot.faults, self.known),
                "--seed", str(slot.seed), "--results", str(self.results), "--no-progress"]
        logs = self.dir / "logs"
        logs.mkdir(exist_ok=True)
        log_path = logs / f"{slot.number:03d}-{slot.test.name}.log"
        row.log = str(log_path.relative_to(self.dir))
        self.say(f"seam nightly: [{slot.number}/{len(self.record.runs)}] {slot.test.name} "
                 f"faults {slot.faults or 'none'}{' bugs ' + row.bugs if row.bugs else ''} seed {slot.seed} "
                 f"(tried {slot.tried} times before)")
        t0 = time.monotonic()
        code = self._supervise(argv, log_path, deadline)
        row.wall_seconds = round(time.monotonic() - t0, 1)
        row.status, row.exit_code = "done", code
        run_dir = _run_dir_of(log_path)
        if run_dir is None:
            row.verdict = "failed"
            row.summary = _last_line(log_path) or f"seam test exited {code} before making a run directory"
            return
        with RunIndex(self.results) as index:
            rec = index.index_run(run_dir, night=self.stamp)
        if rec is None:
            row.verdict, row.summary = "failed", f"{run_dir}: no test.json"
            return
        row.id, row.verdict, row.fingerprints = rec.id, rec.verdict, rec.fingerprints
        row.bugs = rec.bugs  # what the run really had (its test.json), not what the plan asked
        row.new = [f for f in rec.fingerprints if f not in known_fps]
        if rec.exit_code is not None:
            row.exit_code = rec.exit_code
        row.summary = "; ".join(f"{a.fingerprint}: {a.summary}" for a in rec.anomalies[:3])
        if row.verdict in ("failed", "incomplete", "unknown"):
            row.summary = row.summary or _last_line(log_path)

    def _supervise(self, argv: list[str], log_path: Path, deadline: float) -> int:
        """Run one child to its end; SIGINT it at the deadline, kill it after ``grace``."""
        with open(log_path, "wb") as out:
            out.write(("$ " + " ".join(argv) + "\n").encode())
            out.flush()
            child = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
            self._child = child
            if self._signals:  # told to stop while it was starting
                self._forward(signal.SIGINT)
            told_at: float | None = None
            try:
                while True:
                    try:
                        return child.wait(timeout=0.5)
                    except subprocess.TimeoutExpired:
                        pass
                    now = time.monotonic()
                    if told_at is None and now >= deadline:
                        log.warning("budget over: ending the running test (it still heals and checks)")
                        self._forward(signal.SIGINT)
                        told_at = now
                    elif self._signals and told_at is None:
                        told_at = now
                    if told_at is not None and now - told_at > self.plan.grace:
                        log.error("the running test did not stop %g s after being told; killing it "
                                  "(`seam heal --all --stop-nodes` undoes what it left)", self.plan.grace)
                        child.kill()
                        return child.wait()
            finally:
                self._child = None

    # -- signals --------------------------------------------------------------

    @contextlib.contextmanager
    def _stop_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {s: signal.signal(s, self._on_signal) for s in STOP_SIGNALS}
        try:
            yield
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    def _on_signal(self, signum: int, frame: Any) -> None:
        self._signals += 1
        name = signal.Signals(signum).name
        message = f"\nseam nightly: {name}: " + ("stopping the running test; no further runs\n"
                                                  if self._signals == 1
                                                  else "telling the running test to stop now (it still heals)\n")
        with contextlib.suppress(OSError):
            os.write(STDERR_FD, message.encode())  # not sys.stderr: this thread may be inside a write to it
        self._forward(signal.SIGINT)

    def _forward(self, sig: int) -> None:
        child = self._child
        if child is not None and child.poll() is None:  # poll() only tries its lock: safe here
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, sig)

    # -- records --------------------------------------------------------------

    def _save(self) -> None:
        write_json_atomic(self.dir / NIGHT_JSON, self.record.to_json())
        with RunIndex(self.results) as index:
            index.record_night(self.stamp, self.record.to_json())

    def _say_row(self, r: RunRow) -> None:
        if r.status == "skipped":
            self.say(f"seam nightly: [{r.number}/{len(self.record.runs)}] {r.test} skipped: {r.reason}")
            return
        fps = ", ".join(f + (" (NEW)" if f in r.new else "") for f in r.fingerprints)
        self.say(f"seam nightly: [{r.number}/{len(self.record.runs)}] {r.test}: {str(r.verdict).upper()} "
                 f"(exit {r.exit_code}, {r.wall_seconds:g} s){': ' + fps if fps else ''}  {r.id or r.summary}")


def _fresh_dir(parent: Path, stamp: str) -> Path:
    parent.mkdir(parents=True, exist_ok=True)
    made = fresh_dir(parent, stamp)
    if made is None:
        raise FileExistsError(f"{parent}: too many nights started at {stamp}")
    return made


def _run_dir_of(log_path: Path) -> Path | None:
    """The run directory ``seam test`` printed (``results: PATH``), if it got that far."""
    found = _RESULTS_LINE.findall(log_path.read_text(encoding="utf-8", errors="replace"))
    if not found or found[-1].strip() == "None":
        return None
    path = Path(found[-1].strip())
    return path if path.is_dir() else None


def _last_line(log_path: Path) -> str:
    lines = [x for x in log_path.read_text(encoding="utf-8", errors="replace").splitlines() if x.strip()]
    return lines[-1][:300] if lines else ""
