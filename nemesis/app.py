"""Application faults through the target's admin endpoint.

``lost-response`` makes a service apply an operation and then drop the
connection without answering; ``slow-response`` applies and answers after a
delay. This reproduces the seed's lost refund response on demand: the caller
times out although the effect happened, and only idempotency keeps the retry
from applying it twice.

Ops: ``{"f": "start-app-fault", "value": {"kind": "lost-response", "service":
"payment", "op": "refund", "node": "n1", "count": 1}}``; ``stop-app-fault``
clears every fault this nemesis set.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from harness.core.errors import UnsupportedError
from harness.core.op import Op
from harness.core.protocols import HasAppFaults
from nemesis.pause import pick_node
from nemesis.state import Fault, FaultLedger

KINDS = ("lost-response", "slow-response")


class AppFaultNemesis:
    def __init__(self, target: Any, nodes: Sequence[str], *, seed: int = 0, ledger: FaultLedger | None = None):
        if not isinstance(target, HasAppFaults):
            raise UnsupportedError(
                f"application faults need a target with an admin fault endpoint (HasAppFaults); {type(target).__name__} has none"
            )
        self.target = target
        self.nodes = list(nodes)
        self.rng = random.Random(seed)
        self.ledger = ledger or FaultLedger(None)
        self.active: list[Fault] = []

    def setup(self, test: Any) -> None:
        self.heal(test)

    def invoke(self, test: Any, op: Op) -> Op:
        if op.f == "start-app-fault":
            spec = dict(op.value) if isinstance(op.value, dict) else {}
            kind = spec.setdefault("kind", "lost-response")
            if kind not in KINDS:
                raise ValueError(f"unknown application fault {kind!r}; choose one of {', '.join(KINDS)}")
            nodes = [pick_node(spec, self.nodes, self.target, test, self.rng)] if spec.get("node") else self.nodes
            for node in nodes:
                fault = Fault("app", node, {k: v for k, v in spec.items() if k != "node"})
                self.ledger.applied(fault)
                self.target.inject_fault(test, node, fault.detail)
                self.active.append(fault)
            return replace(op, type="info", value={**spec, "nodes": nodes})
        if op.f == "stop-app-fault":
            self.heal(test)
            return replace(op, type="info", value="cleared")
        raise ValueError(f"application-fault nemesis does not know op {op.f!r}")

    def heal(self, test: Any) -> None:
        cleared = set()
        while self.active:
            fault = self.active.pop()
            if fault.node not in cleared:
                self.target.clear_faults(test, fault.node)
                cleared.add(fault.node)
            self.ledger.healed(fault)
