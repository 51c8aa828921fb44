"""What a fault is, declared once, in the fault's own module.

Each fault module ends with one declaration, ``FAULT = FaultSpec(...)`` (a
module may declare several, as ``nemesis/app.py`` does), and
``nemesis.registry`` finds them by importing the modules of this package.
Everything else that needs to know about a fault reads the declaration:
``seam nemeses`` and ``--nemesis-opt`` (name, summary, needs, options), the
runner (root, abilities, packages), ``seam heal`` (undo, moot by ledger
kind), and the report (colour, via ``describe`` into test.json). Readers of a
history need nothing from here: every op a package schedules carries
``fault`` and ``phase`` (see ``harness.core.faults``).

A declaration's invariants:

* ``start``/``stop`` are the ``f`` of the ops that begin and end the fault;
  ``stop`` is None for a fault that is over when its op completes (a pulse);
* ``kind`` is what the fault writes to the ledger (``Fault.kind``); faults
  that share a kind share ``undo`` and ``moot``, because heal only has the
  ledger row;
* ``undo`` is idempotent and works from the ledger row alone (plus the
  Remote, and the run's target for faults that need it);
* ``build`` returns a ``Package`` whose templates come from ``start_op`` and
  ``stop_op``, so every op carries the fault's name and phase.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.core.faults import PULSE, START, STOP
from harness.core.options import Option
from harness.core.protocols import Remote
from nemesis.state import Fault, FaultLedger

# ---------------------------------------------------------------------------
# what builders get and return


@dataclass
class NemesisContext:
    """Everything a package builder may use; built once per run by the runner."""

    remote: Remote
    target: Any
    nodes: list[str]
    addresses: dict[str, str]
    seed: int = 0
    ledger: FaultLedger = field(default_factory=lambda: FaultLedger(None))


#: The order in which the final heal undoes faults: a stage waits for the ones before it.
#: A paused or killed process answers nothing, so it is resumed and restarted first;
#: then the network, so every call reaches its node; then clocks; last the faults that
#: are undone by calling the node itself (its admin endpoint). Undone the other way
#: round, clearing a stall on a still-paused leader timed out and the stall outlived
#: the heal, stalling every saga through the final phase (issue 25).
HEAL_PROCESS, HEAL_NETWORK, HEAL_CLOCK, HEAL_SERVICE = 0, 1, 2, 3


@dataclass
class Package:
    """A nemesis with its schedule: how to begin one fault, how to end it, how to undo all.

    ``stop`` is None for a pulse (its op ends it). ``final`` are the
    templates the final-heal phase runs, whatever is still active, in the
    order of ``heal_stage`` (``HEAL_PROCESS`` first).
    """

    name: str
    nemesis: Any
    start: Callable[[random.Random], dict[str, Any]]
    stop: dict[str, Any] | None
    final: list[dict[str, Any]]
    heal_stage: int = HEAL_SERVICE


@dataclass(frozen=True)
class MootEnv:
    """What ``FaultSpec.moot`` may ask about a dead run's nodes (``harness.recover`` builds it).

    ``gone``: nodes that no longer exist, with why (a removed namespace);
    ``exists(node, path)``: is that file there now; ``workdir(node)``: the
    node's run directory from test.json, if known.
    """

    gone: Mapping[str, str] = field(default_factory=dict)
    exists: Callable[[str, str], bool] = lambda node, path: True
    workdir: Callable[[str], str | None] = lambda node: None


Build = Callable[[NemesisContext, Mapping[str, Any]], Package]
Undo = Callable[[Fault, Remote, Any, Any], None]
Moot = Callable[[Fault, MootEnv], str | None]


def never_moot(fault: Fault, env: MootEnv) -> str | None:
    """For faults that must be undone whatever happened to the node (a paused pid)."""
    return None


def moot_with_node(fault: Fault, env: MootEnv) -> str | None:
    """For faults that live in the node's namespace (iptables rules): gone with the node."""
    if fault.node in env.gone:
        return f"{env.gone[fault.node]}, and the fault with it"
    return None


def moot_with_workdir(fault: Fault, env: MootEnv) -> str | None:
    """For faults of a node process, which lives in its namespace and its run directory:
    without either there is nothing to restart or to clear."""
    reason = moot_with_node(fault, env)
    if reason is not None:
        return reason
    workdir = env.workdir(fault.node)
    if workdir and not env.exists(fault.node, workdir):
        return f"the run directory {workdir} was removed (the run was torn down)"
    return None


# ---------------------------------------------------------------------------
# the declaration


@dataclass(frozen=True)
class FaultSpec:
    """One fault, as ``--nemesis NAME`` selects it. See the module docstring for invariants.

    ``services``, for a fault that acts on a workload's service rather than
    on a node, gives the services it would touch with the given options, so
    a workload that never calls them is refused before anything starts.
    """

    name: str
    summary: str
    start: str
    stop: str | None
    kind: str
    needs: str
    build: Build
    undo: Undo
    colour: str
    moot: Moot = never_moot
    needs_root: bool = False
    ability: type | None = None
    options: tuple[Option, ...] = ()
    services: Callable[[Mapping[str, Any]], frozenset[str]] | None = None
    heal_stage: int = HEAL_SERVICE

    @property
    def pulse(self) -> bool:
        return self.stop is None

    def start_op(self, value: Any = None) -> dict[str, Any]:
        """The template of the op that begins this fault, marked with its name and phase."""
        op: dict[str, Any] = {
            "f": self.start,
            "fault": self.name,
            "phase": PULSE if self.pulse else START,
        }
        if value is not None:
            op["value"] = value
        return op

    def stop_op(self, f: str | None = None) -> dict[str, Any]:
        """The template of the op that ends this fault (for a pulse: the op that heals
        what it may leave, named by ``f``, used only in the final-heal phase)."""
        name = f or self.stop
        if name is None:
            raise ValueError(f"{self.name} is a pulse: name the op that heals it")
        return {"f": name, "fault": self.name, "phase": STOP}

    def option(self, name: str) -> Option | None:
        return next((o for o in self.options if o.name == name), None)

    def defaults(self) -> dict[str, Any]:
        return {o.name: o.default for o in self.options}
