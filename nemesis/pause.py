"""SIGSTOP and SIGCONT on real processes: a paused leader, replica or node.

Ops (process ``nemesis``): ``{"f": "start-pause", "value": {"role":
"orchestrator-leader"}}`` (or ``{"node": "n2"}``, or nothing for a random
node) stops the processes the target names for that role; ``stop-pause``
continues every process this nemesis stopped. The completion records the node
and the pids. The paused pids are kept in the fault ledger, so a crash of the
control node cannot leave a process stopped forever.
"""

from __future__ import annotations

import random
import signal
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from harness.core.errors import NemesisError, UnsupportedError
from harness.core.op import Op
from harness.core.protocols import HasLeader, Pausable, Remote
from nemesis.state import Fault, FaultLedger


def pick_node(spec: dict[str, Any], nodes: Sequence[str], target: Any, test: Any, rng: random.Random) -> str:
    """The node a fault aims at: named, the current leader, or a seeded random one."""
    if spec.get("node"):
        if spec["node"] not in nodes:
            raise NemesisError(f"unknown node {spec['node']!r}; nodes are {', '.join(nodes)}")
        return str(spec["node"])
    if spec.get("role") == "orchestrator-leader":
        if not isinstance(target, HasLeader):
            raise UnsupportedError("pausing the leader needs a target that can say who leads (HasLeader)")
        leader = target.leader(test)
        if leader is None:
            raise NemesisError("no node reports itself leader right now; pause a random node instead")
        return leader
    return rng.choice(list(nodes))


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
            pids = self.target.pids(test, node, None if role == "orchestrator-leader" else role)
            if not pids:
                return replace(op, type="info", value={"node": node, "pids": [], "note": "no process to pause"})
            fault = Fault("pause", node, {"pids": sorted(pids)})
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
            undo_pause(self.remote, fault)
            self.ledger.healed(fault)
            resumed.setdefault(fault.node, []).extend(fault.detail["pids"])
        return resumed

    def heal(self, test: Any) -> None:
        self._resume_all()


def undo_pause(remote: Remote, fault: Fault) -> None:
    """SIGCONT each pid; a pid that is gone needs nothing."""
    for pid in fault.detail.get("pids", []):
        try:
            remote.signal(fault.node, int(pid), signal.SIGCONT)
        except Exception:
            if remote.alive(fault.node, int(pid)):
                raise
