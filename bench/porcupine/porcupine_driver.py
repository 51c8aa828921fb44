"""Build and run Seam's Porcupine driver (the Go files beside this one) for bench/checker.py.

The bench prints a ratio to Porcupine only when it timed Porcupine itself,
on the same files, in the same run; otherwise it prints ``NOT_MEASURED``
and the reason (no ``go``, no Porcupine source, a failed build), because a
ratio to a figure recorded elsewhere says nothing about this machine.

Nothing is downloaded: Porcupine's source is a local directory (a
``git clone https://github.com/anishathalye/porcupine``) given by
``--porcupine-src DIR`` or ``PORCUPINE_SRC``; the build adds a ``replace``
directive for it to a copy of our go.mod (``go build -modfile``), with
``GOPROXY=off`` and ``GOFLAGS=-mod=mod``, and writes only to a cache
directory outside the repository.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import subprocess
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: Watches a process's memory: called with its pid, has ``peak_mib`` after the ``with``.
Sampler = Callable[[int], AbstractContextManager]
MODULE = "github.com/anishathalye/porcupine"
NOT_MEASURED = "not measured"
HOW_TO_GET = (
    "to measure it: install Go (Debian: apt-get install golang-go), "
    "git clone https://github.com/anishathalye/porcupine DIR, "
    "then pass --porcupine-src DIR or set PORCUPINE_SRC=DIR"
)


@dataclass
class Verdict:
    """One file as the driver checked it (seconds exclude process start)."""

    file: str
    ops: int
    parse_s: float
    check_s: float
    verdict: str  # linearizable, not-linearizable, unknown (timed out) or error
    error: str = ""


@dataclass
class Run:
    """One driver process: its files, and its wall and CPU seconds as a whole."""

    results: list[Verdict]
    wall: float
    cpu: float
    go: str = ""
    gomaxprocs: int = 0
    exit_code: int = 0
    stderr: str = ""
    peak_mib: float = 0.0  # peak PSS, when a sampler watched the process

    def by_file(self) -> dict[str, Verdict]:
        return {r.file: r for r in self.results}


@dataclass
class Driver:
    """A built driver binary, run once per manifest."""

    binary: Path
    timeout_s: float = 60.0
    max_heap_mib: int = 4096  # Porcupine's search can eat gigabytes a minute; the machine is shared

    def command(self, manifest: Path) -> list[str]:
        return [
            str(self.binary),
            "-timeout",
            f"{self.timeout_s:g}s",
            "-max-heap-mib",
            str(self.max_heap_mib),
            str(manifest),
        ]

    def check(
        self, rows: list[dict], cwd: Path, scratch: Path, sampler: Sampler | None = None
    ) -> Run:
        """Check ``rows`` ({file, format, model, initial?, independent?}) in one process.

        ``sampler(pid)``, when given, watches the process's memory while it runs."""
        manifest = scratch / "porcupine-manifest.json"
        manifest.write_text(json.dumps(rows))
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            self.command(manifest),
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        with sampler(proc.pid) if sampler else contextlib.nullcontext() as memory:
            stdout, stderr = proc.communicate()
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        run = parse_output(stdout, wall, cpu, proc.returncode, stderr)
        run.peak_mib = getattr(memory, "peak_mib", 0.0)
        return run


def parse_output(stdout: str, wall: float, cpu: float, exit_code: int = 0, stderr: str = "") -> Run:
    """The driver's JSON lines: one per file, then a summary line."""
    run = Run([], wall, cpu, exit_code=exit_code, stderr=stderr.strip())
    for line in stdout.splitlines():
        row = json.loads(line)
        if row.get("summary"):
            run.go, run.gomaxprocs = row.get("go", ""), int(row.get("gomaxprocs", 0))
            continue
        run.results.append(
            Verdict(
                row["file"],
                int(row.get("ops", 0)),
                float(row.get("parse_s", 0.0)),
                float(row.get("check_s", 0.0)),
                row["verdict"],
                row.get("error", ""),
            )
        )
    return run


def ratio(seam_s: float | None, porcupine: float | None, *, finished: bool = True) -> str:
    """Seam's seconds over Porcupine's, or ``NOT_MEASURED`` when either side was not timed.

    When Porcupine gave up (``finished`` False) its time is a lower bound, so
    the ratio is an upper bound and says so."""
    if seam_s is None or porcupine is None or porcupine <= 0:
        return NOT_MEASURED
    if not finished:
        return f"< {seam_s / porcupine:.2f}x (Porcupine gave up)"
    return f"{seam_s / porcupine:.2f}x"


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "seam" / "porcupine-driver"


def locate(
    src: str | None, binary: str | None = None, timeout_s: float = 60.0, max_heap_mib: int = 4096
) -> tuple[Driver | None, str]:
    """A driver ready to run, or None and why not (with how to get what is missing).

    ``binary`` is a driver built before (no Go needed); otherwise the driver
    is built from ``src`` (else ``PORCUPINE_SRC``) with the ``go`` on PATH."""
    if binary:
        path = Path(binary)
        if not os.access(path, os.X_OK):
            return None, f"--porcupine-driver {binary} is not an executable file"
        return Driver(path, timeout_s, max_heap_mib), f"driver {binary}"
    src = src or os.environ.get("PORCUPINE_SRC")
    go = shutil.which("go")
    if not go:
        return None, f"no `go` on PATH; {HOW_TO_GET}"
    if not src:
        return None, f"no Porcupine source given; {HOW_TO_GET}"
    gomod = Path(src) / "go.mod"
    if not gomod.is_file() or f"module {MODULE}" not in gomod.read_text():
        return None, f"{src} is not Porcupine's source (no go.mod for {MODULE}); {HOW_TO_GET}"
    driver, how = build(go, Path(src).resolve(), cache_dir())
    if driver:
        driver.timeout_s, driver.max_heap_mib = timeout_s, max_heap_mib
    return driver, how


def build(go: str, src: Path, out: Path) -> tuple[Driver | None, str]:
    """``go build`` the driver against ``src`` with no network; the result lives in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    modfile = out / "go.mod"
    shutil.copyfile(HERE / "go.mod", modfile)
    (out / "go.sum").touch()
    env = {
        **os.environ,
        "GOPROXY": "off",
        "GOFLAGS": "-mod=mod",
        "GOWORK": "off",
        "CGO_ENABLED": "0",
    }
    binary = out / "seam-porcupine"
    steps = [
        [go, "mod", "edit", f"-replace={MODULE}={src}", str(modfile)],
        [go, "build", f"-modfile={modfile}", "-o", str(binary), "."],
    ]
    for step in steps:
        done = subprocess.run(step, cwd=HERE, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            return None, f"`{' '.join(step)}` failed (exit {done.returncode}): {' / '.join(tail)}"
    version = subprocess.run([go, "version"], capture_output=True, text=True).stdout.strip()
    commit = _commit(src)
    return Driver(binary), f"built with {version} against {src.name}{commit}"


def _commit(src: Path) -> str:
    """`` @<short commit>`` when ``src`` is a git clone, so the output says which Porcupine ran."""
    if not (src / ".git").exists():
        return ""
    done = subprocess.run(
        ["git", "-C", str(src), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    return f" @{done.stdout.strip()}" if done.returncode == 0 else ""
