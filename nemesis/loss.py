"""Random packet loss between nodes with iptables' ``statistic`` match.

``{"f": "start-loss", "value": {"probability": 0.3}}`` makes every node drop
each packet from every other node with that probability (both directions,
since every node gets the rule); ``stop-loss`` removes the rules. Loss lives
in its own chains (``seam-l-<node>``), so it can overlap a partition and
each heals without touching the other. The option ``loss.p`` sets the
probability the schedule asks for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from harness.core.op import Op
from harness.core.options import probability
from harness.core.protocols import Test
from nemesis.net import Net, undo_chain
from nemesis.spec import HEAL_NETWORK, FaultSpec, NemesisContext, Package, moot_with_node
from nemesis.state import Fault, FaultLedger

DEFAULT_PROBABILITY = 0.2
KIND = "loss"  # the ledger kind


class LossNemesis:
    def __init__(self, net: Net, nodes: Sequence[str], *, ledger: FaultLedger | None = None):
        self.net = net
        self.nodes = list(nodes)
        self.ledger = ledger or FaultLedger(None)

    def setup(self, test: Test | None) -> None:
        self.heal(test)

    def invoke(self, test: Test | None, op: Op) -> Op:
        if op.f == "start-loss":
            spec = op.value if isinstance(op.value, dict) else {}
            p = float(spec.get("probability", DEFAULT_PROBABILITY))
            targets = spec.get("nodes") or self.nodes
            for node in targets:
                self.ledger.applied(Fault(KIND, node, {"chain": self.net.chain(node)}))
                self.net.drop_from(node, [n for n in self.nodes if n != node], probability=p)
            return replace(op, type="info", value={"probability": p, "nodes": list(targets)})
        if op.f == "stop-loss":
            self.heal(test)
            return replace(op, type="info", value="healed")
        raise ValueError(f"loss nemesis does not know op {op.f!r}")

    def heal(self, test: Test | None) -> None:
        self.net.heal_all(self.nodes, KIND, self.ledger)


def build(ctx: NemesisContext, options: Mapping[str, Any]) -> Package:
    nem = LossNemesis(Net(ctx.remote, ctx.addresses, tag="l"), ctx.nodes, ledger=ctx.ledger)
    value = {"probability": float(options["p"])}
    return Package(FAULT.name, nem, lambda rng: FAULT.start_op(dict(value)), FAULT.stop_op(), [FAULT.stop_op()])


FAULT = FaultSpec(
    name="loss",
    summary="random packet loss between every pair of nodes (iptables statistic match)",
    start="start-loss",
    stop="stop-loss",
    kind=KIND,
    needs="root (iptables)",
    needs_root=True,
    build=build,
    undo=undo_chain,
    moot=moot_with_node,
    colour="#76b7b2",
    options=(
        probability("p", DEFAULT_PROBABILITY, "the probability that each packet between two nodes is dropped"),
    ),
    heal_stage=HEAL_NETWORK,
)
