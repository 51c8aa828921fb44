"""Reconcile what clients were told with what the ledgers hold (the ``orders`` workload).

For every order seen in the history or in a ledger, three questions:

* **Duplicated effect** (definite, checked for every order): more than one
  non-void row of one operation (two charges, two refunds, two shipments,
  two restocks, ...). Void rows (a compensation that found nothing) are not
  effects.
* **Lost effect** (checked for *settled* orders only, see below): an
  acknowledged order whose saga never reached a terminal state; a charge with
  neither a shipment nor a refund; an order that had to be compensated
  (cancelled by the customer, or failed) but kept its charge, reservation or
  shipment; an acknowledged cancel that never took effect; a reservation
  never restocked although the order did not ship.
* **Conservation** (settled orders): money charged - refunded == the amount
  of every shipped order; stock reserved - restocked == the quantity of
  every shipped order. One anomaly per measure, listing the orders whose
  share does not balance.

**The grace rule** (when is an unfinished order lost, not merely late?).
The run ends with a final phase (heal, recovery wait, final reads), so an
order acknowledged early has had time to finish. An order is *in flight*
(reported in ``stats["in_flight"]``, never as an anomaly) when

* its saga is not terminal and its newest step-log row is within ``grace``
  seconds of the newest step-log row of the whole run: the orchestrator was
  still working on it when the nodes were stopped; or
* it has no step-log row at all and its place (or its last cancel) was
  acknowledged less than ``grace`` seconds before the end of the history; or
* a cancel was acknowledged less than ``grace`` seconds before the end of the
  history and the step log does not show the cancel request yet.

Every other unfinished order is *stalled* and reported as lost. Wall times
come from the nodes, so a skewed clock (the clock nemesis) can move an
order across the line; ``grace`` (default 5 s) is the knob.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checkers.artifacts import Artifacts, clean
from harness.core.op import History, Op
from harness.core.verdict import Anomaly, CheckResult

NAME = "effects"
#: ledger op -> the effect's name in anomalies (the saga's step names)
EFFECT = {
    "reserve": "reserve",
    "restock": "restock",
    "charge": "charge",
    "refund": "refund",
    "ship": "ship",
    "cancel": "cancel-ship",
}
FORWARD = ("reserve", "charge", "ship")
TERMINAL = ("completed", "cancelled", "failed")
EPS = 1e-6


# ---------------------------------------------------------------------------
# what the clients saw


@dataclass
class ClientView:
    """The client ops about one order: positions are op indexes (what anomalies cite)."""

    ops: list[int] = field(default_factory=list)
    placed: bool = False  # a place was acknowledged (ok)
    maybe_placed: bool = False  # a place may have happened (ok or info)
    place_value: dict[str, Any] = field(default_factory=dict)
    acked_at: int | None = None  # history time (ns) of the place ack
    cancelled: bool = False  # a cancel was acknowledged
    cancel_at: int | None = None


def client_views(history: History) -> tuple[dict[str, ClientView], int]:
    """Per order id, what clients were told; and the history's last time (ns)."""
    views: dict[str, ClientView] = defaultdict(ClientView)
    end = 0
    for inv, done in history.pairs():
        end = max(end, inv.time, done.time if done else 0)
        v = inv.value if isinstance(inv.value, dict) else {}
        oid = v.get("order_id")
        if inv.f not in ("place", "cancel") or not isinstance(oid, str):
            continue
        view = views[oid]
        view.ops.append(_index(inv))
        if done is not None:
            view.ops.append(_index(done))
        typ = done.type if done is not None else "info"
        if inv.f == "place":
            view.place_value = view.place_value or v
            if typ == "ok":
                view.placed = True
                view.acked_at = done.time if done else None
            view.maybe_placed = view.maybe_placed or typ in ("ok", "info")
        elif typ == "ok":
            view.cancelled = True
            view.cancel_at = done.time if done else None
    for op in history:
        end = max(end, op.time)
    return dict(views), end


def _index(op: Op) -> int:
    return op.index


# ---------------------------------------------------------------------------
# what the saga did (reconstructed from the step logs)


@dataclass
class SagaView:
    want: str = "complete"
    state: str | None = None
    steps: dict[str, str] = field(default_factory=dict)
    last_wall: float = 0.0
    rows: int = 0

    @property
    def compensating(self) -> bool:
        return self.want == "cancel" or any(self.steps.get(s) == "rejected" for s in FORWARD)

    @property
    def terminal(self) -> bool:
        """The saga's own rule (target/saga.py next_action is None)."""
        if self.state in ("cancelled", "failed"):
            return True
        return not self.compensating and self.state == "completed"


def saga_views(steps: list[dict[str, Any]]) -> dict[str, SagaView]:
    by_order: dict[str, dict[int, dict[str, Any]]] = defaultdict(dict)
    for row in steps:
        oid, seq = row.get("order_id"), row.get("seq")
        if isinstance(oid, str) and isinstance(seq, int):
            by_order[oid].setdefault(seq, row)
    out: dict[str, SagaView] = {}
    for oid, rows in by_order.items():
        view = SagaView(rows=len(rows))
        for seq in sorted(rows):
            _apply(view, rows[seq])
        out[oid] = view
    return out


def _apply(view: SagaView, row: dict[str, Any]) -> None:
    step, phase = row.get("step"), row.get("phase")
    wall = row.get("wall")
    if isinstance(wall, (int, float)):
        view.last_wall = max(view.last_wall, float(wall))
    if step == "saga":
        if phase == "cancel-requested":
            view.want = "cancel"
            view.state = view.state or "running"
        elif phase == "created":
            view.state = view.state or "running"
        elif phase in TERMINAL:
            view.state = phase
        return
    if phase in ("started", "done", "rejected"):
        view.steps[str(step)] = phase
        view.state = "compensating" if view.compensating else "running"


# ---------------------------------------------------------------------------
# the checker


@dataclass
class Order:
    oid: str
    client: ClientView
    saga: SagaView | None
    rows: dict[str, list[dict[str, Any]]]  # effect -> non-void rows
    void: dict[str, list[dict[str, Any]]]

    def n(self, effect: str) -> int:
        return len(self.rows.get(effect, []))

    def total(self, effect: str, fld: str) -> float:
        return sum(float(r.get(fld) or 0) for r in self.rows.get(effect, []))

    @property
    def shipped(self) -> bool:
        return self.n("ship") > self.n("cancel-ship")

    @property
    def cancel_wanted(self) -> bool:
        return self.client.cancelled or (self.saga is not None and self.saga.want == "cancel")

    def amount(self) -> float:
        v = self.client.place_value.get("amount")
        if isinstance(v, (int, float)):
            return float(v)
        charges = self.rows.get("charge", [])
        return float(charges[0].get("amount") or 0) if charges else 0.0

    def qty(self) -> float:
        v = self.client.place_value.get("qty")
        if isinstance(v, (int, float)):
            return float(v)
        held = self.rows.get("reserve", [])
        return float(held[0].get("qty") or 0) if held else 0.0


class EffectsChecker:
    """Lost effects, duplicated effects and conservation; see the module docstring."""

    name = NAME

    def __init__(self, grace: float = 5.0):
        self.grace = grace

    def check(self, test: Any, history: History, artifacts: Path | None) -> CheckResult:
        arts = Artifacts(artifacts)
        if not arts.present:
            return CheckResult(
                valid="unknown",
                error=f"no collected node files under {artifacts}/nodes: the ledgers are what the "
                "effects checker reconciles; re-run with collection, or check a run directory",
            )
        clients, end = client_views(history)
        has_steps = arts.has_any("saga-steps.jsonl")
        sagas = saga_views(arts.steps())
        orders = self._orders(arts, clients, sagas)
        last_wall = max((s.last_wall for s in sagas.values()), default=0.0)

        anomalies: list[Anomaly] = []
        in_flight: list[str] = []
        settled: list[Order] = []
        for o in orders.values():
            anomalies += duplicates(o)
            if self._in_flight(o, last_wall, end):
                in_flight.append(o.oid)
                continue
            settled.append(o)
            anomalies += lost(o, has_steps)
        anomalies += conservation(settled)
        stats = {
            "orders": len(orders),
            "acknowledged": sum(1 for o in orders.values() if o.client.placed),
            "settled": len(settled),
            "in_flight": sorted(in_flight),
            "grace_seconds": self.grace,
            "saga_logs": has_steps,
            "outcomes": _outcomes(orders.values()),
            "rows": {e: sum(o.n(e) for o in orders.values()) for e in EFFECT.values()},
        }
        return CheckResult(valid=not anomalies, anomalies=anomalies, stats=stats)

    def _orders(
        self, arts: Artifacts, clients: dict[str, ClientView], sagas: dict[str, SagaView]
    ) -> dict[str, Order]:
        rows: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
        voids: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
        for service in ("inventory", "payment", "shipping"):
            for row in arts.ledger(service):
                oid, effect = row.get("order_id"), EFFECT.get(str(row.get("op")))
                if not isinstance(oid, str) or effect is None:
                    continue
                (voids if row.get("void") else rows)[oid][effect].append(row)
        ids = set(clients) | set(rows) | set(voids) | set(sagas)
        return {
            oid: Order(oid, clients.get(oid) or ClientView(), sagas.get(oid), rows[oid], voids[oid])
            for oid in sorted(ids)
        }

    def _in_flight(self, o: Order, last_wall: float, end: int) -> bool:
        if o.saga is not None and o.saga.rows:
            # an acknowledged cancel the saga has not seen yet may still be on its way
            recent_cancel = (
                o.client.cancel_at is not None
                and o.saga.want != "cancel"
                and end - o.client.cancel_at < self.grace * 1e9
            )
            if o.saga.terminal and not recent_cancel:
                return False
            return last_wall - o.saga.last_wall < self.grace or recent_cancel
        acked = [t for t in (o.client.acked_at, o.client.cancel_at) if t is not None]
        return bool(acked) and end - max(acked) < self.grace * 1e9


# ---------------------------------------------------------------------------
# the three rules, each a pure function of one order (or of all settled orders)


def duplicates(o: Order) -> list[Anomaly]:
    out = []
    for effect, rows in o.rows.items():
        if len(rows) < 2:
            continue
        keys = sorted({str(r.get("key")) for r in rows})
        out.append(
            Anomaly(
                checker=NAME,
                kind="duplicate-effect",
                summary=f"{o.oid}: {effect} applied {len(rows)} times",
                ops=sorted(o.client.ops),
                details={
                    "order": o.oid,
                    "effect": effect,
                    "count": len(rows),
                    "keys": keys,
                    "same_key": len(keys) == 1,
                    "rows": [clean(r) for r in rows],
                },
                fingerprint=f"duplicate-effect/{effect}",
            )
        )
    return out


def lost(o: Order, has_steps: bool) -> list[Anomaly]:
    """Lost effects of a settled order (see the module docstring for the list)."""
    found: list[tuple[str, str, str]] = []  # (effect, summary, why)
    saga = o.saga
    if has_steps and o.client.placed and (saga is None or not saga.terminal):
        state = "never started" if saga is None else f"stuck in {saga.state}"
        found.append(
            (
                "order",
                f"{o.oid}: acknowledged but its saga {state}",
                "the place was acknowledged, so the order must reach completed, cancelled or failed",
            )
        )
    compensate = o.cancel_wanted or (saga is not None and saga.state == "failed")
    if saga is not None and saga.terminal and saga.state == "completed" and o.client.cancelled:
        found.append(
            (
                "cancel",
                f"{o.oid}: cancel acknowledged but the order stayed completed",
                "an acknowledged cancel must compensate the order",
            )
        )
    if compensate:
        for effect, undo in (("charge", "refund"), ("reserve", "restock"), ("ship", "cancel-ship")):
            if o.n(effect) > o.n(undo):
                what = "cancelled" if o.cancel_wanted else "failed"
                found.append(
                    (
                        undo,
                        f"{o.oid}: {what} but its {effect} was never undone ({undo} missing)",
                        f"a {what} order must be compensated: every {effect} needs a {undo}",
                    )
                )
    else:
        if o.n("charge") and not o.shipped and not o.n("refund"):
            found.append(
                (
                    "charge",
                    f"{o.oid}: charged but neither shipped nor refunded",
                    "a charge must end in a shipment or a refund",
                )
            )
        if o.n("reserve") > o.n("restock") and not o.shipped and (saga is None or saga.terminal):
            found.append(
                (
                    "restock",
                    f"{o.oid}: stock reserved, not shipped, never restocked",
                    "a reservation must be shipped or restocked",
                )
            )
    return [
        Anomaly(
            checker=NAME,
            kind="lost-effect",
            summary=summary,
            ops=sorted(o.client.ops),
            details={
                "order": o.oid,
                "effect": effect,
                "rule": why,
                "saga": None
                if saga is None
                else {"state": saga.state, "want": saga.want, "steps": saga.steps},
                "client": {"placed": o.client.placed, "cancel_acknowledged": o.client.cancelled},
                "rows": [clean(r) for rs in o.rows.values() for r in rs],
            },
            fingerprint=f"lost-effect/{effect}",
        )
        for effect, summary, why in found
    ]


def conservation(orders: list[Order]) -> list[Anomaly]:
    """Money and stock must balance over the settled orders."""
    out = []
    measures = (
        ("money", "charge", "refund", "amount", Order.amount, "charged", "refunded"),
        ("stock", "reserve", "restock", "qty", Order.qty, "reserved", "restocked"),
    )
    for measure, give, back, fld, size, given_name, back_name in measures:
        given = taken = shipped = 0.0
        off: list[dict[str, Any]] = []
        for o in orders:
            g, b = o.total(give, fld), o.total(back, fld)
            s = size(o) if o.shipped else 0.0
            given, taken, shipped = given + g, taken + b, shipped + s
            if abs(g - b - s) > EPS:
                off.append(
                    {
                        "order": o.oid,
                        given_name: g,
                        back_name: b,
                        "shipped": s,
                        "difference": g - b - s,
                        "ops": sorted(o.client.ops),
                    }
                )
        if abs(given - taken - shipped) <= EPS and not off:
            continue
        out.append(
            Anomaly(
                checker=NAME,
                kind="conservation",
                summary=f"{measure}: {given_name} {given:g} - {back_name} {taken:g} != shipped {shipped:g}",
                ops=sorted({i for row in off for i in row["ops"]}),
                details={
                    "measure": measure,
                    given_name: given,
                    back_name: taken,
                    "shipped": shipped,
                    "difference": given - taken - shipped,
                    "orders": off,
                },
                fingerprint=f"conservation/{measure}",
            )
        )
    return out


def _outcomes(orders: Iterable[Order]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for o in orders:
        counts[o.saga.state if o.saga and o.saga.state else "no-saga"] += 1
    return dict(counts)
