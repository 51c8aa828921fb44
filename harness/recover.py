"""Heal a stored run: rebuild its Remote and target from test.json, undo its ledger.

After a control-node crash the nemesis objects are gone; the run directory is
what is left: ``test.json`` (the cluster kind, the options, every node's URL
and run directory on the node) and ``nemesis.jsonl`` (every fault applied, see
``nemesis.state``). ``heal_run`` reaches the same nodes the way the runner
did (through the Remote it is given), and undoes every outstanding fault with ``nemesis.heal.heal_ledger``.
``seam heal`` and the next ``seam test`` both use it.

Some faults cannot outlive what they were applied to, and are recorded as
healed with the reason instead of being retried forever: iptables rules in a
namespace that no longer exists, a clock file whose run directory was
removed, application faults of a node process that is gone (they live in its
memory), a killed node whose run directory was torn down.

This module names no implementation: the composition root
(``harness.assemble.stored``) rebuilds the run's Remote and what heal needs
of its target from ``test.json`` and hands them in.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.control import daemon
from harness.control.daemon import Leftover
from harness.core.errors import InputError
from nemesis.heal import heal_ledger
from nemesis.registry import moot
from nemesis.state import Fault, FaultLedger, outstanding

LEDGER = "nemesis.jsonl"
TEST_JSON = "test.json"

Report = Callable[[str], None]


@dataclass(frozen=True)
class StoredRun:
    """What test.json says about a run: enough to reach its nodes again."""

    path: Path
    options: dict[str, Any]
    nodes: dict[str, dict[str, str]]  # node -> {"url", "workdir"}
    control_pid: int | None  # the `seam test` process that ran it, if recorded
    test: dict[str, Any] = field(default_factory=dict)  # the whole test.json (target, faults, ...)

    @property
    def ledger(self) -> Path:
        return self.path / LEDGER

    @property
    def cluster(self) -> str:
        return str(self.options.get("cluster", "local"))

    @property
    def finished(self) -> bool:
        """results.json is written last, at a verdict or a handled failure."""
        return (self.path / "results.json").exists()


def load_run(run_dir: Path) -> StoredRun:
    """Read ``run_dir/test.json``; an unreadable one names the file and the fix."""
    path = Path(run_dir)
    f = path / TEST_JSON
    try:
        data = json.loads(f.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            f"{f}: no test.json; give a run directory such as results/register/<time>"
        ) from None
    except (OSError, ValueError) as e:
        raise InputError(
            f"{f}: cannot read it ({e}); the run cannot be healed from its files"
        ) from None
    nodes = data.get("nodes") or {}
    return StoredRun(path, dict(data.get("options") or {}), dict(nodes), _control_pid(data, nodes), data)


def _control_pid(data: dict[str, Any], nodes: dict[str, dict[str, str]]) -> int | None:
    """``test.json["control"]["pid"]`` if the runner wrote it, else the pid in the run id.

    The runner names each run's node directory ``seam-<test>-<time>-<pid>``
    after its own pid (``harness.runner.provision``).
    """
    pid = (data.get("control") or {}).get("pid")
    if isinstance(pid, int):
        return pid
    for info in nodes.values():
        tail = Path(info.get("workdir", "")).parent.name.rsplit("-", 1)[-1]
        if tail.isdigit():
            return int(tail)
    return None


def control_alive(run: StoredRun) -> bool:
    """True if the run has no verdict yet and its `seam test` process still runs here."""
    if run.finished or run.control_pid is None or run.control_pid == os.getpid():
        return False
    try:
        cmd = Path(f"/proc/{run.control_pid}/cmdline").read_bytes()
        stat = Path(f"/proc/{run.control_pid}/stat").read_text()
    except OSError:
        return False
    return (b"seam" in cmd or b"harness" in cmd) and stat[stat.rfind(")") + 2] not in "ZX"


def find_runs(roots: Iterable[Path], marker: str = LEDGER) -> list[Path]:
    """Run directories at or up to two levels under each root that hold ``marker``
    (the fault ledger by default; ``test.json`` for every run).

    ``results``, ``results/<test>`` and ``results/<test>/<time>`` all work;
    symlinks such as ``latest`` are followed but each run is listed once.
    """
    found: dict[Path, Path] = {}
    for root in roots:
        for pattern in (marker, f"*/{marker}", f"*/*/{marker}"):
            for ledger in sorted(Path(root).glob(pattern)):
                key, run = ledger.parent.resolve(), ledger.parent
                # Name a run by its own path, not by a symlink such as `latest`.
                if key not in found or found[key].is_symlink():
                    found[key] = run
    return [found[k] for k in sorted(found)]


def _exists(remote: Any, node: str, path: str) -> bool:
    """Does ``path`` exist on ``node``? local and netns nodes share this host's files."""
    if getattr(remote, "kind", "") in ("local", "netns"):
        return Path(path).exists()
    return bool(remote.run(node, ["test", "-e", path], timeout=30, check=False).status == 0)


def _moot_env(run: StoredRun, remote: Any, gone: dict[str, str]) -> Any:
    """What a fault's own ``moot`` may ask of the run: gone nodes, files, run directories."""
    from nemesis.spec import MootEnv

    return MootEnv(gone=gone, exists=lambda node, path: _exists(remote, node, path),
                   workdir=lambda node: run.nodes.get(node, {}).get("workdir"))


def heal_run(
    run: StoredRun,
    *,
    remote: Any,
    target_for: Callable[[Report], Any],
    gone: dict[str, str],
    report: Report = lambda line: None,
) -> list[Fault]:
    """Undo every outstanding fault of ``run``; return what was undone or moot.

    ``remote`` reaches the run's nodes as the runner did and ``target_for``
    rebuilds what heal needs of its target (both from the composition root,
    ``harness.assemble``); ``gone`` names nodes that no longer exist. This
    function closes ``remote``. Idempotent: a run with nothing outstanding
    touches no node. Faults that could not be undone stay outstanding and
    raise NemesisError (from ``heal_ledger``) naming each, so a later
    ``seam heal`` tries again. Every line reported is also appended to the
    run's ``seam.log``.
    """
    if not outstanding(run.ledger):
        remote.close()
        return []
    say = _logging_report(run, report)
    try:
        ledger = FaultLedger(run.ledger)
        env = _moot_env(run, remote, gone)
        settled = []
        for fault in outstanding(run.ledger):
            reason = moot(fault, env)
            if reason is not None:
                ledger.healed(fault)
                settled.append(fault)
                say(f"nothing to undo for {fault.kind} on {fault.node}: {reason}")
        target = target_for(say)
        return settled + heal_ledger(run.ledger, remote, target, None, report=say)
    finally:
        remote.close()


def _logging_report(run: StoredRun, report: Report) -> Report:
    log = run.path / "seam.log"

    def say(line: str) -> None:
        report(line)
        try:
            with open(log, "a", encoding="utf-8") as f:
                f.write(f"seam heal: {line}\n")
        except OSError:
            pass  # the report still reached the caller

    return say


def leftover_daemons(run: StoredRun, remote: Any) -> list[Leftover]:
    """Every node process of ``run`` still running: found by the pid files the daemon
    helper wrote under each node's run directory, whichever target started them."""
    found: list[Leftover] = []
    for node, info in run.nodes.items():
        workdir = str(info.get("workdir") or "")
        if "/seam-" in workdir:  # only a directory Seam named for a run
            found.extend(daemon.leftovers(remote, node, workdir))
    return found


def stop_leftovers(
    run: StoredRun,
    *,
    remote: Any,
    report: Report = lambda line: None,
    grace: float = 5.0,
) -> list[int]:
    """SIGKILL the node processes a dead run left running; return their pids.

    Only processes a pid file under the run's node directories names, and only
    while their command line still carries the marker that file recorded (a
    reused pid is left alone): see ``harness.control.daemon``. A run that
    finished, or whose `seam test` still runs, is not touched. Heal first
    (``heal_run``): a paused process is then running and a killed one
    restarted, so this stops them all.
    """
    if run.finished or control_alive(run):
        remote.close()
        return []
    say = _logging_report(run, report)
    stopped = []
    try:
        for left in leftover_daemons(run, remote):
            remote.signal(left.node, left.pid, signal.SIGKILL)
            deadline = time.monotonic() + grace
            while remote.alive(left.node, left.pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            stopped.append(left.pid)
            say(f"stopped {left.node}: pid {left.pid} ({left.pidfile}), left running by the dead run")
    finally:
        remote.close()
    return stopped
