"""SIGSTOP and SIGCONT on real processes: a paused leader, replica or node.

Ops (process ``nemesis``): ``{"f": "start-pause", "value": {"role":
"leader"}}`` (a role the target declares, or ``{"node": "n2"}``, or nothing
for a random node) stops the processes the target names for that node and
role; ``stop-pause`` continues every process this nemesis stopped. The
completion records the node and the pids. The paused pids are kept in the
fault ledger, so a crash of the control node cannot leave a process stopped
forever. The option ``pause.target`` says what the schedule aims at (see
``nemesis.aim``).
"""

from __future__ import annotations

import random
import signal
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from harness.core.errors import UnsupportedError
from harness.core.op import Op
from harness.core.protocols import Pausable, Remote
from nemesis.aim import ANY, aim_value, check_aim, pick_node, target_option
from nemesis.spec import HEAL_PROCESS, FaultSpec, NemesisContext, Package
from nemesis.state import Fault, FaultLedger

KIND = "pause"  # the ledger kind


class PauseNemesis:
    def __init__(self, remote: Remote, target: Any, nodes: Sequence[str], *, seed: int = 0, ledger: FaultLedger | None = None):
        if not isinstance(target, Pausable):
            raise UnsupportedError(
                f"the pause nemesis needs a target that can name its pids (Pausable); {type(target).__name__} cannot"
            )
        self.remote = remote
        self.target = target
        self.nodes = list(nodes)
        self.rng = random.Random(seed)
        self.ledger = ledger or FaultLedger(None)
        self.paused: list[Fault] = []

    def setup(self, test: Any) -> None:
        self.heal(test)

    def invoke(self, test: Any, op: Op) -> Op:
        if op.f == "start-pause":
            spec = op.value if isinstance(op.value, dict) else {}
            node = pick_node(spec, self.nodes, self.target, test, self.rng)
            role = spec.get("role")
            pids = self.target.pids(test, node, role)
            if not pids:
                return replace(op, type="info", value={"node": node, "role": role, "pids": [], "note": "no process to pause"})
            fault = Fault(KIND, node, {"pids": sorted(pids)})
            self.ledger.applied(fault)
            self.paused.append(fault)
            for pid in pids:
                self.remote.signal(node, pid, signal.SIGSTOP)
            return replace(op, type="info", value={"node": node, "role": role, "pids": sorted(pids)})
        if op.f == "stop-pause":
            resumed = self._resume_all()
            return replace(op, type="info", value={"resumed": resumed})
        raise ValueError(f"pause nemesis does not know op {op.f!r}")

    def _resume_all(self) -> dict[str, list[int]]:
        resumed: dict[str, list[int]] = {}
        while self.paused:
            fault = self.paused.pop()
            undo_pause(fault, self.remote)
            self.ledger.healed(fault)
            resumed.setdefault(fault.node, []).extend(fault.detail["pids"])
        return resumed

    def heal(self, test: Any) -> None:
        self._resume_all()


def undo_pause(fault: Fault, remote: Remote, target: Any = None, test: Any = None) -> None:
    """SIGCONT each pid of the ledger row; a pid that is gone needs nothing.

    Never moot: the pid is signalled by number, so it is resumed even when
    the node's namespace or run directory is gone.
    """
    for pid in fault.detail.get("pids", []):
        try:
            remote.signal(fault.node, int(pid), signal.SIGCONT)
        except Exception:
            if remote.alive(fault.node, int(pid)):
                raise


def build(ctx: NemesisContext, options: Mapping[str, Any]) -> Package:
    aim = options["target"]
    check_aim(FAULT.name, aim, ctx)
    nem = PauseNemesis(ctx.remote, ctx.target, ctx.nodes, seed=ctx.seed, ledger=ctx.ledger)

    def begin(rng: random.Random) -> dict[str, Any]:
        return FAULT.start_op(aim_value(aim, ctx, rng))

    return Package(FAULT.name, nem, begin, FAULT.stop_op(), [FAULT.stop_op()])


FAULT = FaultSpec(
    name="pause",
    summary="SIGSTOP a node's service (or a role's, e.g. the leader), SIGCONT one interval later",
    start="start-pause",
    stop="stop-pause",
    kind=KIND,
    needs="a target that can name its pids (Pausable); roles need HasRoles, the leader HasLeader",
    ability=Pausable,
    build=build,
    undo=undo_pause,
    colour="#4e79a7",
    options=(target_option(ANY),),
    heal_stage=HEAL_PROCESS,
)
