"""Application faults through the target's admin endpoint.

``lost-response`` makes a service apply an operation and then drop the
connection without answering; ``slow-response`` applies and answers after a
delay; ``stall`` makes the saga orchestrator, its fencing token already
taken, sleep before one step; ``down`` refuses without applying; ``crash``
ends the node process at one point (restarted when the fault stops). The first reproduces the seed's lost refund
response on demand: the caller times out although the effect happened, and
only idempotency keeps the retry from applying it twice.

Ops: ``{"f": "start-app-fault", "value": {"kind": "lost-response", "service":
"payment", "op": "refund", "node": "n1", "count": 1}}`` (``node`` or ``role``
aims it at one node, e.g. ``"role": "leader"``; without either it acts on
every node); ``stop-app-fault``
clears every fault this nemesis set. Each fault acts on one service of the
workload (its ``service`` option), so a workload that never calls that
service is refused before the run starts (``FaultSpec.services``).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from harness.core.errors import NemesisError, UnsupportedError
from harness.core.op import Op
from harness.core.options import count, duration, word
from harness.core.protocols import HasAppFaults, Killable, Remote, Test, WaitsReady
from nemesis.aim import aim_value, check_aim, pick_node, target_option
from nemesis.spec import FaultSpec, NemesisContext, Option, Package, moot_with_workdir
from nemesis.state import Fault, FaultLedger

KIND = "app"  # the ledger kind of every application fault
NEEDS = "a target with an admin fault endpoint (HasAppFaults), and a workload that calls the service"


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

    def setup(self, test: Test | None) -> None:
        self.heal(test)

    def invoke(self, test: Test | None, op: Op) -> Op:
        if op.f == "start-app-fault":
            spec = dict(op.value) if isinstance(op.value, dict) else {}
            kind = spec.setdefault("kind", LOST_RESPONSE.name)
            if kind not in KINDS:
                raise ValueError(f"unknown application fault {kind!r}; choose one of {', '.join(KINDS)}")
            aimed = spec.get("node") or spec.get("role")
            nodes = [pick_node(spec, self.nodes, self.target, test, self.rng)] if aimed else self.nodes
            armed, missed = [], {}
            for node in nodes:
                fault = Fault(KIND, node, {k: v for k, v in spec.items() if k not in ("node", "role")})
                self.ledger.applied(fault)
                self.active.append(fault)  # even if arming fails: it may have landed, heal clears it
                try:
                    self.target.inject_fault(test, node, fault.detail)
                    armed.append(node)
                except Exception as e:  # noqa: BLE001 - a node that is down (killed, crashed) is skipped
                    missed[node] = str(e)
            if not armed:
                raise NemesisError(f"{kind}: no node could be armed: " + "; ".join(
                    f"{n}: {why}" for n, why in sorted(missed.items())))
            return replace(op, type="info", value={**spec, "nodes": armed, **({"missed": missed} if missed else {})})
        if op.f == "stop-app-fault":
            self.heal(test)
            return replace(op, type="info", value="cleared")
        raise ValueError(f"application-fault nemesis does not know op {op.f!r}")

    def heal(self, test: Test | None) -> None:
        """Clear every node this nemesis armed. A node that cannot be cleared (paused, or
        still starting) does not keep the others armed: its faults stay outstanding in
        the ledger, the rest are healed, and one error names every node left."""
        cleared: set[str] = set()
        failed: dict[str, str] = {}
        for fault in list(self.active):
            if fault.node not in cleared and fault.node not in failed:
                try:
                    _restart_crashed(fault, self.target, test)
                    self.target.clear_faults(test, fault.node)
                    cleared.add(fault.node)
                except Exception as e:  # noqa: BLE001 - reported below, after every node was tried
                    failed[fault.node] = str(e)
            if fault.node in cleared:
                self.active.remove(fault)
                self.ledger.healed(fault)
        if failed:
            raise NemesisError("application faults left armed on " + "; ".join(
                f"{node}: {why}" for node, why in sorted(failed.items())) + " (`seam heal` clears them)")


def _restart_crashed(fault: Fault, target: Any, test: Test | None) -> None:
    """A ``crash`` fault may have ended its node's process: start it again (a no-op
    when it still runs) and wait until it serves, so clearing its faults reaches it."""
    if fault.detail.get("kind") == "crash" and isinstance(target, Killable):
        target.start(test, fault.node)
        if isinstance(target, WaitsReady):
            target.wait_ready([fault.node])


def undo_app(fault: Fault, remote: Remote, target: Any = None, test: Test | None = None) -> None:
    """Clear the node's application faults through the run's target."""
    if target is None:  # never mark it healed without doing it: it stays outstanding
        raise NemesisError(
            f"clearing the application faults of {fault.node} needs the run's target; "
            "`seam heal` rebuilds it from test.json"
        )
    _restart_crashed(fault, target, test)
    target.clear_faults(test, fault.node)


def _services(options: Mapping[str, Any]) -> frozenset[str]:
    return frozenset({str(options["service"])})


def _builder(name: str) -> Any:
    def build(ctx: NemesisContext, options: Mapping[str, Any]) -> Package:
        spec = SPECS[name]
        nem = AppFaultNemesis(ctx.target, ctx.nodes, seed=ctx.seed, ledger=ctx.ledger)
        value = {"kind": name, "service": options["service"], "op": options["op"],
                 "count": options["count"], "seconds": options.get("seconds", 0.0)}
        aim = options.get("target")
        if aim is not None:
            check_aim(name, aim, ctx)

        def start(rng: random.Random) -> Any:
            return spec.start_op({**value, **(aim_value(aim, ctx, rng) if aim is not None else {})})

        return Package(name, nem, start, spec.stop_op(), [spec.stop_op()])

    return build


def _options(service: str, op: str, seconds: float | None, target: str | None = None) -> tuple[Option, ...]:
    """The options of an application fault; ``target`` (a default aim) makes it act on
    one node each time instead of every node."""
    opts = [
        word("service", service, "the workload service the fault acts on", "a service the workload calls"),
        word("op", op, "the service's operation that misbehaves", "an operation of that service"),
        count("count", 1, "how many calls misbehave each time (0: every call until stopped)"),
    ]
    if seconds is not None:
        opts.append(duration("seconds", seconds, "how long the service waits"))
    if target is not None:
        opts.append(target_option(target))
    return tuple(opts)


def _spec(name: str, summary: str, options: tuple[Option, ...], colour: str) -> FaultSpec:
    return FaultSpec(
        name=name,
        summary=summary,
        start="start-app-fault",
        stop="stop-app-fault",
        kind=KIND,
        needs=NEEDS,
        ability=HasAppFaults,
        build=_builder(name),
        undo=undo_app,
        moot=moot_with_workdir,
        colour=colour,
        options=options,
        services=_services,
    )


LOST_RESPONSE = _spec(
    "lost-response",
    "the service applies an operation, then drops the connection without answering",
    _options("payment", "refund", None),
    "#edc948",
)
SLOW_RESPONSE = _spec(
    "slow-response",
    "the service applies an operation, then answers seconds late",
    _options("payment", "refund", 3.0),
    "#9c755f",
)
STALL = _spec(
    "stall",
    "the saga orchestrator, its fencing token taken, sleeps seconds before one step",
    _options("saga", "ship", 2.0),
    "#59a14f",
)
DOWN = _spec(
    "down",
    "the service refuses an operation without applying it, as a crashed service would",
    _options("payment", "charge", None),
    "#bab0ac",
)
CRASH = _spec(
    "crash",
    "the node process exits at one point of an operation (the event consumer between effect and commit); "
    "restarted when the fault stops. Aimed at the leader by default: only the leader consumes, and "
    "armed everywhere each next leader would crash in turn",
    _options("events", "consume", None, target="leader"),
    "#8c564b",
)
SPECS = {s.name: s for s in (LOST_RESPONSE, SLOW_RESPONSE, STALL, DOWN, CRASH)}
KINDS = tuple(SPECS)
