"""The partition nemesis: compute a grudge, record it, apply it with iptables.

Ops (process ``nemesis``):
  ``{"f": "start-partition", "value": "halves"}`` -> completion ``info`` whose
  value is the grudge that was applied (node -> nodes it drops), so the history
  says exactly who could not hear whom;
  ``{"f": "stop-partition"}`` -> heals every node.
Shapes: ``halves``, ``isolate-one``, ``isolate-leader`` (asks the target who
leads), ``leader-minority`` (the leader plus the fewest others that stay a
minority: with 5 nodes the leader and one follower; by name only),
``majorities-ring``, ``bridge``, ``random`` (a random split in two).
The option ``partition.shape`` picks one, or ``any`` (the default): a seeded
choice, each time, among the shapes this cluster and target support.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from harness.core.errors import ConfigError, NemesisError, UnsupportedError
from harness.core.op import Op
from harness.core.options import choice
from harness.core.protocols import HasLeader, Test
from nemesis import grudge as g
from nemesis.net import Net, undo_chain
from nemesis.spec import HEAL_NETWORK, FaultSpec, NemesisContext, Package, moot_with_node
from nemesis.state import Fault, FaultLedger

SHAPES = ("halves", "isolate-one", "isolate-leader", "leader-minority", "majorities-ring", "bridge", "random")
#: Shapes that ask the target who leads (HasLeader).
LED = ("isolate-leader", "leader-minority")
#: Shapes ``any`` never draws, so the seeded schedules of runs from before they existed replay unchanged.
BY_NAME_ONLY = ("leader-minority",)
ANY = "any"
KIND = "partition"  # the ledger kind


def compute(shape: str, nodes: Sequence[str], rng: random.Random, leader: str | None = None) -> g.Grudge:
    """The grudge for a named shape. Pure: the rng and the leader are inputs."""
    if shape == "halves":
        return g.halves(nodes, rng)
    if shape == "isolate-one":
        return g.isolate_one(nodes, rng)
    if shape in LED and leader is None:
        raise NemesisError(f"{shape}: the target reports no leader right now; try again later or use isolate-one")
    if shape == "isolate-leader":
        return g.isolate(nodes, leader)  # type: ignore[arg-type]
    if shape == "leader-minority":
        return g.leader_minority(nodes, leader, rng)  # type: ignore[arg-type]
    if shape == "majorities-ring":
        return g.majorities_ring(nodes, rng)
    if shape == "bridge":
        return g.bridge(nodes, rng)
    if shape == "random":
        return g.random_partition(nodes, rng)
    raise ValueError(f"unknown partition shape {shape!r}; choose one of {', '.join(SHAPES)}")


class PartitionNemesis:
    """Applies grudges on every node; heal removes Seam's chains everywhere."""

    def __init__(
        self,
        net: Net,
        nodes: Sequence[str],
        *,
        seed: int = 0,
        target: Any = None,
        ledger: FaultLedger | None = None,
    ):
        self.net = net
        self.nodes = list(nodes)
        self.rng = random.Random(seed)
        self.target = target
        self.ledger = ledger or FaultLedger(None)

    def setup(self, test: Test | None) -> None:
        self.heal(test)

    def invoke(self, test: Test | None, op: Op) -> Op:
        if op.f == "start-partition":
            shape = op.value or "halves"
            leader = None
            note = None
            if shape in LED:
                if not isinstance(self.target, HasLeader):
                    raise UnsupportedError(f"{shape} needs a target that can say who leads (HasLeader)")
                leader = self.target.leader(test)
                if leader is None:  # mid-election: cut off some node rather than nothing
                    shape, note = "isolate-one", "no node led when asked; isolated a random node"
            grudge = compute(shape, self.nodes, self.rng, leader)
            applied = {node: sorted(srcs) for node, srcs in grudge.items() if srcs}
            for node, srcs in applied.items():
                self.ledger.applied(Fault(KIND, node, {"chain": self.net.chain(node)}))
                self.net.drop_from(node, srcs)
            value = {"shape": shape, "grudge": applied}
            if note:
                value["note"] = note
            return replace(op, type="info", value=value)
        if op.f == "stop-partition":
            self.heal(test)
            return replace(op, type="info", value="healed")
        raise ValueError(f"partition nemesis does not know op {op.f!r}")

    def heal(self, test: Test | None) -> None:
        self.net.heal_all(self.nodes, KIND, self.ledger)


def shapes_for(ctx: NemesisContext) -> list[str]:
    """The shapes this cluster and target support: a leader to isolate, 3 nodes for a ring."""
    shapes = [s for s in SHAPES if s not in LED or isinstance(ctx.target, HasLeader)]
    if len(ctx.nodes) < 3:
        shapes = [s for s in shapes if s not in ("bridge", "majorities-ring")]
    return shapes


def build(ctx: NemesisContext, options: Mapping[str, Any]) -> Package:
    shape = options["shape"]
    shapes = shapes_for(ctx)
    if shape != ANY and shape not in shapes:
        raise ConfigError(
            f"partition.shape={shape}: this run cannot make it (isolate-leader and leader-minority need a target that "
            f"says who leads; bridge and majorities-ring need 3 nodes); choose {', '.join([ANY, *shapes])}"
        )
    net = Net(ctx.remote, ctx.addresses, tag="p")
    nem = PartitionNemesis(net, ctx.nodes, seed=ctx.seed, target=ctx.target, ledger=ctx.ledger)

    def begin(rng: random.Random) -> dict[str, Any]:
        return FAULT.start_op(rng.choice([s for s in shapes if s not in BY_NAME_ONLY]) if shape == ANY else shape)

    return Package(FAULT.name, nem, begin, FAULT.stop_op(), [FAULT.stop_op()])


FAULT = FaultSpec(
    name="partition",
    summary="iptables drops between groups of nodes: halves, isolate-one, isolate-leader, "
    "leader-minority, majorities-ring, bridge, random",
    start="start-partition",
    stop="stop-partition",
    kind=KIND,
    needs="root (iptables in each node's namespace, or on the host for 127.0.0.x nodes)",
    needs_root=True,
    build=build,
    undo=undo_chain,
    moot=moot_with_node,
    colour="#e15759",
    options=(
        choice(
            "shape",
            (ANY, *SHAPES),
            ANY,
            "the partition's shape; any: a seeded choice among the shapes the run supports, each time",
        ),
    ),
    heal_stage=HEAL_NETWORK,
)
