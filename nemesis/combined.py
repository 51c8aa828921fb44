"""Nemesis packages: a nemesis, the schedule of its faults, and what undoes them.

``--nemesis partition,pause`` composes packages (Jepsen's
``nemesis.combined``): each name maps to a builder in ``REGISTRY`` that also
says what the fault needs, so ``seam nemeses`` and the CLI's validation come
from the same table. The schedule is a seeded generator on the nemesis
thread: every ``interval`` seconds a fault starts, and it stops one interval
later. With ``concurrency=2`` a second, different fault starts while the
first is active (the seed's combined-chaos stretch: a paused leader during
packet loss, say) and both are stopped before the next round. Every package
also has a final generator, run after the main phase, that undoes whatever
might still be active.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.core.errors import ConfigError, NemesisError
from harness.core.op import Op
from harness.core.protocols import Remote
from nemesis import partition
from nemesis.state import FaultLedger


@dataclass
class NemesisContext:
    """Everything a package builder may use; built once per run by the runner."""

    remote: Remote
    target: Any
    nodes: list[str]
    addresses: dict[str, str]
    seed: int = 0
    ledger: FaultLedger = field(default_factory=lambda: FaultLedger(None))
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Package:
    name: str
    nemesis: Any
    start: Callable[[random.Random], dict]  # template that begins one fault
    stop: dict  # template that ends it
    final: list[dict]  # templates that undo everything this package can do


@dataclass(frozen=True)
class Entry:
    summary: str
    needs: str
    build: Callable[[NemesisContext], Package]


def _partition(ctx: NemesisContext) -> Package:
    from nemesis.net import Net

    nem = partition.PartitionNemesis(
        Net(ctx.remote, ctx.addresses, tag="p"), ctx.nodes, seed=ctx.seed, target=ctx.target, ledger=ctx.ledger
    )
    shapes = [s for s in partition.SHAPES if s != "isolate-leader" or _has_leader(ctx.target)]
    if len(ctx.nodes) < 3:
        shapes = [s for s in shapes if s not in ("bridge", "majorities-ring")]
    start = ctx.options.get("partition")

    def begin(rng: random.Random) -> dict:
        return {"f": "start-partition", "value": start or rng.choice(shapes)}

    stop = {"f": "stop-partition"}
    return Package("partition", nem, begin, stop, [stop])


def _loss(ctx: NemesisContext) -> Package:
    from nemesis.loss import LossNemesis
    from nemesis.net import Net

    nem = LossNemesis(Net(ctx.remote, ctx.addresses, tag="l"), ctx.nodes, ledger=ctx.ledger)
    p = float(ctx.options.get("loss", 0.2))
    stop = {"f": "stop-loss"}
    return Package("loss", nem, lambda rng: {"f": "start-loss", "value": {"probability": p}}, stop, [stop])


def _pause(ctx: NemesisContext) -> Package:
    from nemesis.pause import PauseNemesis

    nem = PauseNemesis(ctx.remote, ctx.target, ctx.nodes, seed=ctx.seed, ledger=ctx.ledger)
    roles = [{"role": "orchestrator-leader"}, {}] if _has_leader(ctx.target) else [{}]
    stop = {"f": "stop-pause"}
    return Package("pause", nem, lambda rng: {"f": "start-pause", "value": rng.choice(roles)}, stop, [stop])


def _kill(ctx: NemesisContext) -> Package:
    from nemesis.kill import KillNemesis

    nem = KillNemesis(ctx.target, ctx.nodes, seed=ctx.seed, ledger=ctx.ledger)
    stop = {"f": "start"}
    return Package("kill", nem, lambda rng: {"f": "kill", "value": {"node": rng.choice(ctx.nodes)}}, stop, [stop])


def _clock(ctx: NemesisContext) -> Package:
    from nemesis.clock import ClockNemesis

    nem = ClockNemesis(ctx.remote, ctx.target, ctx.nodes, seed=ctx.seed, ledger=ctx.ledger)

    def begin(rng: random.Random) -> dict:
        seconds = rng.choice([-1, 1]) * rng.randint(1, int(ctx.options.get("clock", 30)))
        return {"f": "bump", "value": {"node": rng.choice(ctx.nodes), "seconds": seconds}}

    stop = {"f": "reset"}
    return Package("clock", nem, begin, stop, [stop])


def _app(kind: str) -> Callable[[NemesisContext], Package]:
    def build(ctx: NemesisContext) -> Package:
        from nemesis.app import AppFaultNemesis

        nem = AppFaultNemesis(ctx.target, ctx.nodes, seed=ctx.seed, ledger=ctx.ledger)
        service = ctx.options.get("service", "payment")
        operation = ctx.options.get("op", "refund")
        value = {"kind": kind, "service": service, "op": operation, "count": 1, "seconds": 3}
        stop = {"f": "stop-app-fault"}
        return Package(kind, nem, lambda rng: {"f": "start-app-fault", "value": dict(value)}, stop, [stop])

    return build


def _has_leader(target: Any) -> bool:
    from harness.core.protocols import HasLeader

    return isinstance(target, HasLeader)


REGISTRY: dict[str, Entry] = {
    "partition": Entry(
        "iptables drops between groups of nodes: halves, isolate-one, isolate-leader, majorities-ring, bridge, random",
        "root (iptables in each node's namespace, or on the host for 127.0.0.x nodes)",
        _partition,
    ),
    "loss": Entry(
        "random packet loss between every pair of nodes (iptables statistic match, --loss P, default 0.2)",
        "root (iptables)",
        _loss,
    ),
    "pause": Entry(
        "SIGSTOP the orchestrator leader or a random node's service, SIGCONT one interval later",
        "a target that names its pids (Pausable)",
        _pause,
    ),
    "kill": Entry(
        "SIGKILL a node's service, restart it one interval later",
        "a target that can start and kill services (Killable)",
        _kill,
    ),
    "clock": Entry(
        "skew a node's wall clock by up to +/- 30 s with libfaketime, reset one interval later",
        "libfaketime on the nodes and a target that runs under it (Skewable)",
        _clock,
    ),
    "lost-response": Entry(
        "the service applies an operation, then drops the connection without answering",
        "a target with an admin fault endpoint (HasAppFaults)",
        _app("lost-response"),
    ),
    "slow-response": Entry(
        "the service applies an operation, then answers 3 s late",
        "a target with an admin fault endpoint (HasAppFaults)",
        _app("slow-response"),
    ),
}


def parse_names(spec: str | Sequence[str] | None) -> list[str]:
    """``"partition,pause"`` -> ["partition", "pause"]; unknown names are a ConfigError."""
    if not spec:
        return []
    names = [n.strip() for n in (spec.split(",") if isinstance(spec, str) else spec) if n.strip()]
    if names == ["none"]:
        return []
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        raise ConfigError(
            f"unknown nemesis {', '.join(unknown)}; choose from {', '.join(REGISTRY)} (see `seam nemeses`)"
        )
    return list(dict.fromkeys(names))


class ComposedNemesis:
    """Routes each op to the package whose nemesis knows its ``f``; heals all."""

    def __init__(self, packages: Sequence[Package]):
        self.packages = list(packages)
        self.routes: dict[str, Any] = {}
        for pkg in self.packages:
            for template in [pkg.start(random.Random(0)), pkg.stop, *pkg.final]:
                self.routes[template["f"]] = pkg.nemesis

    def setup(self, test: Any) -> None:
        for pkg in self.packages:
            pkg.nemesis.setup(test)

    def invoke(self, test: Any, op: Op) -> Op:
        nem = self.routes.get(op.f)
        if nem is None:
            return replace(op, type="info", value=None, extra={**op.extra, "error": f"no nemesis handles {op.f!r}"})
        return nem.invoke(test, op)

    def heal(self, test: Any) -> None:
        errors = []
        for pkg in self.packages:
            try:
                pkg.nemesis.heal(test)
            except Exception as e:  # heal everything we can, then report
                errors.append(f"{pkg.name}: {e}")
        if errors:
            raise NemesisError("heal failed: " + "; ".join(errors))


def build(names: Sequence[str], ctx: NemesisContext) -> list[Package]:
    return [REGISTRY[name].build(ctx) for name in names]


def schedule(packages: Sequence[Package], *, interval: float, concurrency: int = 1) -> Any:
    """The seeded fault schedule, for the nemesis thread (an endless generator).

    Each round: wait, start one fault (and, with concurrency 2, a second,
    different one half an interval later), wait, stop them in reverse order.
    """
    from harness.generator import fn, nemesis, sleep

    if not packages:
        return None
    width = max(1, min(concurrency, len(packages)))

    def one_round(test: Any, ctx: Any) -> list:
        rng = ctx.rng("nemesis-round")
        chosen = rng.sample(list(packages), width)
        steps: list = [sleep(interval)]
        for i, pkg in enumerate(chosen):
            if i:
                steps.append(sleep(interval / 2))
            steps.append(pkg.start(rng))
        steps.append(sleep(interval))
        steps.extend(pkg.stop for pkg in reversed(chosen))
        return steps

    return nemesis(fn(one_round))


def final_generator(packages: Sequence[Package]) -> Any:
    """Templates that undo every package's faults, for the final-heal phase."""
    from harness.generator import nemesis

    templates = [t for pkg in packages for t in pkg.final]
    return nemesis(templates) if templates else None


def ledger_for(run_dir: Path | None) -> FaultLedger:
    return FaultLedger(run_dir / "nemesis.jsonl" if run_dir else None)
