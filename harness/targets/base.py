"""What a target folder declares: the target, its workloads, its defaults.

A target is one folder, ``harness/targets/<name>/``, whose ``__init__``
exports ``TARGET``, a ``TargetKind``. Everything Seam needs to run, heal
and re-check a test of that system comes from the declaration, so adding a
target never means editing the runner, the CLI or a checker:

* ``make`` builds the adapter (``Target`` plus optional abilities) for a
  run's Remote and node placement;
* ``workloads`` maps a name to a ``WorkloadKind``: the client, generators and
  the composed checker of one kind of test, the services its ops exercise (a
  fault that acts on one service asks) and its recovery time;
* ``bugs`` are the target's ``--bug`` flags, each one safety mechanism off;
* ``options`` are the target's ``--target-opt NAME=V`` (typed, with
  defaults; ``resolved_options`` parses and checks them before anything
  starts), ``roles`` what faults may aim at besides a node, and
  ``check_spec`` (optional) the target's own checks of a run's options, such
  as how many nodes its topology needs; ``refuses`` names the faults the
  system cannot take and why (a Go binary ignores libfaketime: no clock);
* ``observe`` (optional) runs beside the clients (the pipeline's metrics
  scraper); ``recover`` (optional) rebuilds what ``seam heal`` needs of the
  adapter from a stored run; ``host_check`` is what an SSH host must have
  (the pipeline runs target/ with python3; etcd needs none); ``case_files``
  which node files a regression case keeps and how its rows tie to an
  anomaly (``harness.regress.evidence``). What a dead run left running is found by the
  daemon helper's pid files, with no declaration (``harness.control.daemon``).

Invariants: ``make`` starts nothing (``Target.setup`` does), and a workload's
``checker`` needs no cluster, so ``seam check RUN_DIR`` can rebuild it from
``test.json`` alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.core.options import Option, resolve
from harness.core.placement import NodeAddr
from harness.core.protocols import Checker, Client, Remote, Target
from harness.regress.evidence import NO_FILES, CaseFiles
from harness.spec import TestSpec


@dataclass
class Workload:
    """One kind of test, built for a run: what the clients do and how it is judged."""

    name: str
    client: Client  # unopened: ``client.open(test, node)`` gives a bound one
    generator: Any  # main phase, client ops only (the runner adds rate, time limit, nemesis)
    final_generator: Any  # after the final heal and the recovery wait; None for none
    checker: Checker


@dataclass(frozen=True)
class MakeContext:
    """What ``TargetKind.make`` gets: the run's Remote, where the nodes live, the
    options, and the abilities the chosen faults need (e.g. ``Skewable``), so
    a target pays for an ability (libfaketime) only when a fault uses it."""

    remote: Remote
    addrs: Mapping[str, NodeAddr]
    spec: TestSpec
    wants: frozenset[type] = frozenset()


@dataclass(frozen=True)
class WorkloadKind:
    """A workload as a target declares it."""

    name: str
    summary: str
    build: Callable[[TestSpec, Mapping[str, NodeAddr]], Workload]
    checker: Callable[[TestSpec], Checker]
    model: str | None = None  # the linearizability model a stored history needs (seam check)
    independent: bool = False  # values are [key, v]
    services: frozenset[str] = frozenset()  # what its ops exercise; app faults ask
    recovery_time: float = 2.0  # default quiet seconds after the final heal


@dataclass(frozen=True)
class HostCheck:
    """A command every SSH host must pass before anything is installed, and what it
    proves (``python3 >= 3.11``): a target asks for only what its nodes run."""

    argv: tuple[str, ...]
    what: str


#: One step of a scenario's round: seconds to wait, or (fault, "start" | "stop", value or None).
Step = float | tuple[str, str, Any]


@dataclass(frozen=True)
class Scenario:
    """A named fault schedule that exposes a bug, with what its report must show.

    ``round`` runs again and again on the nemesis thread for the whole main
    phase; each fault it names is built as a package (with ``options``), so
    heal, the ledger and the report treat its ops like any other. ``exposes``
    maps a ``--bug`` flag to the anomaly kind the scenario must catch it with;
    without the flag the run must be VALID. ``proof`` says, for a reader of
    the report, which artefact shows the mechanism holding (or failing).
    ``lead_in`` is load without faults before the first round only: a round
    that opens on a cold system (no leader elected yet, no request far enough
    along to be caught) tests nothing. ``defaults`` are TestSpec fields the
    scenario needs (a rate, a time limit) that apply unless the user set them.
    """

    name: str
    summary: str
    workload: str
    round: tuple[Step, ...]
    exposes: Mapping[str, str]
    proof: str
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    lead_in: float = 0.0

    @property
    def faults(self) -> tuple[str, ...]:
        """The faults the round uses, in order of first use."""
        return tuple(dict.fromkeys(s[0] for s in self.round if isinstance(s, tuple)))


@dataclass(frozen=True)
class TargetKind:
    """A system under test as Seam knows it; see the module docstring."""

    name: str
    summary: str
    make: Callable[[MakeContext], Target]
    workloads: Mapping[str, WorkloadKind]
    default_workload: str
    bugs: Mapping[str, str] = field(default_factory=dict)
    observe: Callable[[Any, Mapping[str, NodeAddr], Path, float], AbstractContextManager[Any]] | None = None
    recover: Callable[[Remote, Mapping[str, NodeAddr], dict[str, Any], Callable[[str], None]], Any] | None = None
    scenarios: Mapping[str, Scenario] = field(default_factory=dict)
    options: tuple[Option, ...] = ()
    roles: tuple[str, ...] = ()
    check_spec: Callable[[TestSpec], None] | None = None
    refuses: Mapping[str, str] = field(default_factory=dict)  # fault -> why this system cannot take it
    #: Its nodes send from their own address (127.0.0.x on a shared host), so iptables rules
    #: naming source and destination really cut them on ``--cluster local``.
    binds_source: bool = False
    #: What an SSH host needs besides sshd (the pipeline: python3 >= 3.11); None: nothing.
    host_check: HostCheck | None = None
    #: Which node files (and rows of them) a regression case of its anomalies keeps.
    case_files: CaseFiles = NO_FILES

    def resolved_options(self, spec: TestSpec) -> dict[str, Any]:
        """Every option of this target for ``spec``: defaults, then ``--target-opt`` parsed;
        a ConfigError names the option, what it accepts and its default."""
        return resolve(f"--target-opt (target {self.name})", self.options, spec.target_options)
