"""A paused leader, replica or node: the target freezes it, then thaws it.

Ops (process ``nemesis``): ``{"f": "start-pause", "value": {"role":
"leader"}}`` (a role the target declares, or ``{"node": "n2"}``, or nothing
for a random node) asks the target to pause that node and role
(``Pausable.pause``: SIGSTOP of its daemons for every bundled target);
``stop-pause`` resumes everything this nemesis paused. The completion
records the node and what the target paused (the pids). The fault ledger row
is written before the pause, so a crash of the control node cannot leave a
process stopped forever: heal resumes the node through the target's
``recover`` (or, for rows of older runs, SIGCONTs the pids they name). The
option ``pause.target`` says what the schedule aims at (see ``nemesis.aim``).
"""

from __future__ import annotations

import random
import signal
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from harness.core.errors import UnsupportedError
from harness.core.op import Op
from harness.core.protocols import Pausable, Remote, Test
from nemesis.aim import ANY, aim_value, check_aim, pick_node, target_option
from nemesis.spec import HEAL_PROCESS, FaultSpec, MootEnv, NemesisContext, Package, moot_with_node
from nemesis.state import Fault, FaultLedger

KIND = "pause"  # the ledger kind


class PauseNemesis:
    def __init__(self, remote: Remote, target: Any, nodes: Sequence[str], *, seed: int = 0, ledger: FaultLedger | None = None):
        if not isinstance(target, Pausable):
            raise UnsupportedError(
                f"the pause nemesis needs a target that can pause and resume a node (Pausable); {type(target).__name__} cannot"
            )
        self.remote = remote
        self.target = target
        self.nodes = list(nodes)
        self.rng = random.Random(seed)
        self.ledger = ledger or FaultLedger(None)
        self.paused: list[tuple[Fault, dict[str, Any]]] = []  # each with what the target paused

    def setup(self, test: Test | None) -> None:
        self.heal(test)

    def invoke(self, test: Test | None, op: Op) -> Op:
        if op.f == "start-pause":
            spec = op.value if isinstance(op.value, dict) else {}
            node = pick_node(spec, self.nodes, self.target, test, self.rng)
            role = spec.get("role")
            intent = Fault(KIND, node, {"role": role})
            self.ledger.applied(intent)  # first: a crash from here on still heals the node
            paused = self.target.pause(test, node, role)
            if not paused:
                self.ledger.healed(intent)
                return replace(op, type="info", value={"node": node, "role": role, "pids": [], "note": "no process to pause"})
            # The row, refined with what the target paused (its pids), replaces the intent:
            # written before the intent is closed, so one of them is always open.
            fault = Fault(KIND, node, {"role": role, **paused})
            self.ledger.applied(fault)
            self.ledger.healed(intent)
            self.paused.append((fault, dict(paused)))
            return replace(op, type="info", value={"node": node, "role": role, **paused})
        if op.f == "stop-pause":
            resumed = self._resume_all(test)
            return replace(op, type="info", value={"resumed": resumed})
        raise ValueError(f"pause nemesis does not know op {op.f!r}")

    def _resume_all(self, test: Test | None) -> dict[str, list[int]]:
        resumed: dict[str, list[int]] = {}
        while self.paused:
            fault, paused = self.paused.pop()
            self.target.resume(test, fault.node, paused)
            self.ledger.healed(fault)
            resumed.setdefault(fault.node, []).extend(paused.get("pids") or [])
        return resumed

    def heal(self, test: Test | None) -> None:
        self._resume_all(test)


def undo_pause(fault: Fault, remote: Remote, target: Any = None, test: Test | None = None) -> None:
    """Resume the node of the ledger row: through the target when heal has one (what the
    row says was paused, or, for a row written before the pause, everything of the
    node), else SIGCONT of the pids the row names; a pid that is gone needs nothing."""
    if isinstance(target, Pausable):
        target.resume(test, fault.node, fault.detail)
        return
    for pid in fault.detail.get("pids", []):
        try:
            remote.signal(fault.node, int(pid), signal.SIGCONT)
        except Exception:
            if remote.alive(fault.node, int(pid)):
                raise


def moot_pause(fault: Fault, env: MootEnv) -> str | None:
    """A row naming its pids is undone by number wherever the process is (never moot).
    A row written before the pause names none: it went with its node's namespace."""
    return None if fault.detail.get("pids") else moot_with_node(fault, env)


def build(ctx: NemesisContext, options: Mapping[str, Any]) -> Package:
    aim = options["target"]
    check_aim(FAULT.name, aim, ctx)
    nem = PauseNemesis(ctx.remote, ctx.target, ctx.nodes, seed=ctx.seed, ledger=ctx.ledger)

    def begin(rng: random.Random) -> dict[str, Any]:
        return FAULT.start_op(aim_value(aim, ctx, rng))

    return Package(FAULT.name, nem, begin, FAULT.stop_op(), [FAULT.stop_op()])


FAULT = FaultSpec(
    name="pause",
    summary="pause a node's service (or a role's, e.g. the leader; SIGSTOP for daemons), resume one interval later",
    start="start-pause",
    stop="stop-pause",
    kind=KIND,
    needs="a target that can pause and resume a node (Pausable); roles need HasRoles, the leader HasLeader",
    ability=Pausable,
    build=build,
    undo=undo_pause,
    moot=moot_pause,
    colour="#4e79a7",
    options=(target_option(ANY),),
    heal_stage=HEAL_PROCESS,
)
