"""One long-running process of a node, started, found again and stopped by its pid file.

Every target runs its system the same way (Jepsen's start-daemon! and
stop-daemon!): a command started detached on a node through the Remote, its
output appended to a log file, its pid written to a pid file beside it. The
pid file is what makes the process findable again by anything that knows
only the run's files: ``seam heal`` after the control node died, the next
run's leftover sweep, a kill fault's restart. Before a pid is signalled,
its command line must still carry the daemon's ``marker`` (a path unique to
the run), so a pid the kernel gave to a stranger is never touched.

A pid file holds two lines, the pid and the marker, so ``leftovers`` can
find and check every daemon under a run directory without knowing which
target started it (no target's file names, no log line to parse).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.core.errors import RemoteError, TargetError
from harness.core.protocols import Remote, Test

#: Seconds a stopped daemon gets to exit on SIGTERM before SIGKILL.
GRACE = 3.0


@dataclass(frozen=True)
class Daemon:
    """What runs on ``node``: ``argv`` from ``cwd``, output to ``log``, pid in ``pidfile``.

    ``marker`` is a string its command line always contains (a data directory
    or config path of this run); by default the pid file's directory.
    """

    node: str
    argv: tuple[str, ...]
    pidfile: str
    log: str
    cwd: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    marker: str = ""

    @property
    def mark(self) -> str:
        return self.marker or self.pidfile.rsplit("/", 1)[0]


def start(remote: Remote, daemon: Daemon) -> int:
    """Start the daemon unless it already runs; its pid either way."""
    running = pid(remote, daemon)
    if running is not None:
        return running
    new = remote.spawn(daemon.node, list(daemon.argv), daemon.log, env=dict(daemon.env) or None, cwd=daemon.cwd)
    remote.run(daemon.node, ["sh", "-c", 'printf "%s\\n%s\\n" "$1" "$2" > "$3"', "sh", str(new), daemon.mark,
                             daemon.pidfile], timeout=30)
    return new


def pid(remote: Remote, daemon: Daemon) -> int | None:
    """The daemon's pid if it runs now (its pid file names a live process that is still it)."""
    written = _read_pid(remote, daemon)
    if written is None or not remote.alive(daemon.node, written):
        return None
    return written if _is_ours(remote, daemon, written) else None


def alive(remote: Remote, daemon: Daemon) -> bool:
    return pid(remote, daemon) is not None


def kill(remote: Remote, daemon: Daemon, timeout: float = 5.0) -> list[int]:
    """SIGKILL the daemon (a paused one too); the pids killed, [] when it was not running."""
    found = pid(remote, daemon)
    if found is None:
        return []
    _signal(remote, daemon, found, signal.SIGKILL)
    _wait_dead(remote, daemon, found, timeout)
    return [found]


def stop(remote: Remote, daemon: Daemon, grace: float = GRACE) -> bool:
    """SIGTERM (resuming it first if paused), SIGKILL after ``grace`` s; removes the pid
    file. True if it was running. Idempotent."""
    return bool(stop_all(remote, [daemon], grace))


def stop_all(remote: Remote, daemons: list[Daemon], grace: float = GRACE) -> list[str]:
    """Stop several daemons at once: SIGTERM (and SIGCONT) to every one first, then wait
    for each, SIGKILL after ``grace`` s, pid files removed; so none goes on acting on the
    others' state while another is being stopped. Returns the nodes that were running."""
    found = [(d, pid(remote, d)) for d in daemons]
    for d, p in found:
        if p is not None:
            _signal(remote, d, p, signal.SIGTERM)
            _signal(remote, d, p, signal.SIGCONT)  # a paused process acts on SIGTERM only once resumed
    for d, p in found:
        if p is None:
            continue  # a pid file left by a dead process names nothing alive: leftovers skips it
        if not _wait_dead(remote, d, p, grace):
            _signal(remote, d, p, signal.SIGKILL)
            _wait_dead(remote, d, p, 5.0)
        remote.run(d.node, ["rm", "-f", d.pidfile], timeout=30, check=False)
    return [d.node for d, p in found if p is not None]


def signal_all(remote: Remote, daemon: Daemon, sig: int) -> list[int]:
    """Send ``sig`` to the daemon if it runs (SIGSTOP and SIGCONT for a pause); the pids."""
    found = pid(remote, daemon)
    if found is None:
        return []
    _signal(remote, daemon, found, sig)
    return [found]


def _read_pid(remote: Remote, daemon: Daemon) -> int | None:
    r = remote.run(daemon.node, ["cat", daemon.pidfile], timeout=30, check=False)
    text = r.stdout.strip().split("\n", 1)[0] if r.status == 0 else ""
    return int(text) if text.isdigit() else None


def _is_ours(remote: Remote, daemon: Daemon, found: int) -> bool:
    return _carries(remote, daemon.node, found, daemon.mark)


#: How long an empty command line is read again: a process in the middle of its exec has
#: none for a moment (seen right after spawn returned, 1 start in 200 under load).
EXEC_GRACE = 1.0


def _carries(remote: Remote, node: str, found: int, mark: str) -> bool:
    """Whether process ``found`` on ``node`` still has ``mark`` in its command line. An empty
    one is read again for ``EXEC_GRACE`` s (an exec under way); a kernel thread's stays empty."""
    deadline = time.monotonic() + EXEC_GRACE
    while True:
        r = remote.run(node, ["cat", f"/proc/{found}/cmdline"], timeout=30, check=False)
        if r.status != 0:  # no /proc (not Linux): trust the pid file
            return True
        if r.stdout or time.monotonic() > deadline:
            return mark in r.stdout.replace("\0", " ")
        time.sleep(0.01)


@dataclass(frozen=True)
class Leftover:
    """A daemon found by its pid file: alive, and still the process that file names."""

    node: str
    pid: int
    pidfile: str


#: Lists every pid file under a directory with its content, one record per file.
_LIST_PIDFILES = 'find "$1" -maxdepth 4 -name "*.pid" -type f 2>/dev/null | while read -r f; do ' \
                 'printf "%s\\t%s\\t%s\\n" "$f" "$(sed -n 1p "$f")" "$(sed -n 2p "$f")"; done'


def leftovers(remote: Remote, node: str, root: str) -> list[Leftover]:
    """Every daemon started under ``root`` on ``node`` (a node's run directory) that still
    runs: found by the pid files ``start`` wrote, whichever target wrote them. A pid file
    without a marker line, or whose pid now belongs to another program, is not one."""
    r = remote.run(node, ["sh", "-c", _LIST_PIDFILES, "sh", root], timeout=30, check=False)
    found = []
    for line in r.stdout.splitlines():
        path, _, rest = line.partition("\t")
        written, _, mark = rest.partition("\t")
        if not written.isdigit() or not mark:
            continue
        if remote.alive(node, int(written)) and _carries(remote, node, int(written), mark):
            found.append(Leftover(node, int(written), path))
    return found


def _signal(remote: Remote, daemon: Daemon, found: int, sig: int) -> None:
    try:
        remote.signal(daemon.node, found, sig)
    except RemoteError:
        pass  # it exited between the check and the signal


def _wait_dead(remote: Remote, daemon: Daemon, found: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while remote.alive(daemon.node, found):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def wait_serving(remote: Remote, daemon: Daemon, what: str, probe: Callable[[], Any], timeout: float) -> None:
    """Call ``probe`` until it returns; a TargetError naming the node and quoting its log
    when the daemon exits or ``timeout`` s pass first (``what``: "etcd on http://...")."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            probe()
            return
        except Exception as e:  # noqa: BLE001 - any error of the probe means "not serving yet"
            if time.monotonic() > deadline:
                raise TargetError(f"{daemon.node}: {what} does not answer ({e}); last lines of "
                                  f"{daemon.log}:\n{log_tail(remote, daemon)}") from None
            if not alive(remote, daemon):
                raise TargetError(f"{daemon.node}: {what} exited during start-up; last lines of "
                                  f"{daemon.log}:\n{log_tail(remote, daemon)}") from None
            time.sleep(0.1)


def log_tail(remote: Remote, daemon: Daemon, lines: int = 5) -> str:
    r = remote.run(daemon.node, ["tail", "-n", str(lines), daemon.log], timeout=10, check=False)
    return r.stdout.strip() or "(empty)"


def collect_log(remote: Remote, daemon: Daemon, dst: Path, name: str) -> list[Path]:
    """Copy the daemon's log to ``dst/name``; the files now in dst (a failure is logged)."""
    dst = Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    try:
        remote.download(daemon.node, daemon.log, dst / name)
    except RemoteError as e:
        import logging

        logging.getLogger("seam.targets").warning("collect %s: %s", daemon.node, e)
    return sorted(p for p in dst.rglob("*") if p.is_file())


class SignalPause:
    """``Pausable`` for a target whose nodes are daemons: SIGSTOP what ``pids`` names for
    the node and role, SIGCONT the same pids (or, with nothing recorded, every pid of
    the node). Mixed into an adapter that has ``remote`` and ``pids(test, node, role)``."""

    remote: Remote
    pids: Callable[..., list[int]]

    def pause(self, test: Test | None, node: str, role: str | None = None) -> dict[str, Any] | None:
        found = sorted(self.pids(test, node, role))
        if not found:
            return None
        for p in found:
            self.remote.signal(node, p, signal.SIGSTOP)
        return {"pids": found}

    def resume(self, test: Test | None, node: str, paused: Mapping[str, Any]) -> None:
        for p in [int(x) for x in paused.get("pids") or []] or self.pids(test, node, None):
            try:
                self.remote.signal(node, p, signal.SIGCONT)
            except RemoteError:
                if self.remote.alive(node, p):
                    raise  # a pid that is gone needs nothing; a live one that stays stopped does


def remove_workdir(remote: Remote, node: str, workdir: str) -> None:
    """Remove a node's run directory, and the run's parent once its last node is gone
    (rmdir refuses a non-empty one). Only a directory Seam named (``/seam-``) is ever
    removed; a failure is logged, since teardown goes on with the other nodes."""
    import logging

    log = logging.getLogger("seam.targets")
    if "/seam-" not in workdir:
        log.warning("teardown %s: leaving %s (not a seam run directory)", node, workdir)
        return
    try:
        remote.run(node, ["rm", "-rf", workdir], timeout=30, check=False)
        remote.run(node, ["rmdir", "--ignore-fail-on-non-empty", workdir.rsplit("/", 1)[0]], timeout=30, check=False)
    except RemoteError as e:
        log.warning("teardown %s: could not remove %s: %s", node, workdir, e)
