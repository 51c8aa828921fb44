"""The pipeline's workloads: a client, the generators that drive it, and the
checker that judges it, declared as ``WorkloadKind`` entries of ``TARGET``.

A workload's ``generator`` describes the main phase only (client ops, no
time limit: the runner adds the rate, the time limit and the nemesis
schedule); ``final_generator`` runs after the final heal and the recovery
wait, so its reads see a healed cluster.

Generators are pure and seeded: every random choice comes from a
``random.Random(seed)`` owned by the generator, so the same seed and config
give the same op sequence (``harness.generator.simulate`` shows it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.core.op import Op
from harness.core.placement import NodeAddr
from harness.core.protocols import Checker, Test
from harness.generator import on_threads, phases, repeat, until_ok
from harness.generator.history import FromHistory
from harness.spec import TestSpec
from harness.targets.base import Workload, WorkloadKind
from harness.workloads.register import RegisterGen, draws, next_op, register_final_reads

# ---------------------------------------------------------------------------
# register: read/write/cas on many keys (Jepsen's independent cas-register)


def _register_checker(spec: TestSpec) -> Checker:
    """Linearizability per key, the quorum lint and stale reads, seam signals, latency."""
    from checkers.compose import compose
    from harness.targets.pipeline.checkers import register_checkers

    return compose(register_checkers(spec))


def register(spec: TestSpec, addrs: Mapping[str, NodeAddr]) -> Workload:
    from harness.targets.pipeline.clients import RegisterClient

    return Workload(
        name="register",
        client=RegisterClient(dict(addrs), timeout=_client_timeout(spec)),
        generator=RegisterGen(spec.seed, keys=spec.keys),
        final_generator=FromHistory(register_final_reads),
        checker=_register_checker(spec),
    )


# ---------------------------------------------------------------------------
# orders: place, cancel and read orders; the final phase reads every ledger


#: How far back (in orders placed) cancels and reads reach: a few seconds of orders, so
#: a cancel often finds its saga in flight, even when the orchestrator lags behind after
#: a fault (cancels of settled orders only ever find the compensation path's start).
RECENT = 100
#: The op mix: place below PLACE, cancel below CANCEL, else read. Cancels are about as
#: frequent as places because compensation is where the pipeline's seams are (a stale
#: leader's step after a cancel, a lost refund response); reads only add client views.
PLACE, CANCEL = 0.45, 0.85


@dataclass(frozen=True, slots=True)
class OrdersGen:
    """A seeded stream of place / cancel / read ops; ids are order-<seed>-<n>."""

    seed: int
    count: int = 0
    placed: int = 0

    SKUS = ("sku-a", "sku-b", "sku-c")

    def op(self, test: Test | None, ctx: Any) -> tuple[Any, Any]:
        rng = draws(self.seed, "orders", self.count)
        roll = rng.random()
        if self.placed == 0 or roll < PLACE:
            value = {
                "order_id": f"order-{self.seed}-{self.placed + 1}",
                "sku": rng.choice(self.SKUS),
                "qty": rng.randint(1, 3),
                "amount": rng.randint(1, 100) * 100,
            }
            return next_op(self, {"f": "place", "value": value}, test, ctx, count=self.count + 1, placed=self.placed + 1)
        # Cancel and read recent orders: sagas still in flight are where compensation races
        # a stalled or paused leader (a uniform pick over the whole run mostly finds settled ones).
        oid = f"order-{self.seed}-{rng.randint(max(1, self.placed - RECENT), self.placed)}"
        f = "cancel" if roll < CANCEL else "read"
        return next_op(self, {"f": f, "value": {"order_id": oid}}, test, ctx, count=self.count + 1)

    def update(self, test: Test | None, ctx: Any, event: Any) -> Any:
        return self


def orders_final_reads(history: list[Op]) -> list[dict[str, Any]]:
    """Read back the last 200 orders placed, then every service's ledger on every node."""
    from harness.targets.pipeline.clients import OrdersClient

    placed = [o.value["order_id"] for o in history
              if o.type == "invoke" and o.f == "place" and isinstance(o.value, dict) and "order_id" in o.value]
    reads = [{"f": "read", "value": {"order_id": oid}} for oid in placed[-200:]]
    return reads + [{"f": "read-ledger", "value": {"service": s}} for s in OrdersClient.LEDGER_SERVICES]


#: How long the final phase waits for the sagas to settle: a share of the main phase,
#: at least QUIESCE_MIN_S and at most QUIESCE_MAX_S. A longer, busier run leaves more
#: sagas to finish after its last heal; a fixed count of polls (12, about 36 s) cut a
#: clean 83 s run short while its leader was still working (issue 25).
QUIESCE_SHARE = 0.5
QUIESCE_MIN_S = 30.0
QUIESCE_MAX_S = 600.0


def quiesce_budget(spec: TestSpec) -> float:
    """Seconds the final phase gives the pipeline to settle after the last heal."""
    return min(QUIESCE_MAX_S, max(QUIESCE_MIN_S, QUIESCE_SHARE * spec.time_limit))


def quiesce(spec: TestSpec) -> Any:
    """Before the final reads: poll until the pipeline is quiet (every event consumed, no
    saga running), on one thread, for at most ``quiesce_budget`` seconds. A fixed wait
    either wastes time or, when it is too short, leaves sagas unfinished; the quiesce
    ops in the history say which happened, and the effects checker reports a run that
    never got quiet as unsettled (how long it was given, what the leader said)."""
    from harness.targets.pipeline.clients import quiesce_poll_seconds

    budget = quiesce_budget(spec)
    polls = max(1, math.ceil(budget / quiesce_poll_seconds(_client_timeout(spec))))
    return on_threads({0}, until_ok(repeat({"f": "quiesce", "value": {"budget": budget}}, polls)))


def _orders_checker(spec: TestSpec) -> Checker:
    """Effects, fencing, causal order, the quorum lint, seam signals, latency."""
    from checkers.compose import compose
    from harness.targets.pipeline.checkers import pipeline_checkers

    return compose(pipeline_checkers(spec))


def orders(spec: TestSpec, addrs: Mapping[str, NodeAddr]) -> Workload:
    from harness.targets.pipeline.clients import OrdersClient

    return Workload(
        name="orders",
        client=OrdersClient(dict(addrs), timeout=_client_timeout(spec)),
        generator=OrdersGen(spec.seed),
        final_generator=phases(quiesce(spec), FromHistory(orders_final_reads)),
        checker=_orders_checker(spec),
    )


def _client_timeout(spec: TestSpec) -> float:
    # Shorter than the interpreter's op timeout, so the client classifies its
    # own timeouts (read -> fail, write -> info) before the interpreter must.
    return max(0.2, spec.op_timeout * 0.8)


WORKLOADS: dict[str, WorkloadKind] = {
    "register": WorkloadKind(
        "register",
        "read/write/cas on many keys of the quorum store, checked for linearizability",
        register,
        _register_checker,
        model="cas-register",
        independent=True,
        services=frozenset({"store"}),
        recovery_time=2.0,
    ),
    "orders": WorkloadKind(
        "orders",
        "place, cancel and read orders through the saga; the final phase reads every ledger",
        orders,
        _orders_checker,
        services=frozenset({"store", "order", "saga", "events", "payment", "inventory", "shipping"}),
        # Then the final phase quiesces: it waits, bounded, until every saga has settled.
        recovery_time=2.0,
    ),
}
