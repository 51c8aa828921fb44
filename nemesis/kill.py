"""SIGKILL a role or a whole node, then restart it.

Ops: ``{"f": "kill", "value": {"node": "n3"}}`` (or ``{"role": "leader"}``, a
role the target declares, or nothing for a random node) kills through the
target's ``Killable.kill`` and records the node and role; ``{"f": "start"}``
restarts everything this nemesis killed. Heal restarts whatever is still
down. The option ``kill.target`` says what the schedule aims at (see
``nemesis.aim``).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from harness.core.errors import NemesisError, UnsupportedError
from harness.core.op import Op
from harness.core.protocols import Killable, Remote, Test
from nemesis.aim import RANDOM, aim_value, check_aim, pick_node, target_option
from nemesis.spec import HEAL_PROCESS, FaultSpec, NemesisContext, Package, moot_with_workdir
from nemesis.state import Fault, FaultLedger

KIND = "kill"  # the ledger kind


class KillNemesis:
    def __init__(self, target: Any, nodes: Sequence[str], *, seed: int = 0, ledger: FaultLedger | None = None):
        if not isinstance(target, Killable):
            raise UnsupportedError(
                f"the kill nemesis needs a target that can start and kill services (Killable); {type(target).__name__} cannot"
            )
        self.target = target
        self.nodes = list(nodes)
        self.rng = random.Random(seed)
        self.ledger = ledger or FaultLedger(None)
        self.killed: list[Fault] = []

    def setup(self, test: Test | None) -> None:
        self.heal(test)

    def invoke(self, test: Test | None, op: Op) -> Op:
        if op.f == "kill":
            spec = op.value if isinstance(op.value, dict) else {}
            node = pick_node(spec, self.nodes, self.target, test, self.rng)
            role = spec.get("role")
            fault = Fault(KIND, node, {"role": role})
            self.ledger.applied(fault)
            pids = self.target.kill(test, node, role)
            self.killed.append(fault)
            return replace(op, type="info", value={"node": node, "role": role, "pids": sorted(pids)})
        if op.f == "start":
            return replace(op, type="info", value={"restarted": self._restart_all(test)})
        raise ValueError(f"kill nemesis does not know op {op.f!r}")

    def _restart_all(self, test: Test | None) -> list[str]:
        restarted = []
        while self.killed:
            fault = self.killed.pop()
            self.target.start(test, fault.node, fault.detail.get("role"))
            self.ledger.healed(fault)
            restarted.append(fault.node)
        return restarted

    def heal(self, test: Test | None) -> None:
        self._restart_all(test)


def undo_kill(fault: Fault, remote: Remote, target: Any = None, test: Test | None = None) -> None:
    """Restart the killed node (and role) through the run's target."""
    if target is None:  # never mark it healed without doing it: it stays outstanding
        raise NemesisError(f"restarting {fault.node} needs the run's target; `seam heal` rebuilds it from test.json")
    target.start(test, fault.node, fault.detail.get("role"))


def build(ctx: NemesisContext, options: Mapping[str, Any]) -> Package:
    aim = options["target"]
    check_aim(FAULT.name, aim, ctx)
    nem = KillNemesis(ctx.target, ctx.nodes, seed=ctx.seed, ledger=ctx.ledger)

    def begin(rng: random.Random) -> dict[str, Any]:
        return FAULT.start_op(aim_value(aim, ctx, rng))

    return Package(FAULT.name, nem, begin, FAULT.stop_op(), [FAULT.stop_op()])


FAULT = FaultSpec(
    name="kill",
    summary="SIGKILL a node's service (or a role's), restart it one interval later",
    start="kill",
    stop="start",
    kind=KIND,
    needs="a target that can start and kill services (Killable); roles need HasRoles",
    ability=Killable,
    build=build,
    undo=undo_kill,
    moot=moot_with_workdir,
    colour="#b07aa1",
    options=(target_option(RANDOM),),
    heal_stage=HEAL_PROCESS,
)
