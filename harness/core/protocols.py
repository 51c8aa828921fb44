"""The extension points of Seam, as runtime-checkable Protocols.

Required protocols stay minimal; extra abilities are separate optional
protocols that a nemesis or workload checks with ``isinstance`` (as Jepsen's
DB has only setup!/teardown! and Kill, Pause, Primary, LogFiles are separate).
Implementations live elsewhere; only the composition root (``harness.assemble``) names them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from harness.core.op import History, Op
from harness.core.verdict import CheckResult


@runtime_checkable
class Test(Protocol):
    """What targets, clients, generators, nemeses and checkers may read of a run
    (Jepsen's test map), and never change.

    The runner's test is one (``harness.runner.Test``: the live history
    grows as the run goes on); a stored run's is another
    (``harness.core.stored.StoredTest``, from test.json alone), so a checker
    reads a live run and a re-check the same way. ``options`` is the run's
    options as test.json keeps them (``workload``, ``bugs``, ``replication``,
    ``target_options``, ...); every method that takes a test also accepts
    None (a unit test, heal of a dead run, a plain history file).
    """

    @property
    def seed(self) -> int: ...

    @property
    def nodes(self) -> Sequence[str]: ...

    @property
    def history(self) -> Sequence[Op]: ...

    @property
    def options(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class Result:
    """What a command on a node returned."""

    node: str
    argv: tuple[str, ...]
    status: int
    stdout: str
    stderr: str


@runtime_checkable
class Remote(Protocol):
    """How a command reaches a node.

    Invariants: every argv element is passed as one argument, whatever it
    contains (the Remote quotes, never the caller); a non-zero exit with
    ``check=True`` raises ``RemoteError`` naming node, command, status,
    stderr and a fix; ``timeout`` is enforced (``RemoteError`` with
    ``status=None``); ``spawn`` returns a pid that ``signal`` accepts and
    the process outlives the call.
    """

    def run(self, node: str, argv: Sequence[str], *, timeout: float = 60.0, check: bool = True, stdin: bytes | None = None) -> Result: ...

    def spawn(
        self,
        node: str,
        argv: Sequence[str],
        log: str,
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
    ) -> int: ...

    def alive(self, node: str, pid: int) -> bool: ...

    def signal(self, node: str, pid: int, sig: int) -> None: ...

    def upload(self, node: str, src: Path, dst: str) -> None: ...

    def download(self, node: str, src: str, dst: Path) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class Cluster(Protocol):
    """Provisions nodes. Teardown is idempotent and also repairs a crashed earlier run."""

    def up(self) -> list[Any]: ...

    def down(self) -> None: ...

    def status(self) -> dict[str, Any]: ...


@runtime_checkable
class Target(Protocol):
    """The system under test on one node (Jepsen's DB). Both calls are idempotent."""

    def setup(self, test: Test | None, node: str) -> None: ...

    def teardown(self, test: Test | None, node: str) -> None: ...


@runtime_checkable
class WaitsReady(Protocol):
    """A target whose nodes take a while to serve after ``setup``: the runner
    waits for all of them before the first op, and names the first that fails."""

    def wait_ready(self, nodes: list[str] | None = None, timeout: float | None = None) -> None: ...


@runtime_checkable
class StopsAll(Protocol):
    """A target that remembers every process it started and can stop them all
    by pid: the runner's last resort after per-node teardown."""

    def stop_all(self) -> None: ...


@runtime_checkable
class Killable(Protocol):
    def start(self, test: Test | None, node: str, role: str | None = None) -> None: ...

    def kill(self, test: Test | None, node: str, role: str | None = None) -> list[int]: ...


@runtime_checkable
class Pausable(Protocol):
    """A target whose node (or a role's process on it) can be frozen and thawed.

    How is the target's business: most send SIGSTOP and SIGCONT to their
    daemons (``harness.control.daemon.SignalPause``), a VM would suspend.
    ``pause`` returns what ``resume`` needs (kept with the fault, shown in the
    history), or None when nothing ran there to pause. ``resume`` with an
    empty ``paused`` thaws everything of the node: the heal of a control node
    that died between the pause and its record.
    """

    def pause(self, test: Test | None, node: str, role: str | None = None) -> dict[str, Any] | None: ...

    def resume(self, test: Test | None, node: str, paused: Mapping[str, Any]) -> None: ...


@runtime_checkable
class HasLeader(Protocol):
    def leader(self, test: Test | None) -> str | None: ...


@runtime_checkable
class HasRoleHolders(Protocol):
    """A target that can say which node holds a role other than ``leader`` right now
    (e.g. ``home``: the home replica of one of the workload's keys). ``rng`` is the
    nemesis's seeded generator, for a role that several nodes hold. None: nobody does."""

    def holder(self, test: Test | None, role: str, rng: Any) -> str | None: ...


@runtime_checkable
class HasRoles(Protocol):
    """A target whose processes a nemesis may aim at by role, besides a plain node.

    ``roles()`` names them, e.g. ``("leader",)``; it is constant for a target
    and needs no running node. ``Killable.kill/start`` and ``Pausable.pause``
    accept each of these names as ``role``. The role ``leader`` is held by
    the node ``HasLeader.leader`` names at that moment; any other role names
    a process that every node runs.
    """

    def roles(self) -> tuple[str, ...]: ...


@runtime_checkable
class Skewable(Protocol):
    """A target whose node's wall clock can be offset while it runs, and only one
    whose processes obey the way it does that (the pipeline's clock shim, or
    libfaketime for a C program; a Go binary such as etcd ignores libfaketime,
    so etcd does not declare it and the clock faults refuse it).

    ``skew_clock(test, node, 0)`` puts the node back on the real clock; it is
    how heal undoes a skew, also for a dead run (the target's ``recover``).
    """

    def skew_clock(self, test: Test | None, node: str, seconds: float) -> None: ...


@runtime_checkable
class HasAppFaults(Protocol):
    """A target that can fail on purpose at the application level."""

    def inject_fault(self, test: Test | None, node: str, fault: Mapping[str, Any]) -> None: ...

    def clear_faults(self, test: Test | None, node: str) -> None: ...


@runtime_checkable
class HasLogs(Protocol):
    """Copies a node's files (logs, ledgers) into ``dst``. The runner calls it only
    once every node of the run is stopped (``StopsAll``), so the copies of all nodes
    are one consistent cut: a system still working while its nodes are copied one
    after another shows an effect on one node without its cause on another."""

    def collect(self, test: Test | None, node: str, dst: Path) -> list[Path]: ...


@runtime_checkable
class HasLiveState(Protocol):
    """What only a running node can tell (its metrics endpoint), written into ``dst``
    before the nodes are stopped for collection."""

    def snapshot(self, test: Test | None, node: str, dst: Path) -> list[Path]: ...


@runtime_checkable
class Client(Protocol):
    """Performs ops against one node.

    ``invoke`` returns the completion op. An exception or timeout is turned
    into ``info`` by the interpreter; return ``fail`` only for a definite
    refusal (the op certainly did not happen).
    """

    def open(self, test: Test | None, node: str) -> Client: ...

    def invoke(self, test: Test | None, op: Op) -> Op: ...

    def close(self) -> None: ...


@runtime_checkable
class Generator(Protocol):
    """A pure, seeded description of ops over time (Jepsen's generator).

    ``op`` returns ``(op_or_PENDING_or_None, next_generator)``: None means
    exhausted, PENDING means nothing now but maybe later. ``update`` folds an
    event (an invoke or completion) into the generator. Neither mutates self.
    """

    def op(self, test: Test | None, ctx: Any) -> tuple[Any, Generator | None]: ...

    def update(self, test: Test | None, ctx: Any, event: Op) -> Generator: ...


@runtime_checkable
class Nemesis(Protocol):
    """Injects faults. ``heal`` is idempotent and always runs (end, error, Ctrl-C, next start)."""

    def setup(self, test: Test | None) -> None: ...

    def invoke(self, test: Test | None, op: Op) -> Op: ...

    def heal(self, test: Test | None) -> None: ...


@runtime_checkable
class Checker(Protocol):
    """Reads a history and collected artifacts; never touches nodes.

    Must not raise for a bad history it can describe; ``compose`` turns any
    exception into ``unknown`` with the error.
    """

    def check(self, test: Test | None, history: History, artifacts: Path | None) -> CheckResult: ...


@runtime_checkable
class Store(Protocol):
    """Keeps a run on disk as it happens (DESIGN section 5)."""

    @property
    def path(self) -> Path: ...

    def record(self, op: Op) -> None: ...

    def write_json(self, name: str, data: Any) -> Path: ...

    def nodes_dir(self, node: str) -> Path: ...

    def close(self) -> None: ...


@dataclass
class Artifacts:
    """Where a run's collected files are: nodes/<node>/ logs, ledgers, metrics."""

    root: Path
    nodes: list[str] = field(default_factory=list)
