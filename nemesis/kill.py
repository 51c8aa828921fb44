"""SIGKILL a role or a whole node, then restart it.

Ops: ``{"f": "kill", "value": {"node": "n3"}}`` (or a role such as
``orchestrator-leader``, or nothing for a random node) kills through the
target's ``Killable.kill`` and records the pids; ``{"f": "start"}`` restarts
everything this nemesis killed. Heal restarts whatever is still down.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from harness.core.errors import UnsupportedError
from harness.core.op import Op
from harness.core.protocols import Killable
from nemesis.pause import pick_node
from nemesis.state import Fault, FaultLedger


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

    def setup(self, test: Any) -> None:
        self.heal(test)

    def invoke(self, test: Any, op: Op) -> Op:
        if op.f == "kill":
            spec = op.value if isinstance(op.value, dict) else {}
            node = pick_node(spec, self.nodes, self.target, test, self.rng)
            role = spec.get("role")
            role = None if role == "orchestrator-leader" else role
            fault = Fault("kill", node, {"role": role})
            self.ledger.applied(fault)
            pids = self.target.kill(test, node, role)
            self.killed.append(fault)
            return replace(op, type="info", value={"node": node, "role": role, "pids": sorted(pids)})
        if op.f == "start":
            return replace(op, type="info", value={"restarted": self._restart_all(test)})
        raise ValueError(f"kill nemesis does not know op {op.f!r}")

    def _restart_all(self, test: Any) -> list[str]:
        restarted = []
        while self.killed:
            fault = self.killed.pop()
            self.target.start(test, fault.node, fault.detail.get("role"))
            self.ledger.healed(fault)
            restarted.append(fault.node)
        return restarted

    def heal(self, test: Any) -> None:
        self._restart_all(test)
