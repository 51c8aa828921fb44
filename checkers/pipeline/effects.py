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

A row's time is its HLC stamp (``ts[0]``, ms), else its ``wall``: the HLC
carries the largest clock any node has seen, so a node whose wall clock the
clock nemesis set back does not make every order it touched look stalled.
Every other unfinished order is *stalled* and reported as lost; ``grace``
(default 5 s) is the knob. Except a **backlog**: an order with no saga whose
event is still at or past its partition's committed offset (or an
acknowledged cancel whose event is) was never consumed, so nothing was lost
yet; those orders are one ``backlog`` warning, not lost effects.

**Unsettled runs.** The final phase polls the pipeline (``quiesce`` ops)
until its leader reports every event consumed and no saga running. When the
last poll still says *not quiet*, a saga that is not terminal in the
collected state is **unsettled**: its leader was still driving it, so its
missing effects may yet come. Those orders are one ``unsettled`` warning
(how many, how long after the last heal, what the leader reported), not
lost effects: an unsettled system is a liveness finding, and nothing those
orders did broke a safety rule. It is a warning rather than an unknown
verdict because every other order is still fully checked, duplicates are
checked for these too, and the figure is in the report. A lost effect stays
an error when the evidence says it can never happen: the saga reached a
terminal state without it, the leader reported itself quiet while the saga
was unfinished (nobody drives it any more), or there is no saga at all.
``stats["settle"]`` says how long the system took to settle after the last
heal (an availability figure), or how long it was given.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checkers.pipeline.artifacts import Artifacts, LedgerRow, Step
from harness.core.op import History, Op
from harness.core.protocols import Test
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


@dataclass(slots=True)
class ClientView:
    """The client ops about one order: positions are op indexes (what anomalies cite)."""

    ops: list[int] = field(default_factory=list)
    placed: bool = False  # a place was acknowledged (ok)
    maybe_placed: bool = False  # a place may have happened (ok or info)
    place_value: dict[str, Any] | None = None
    acked_at: int | None = None  # history time (ns) of the place ack
    cancelled: bool = False  # a cancel was acknowledged
    cancel_at: int | None = None


NO_CLIENT = ClientView()


def client_views(history: History) -> tuple[dict[str, ClientView], int]:
    """Per order id, what clients were told; and the history's last time (ns).

    Calls are read in invoke order; one never completed counts as ``info``.
    """
    views: dict[str, ClientView] = {}
    for inv, done, _, _ in history.pairs():
        _note(views, inv, done)
    return views, max([0, *(op.time for op in history.ops)])


def _note(views: dict[str, ClientView], inv: Op, done: Op | None) -> None:
    if inv.f not in ("place", "cancel") or not isinstance(inv.value, dict):
        return
    oid = inv.value.get("order_id")
    if not isinstance(oid, str):
        return
    view = views.get(oid)
    if view is None:
        view = views[oid] = ClientView()
    view.ops.append(inv.index)
    if done is not None:
        view.ops.append(done.index)
    typ = done.type if done is not None else "info"
    if inv.f == "place":
        view.place_value = view.place_value or inv.value
        if typ == "ok" and done is not None:
            view.placed = True
            view.acked_at = done.time
        view.maybe_placed = view.maybe_placed or typ in ("ok", "info")
    elif typ == "ok" and done is not None:
        view.cancelled = True
        view.cancel_at = done.time


@dataclass(frozen=True, slots=True)
class Settle:
    """How the final phase's quiesce ended: ``quiet`` or not, ``seconds`` from the last
    nemesis op (the final heal) to the last poll's answer, and that answer."""

    quiet: bool
    seconds: float
    report: dict[str, Any]
    polls: int

    def to_json(self) -> dict[str, Any]:
        return {"quiet": self.quiet, "seconds_after_last_heal": round(self.seconds, 2),
                "polls": self.polls, "last_report": self.report}


def settling(history: History) -> Settle | None:
    """The final quiesce's outcome, from the history; None when the run did not quiesce."""
    answers = [done for inv, done, _, _ in history.pairs() if inv.f == "quiesce" and done is not None]
    if not answers:
        return None
    last = answers[-1]
    heals = [op.time for op in history.ops if op.process == "nemesis" and op.time <= last.time]
    first_poll = min(op.time for op in history.ops if op.f == "quiesce")
    since = max(heals) if heals else first_poll
    report = last.value if isinstance(last.value, dict) else {}
    return Settle(last.type == "ok" and bool(report.get("quiet")), (last.time - since) / 1e9,
                  {k: v for k, v in report.items() if k != "quiet"}, len(answers))


def unsettled_alert(orders: list[str], settle: Settle) -> Anomaly:
    """One warning for the sagas still running when the final phase gave up waiting."""
    r = settle.report
    leader = f"leader {r.get('leader')}, term {r.get('term')}" if r.get("leader") else "no leader"
    return Anomaly(
        checker=NAME,
        kind="unsettled",
        summary=f"the system did not settle: {len(orders)} orders' sagas still running "
        f"{settle.seconds:.1f} s after the last heal ({leader}: {r.get('busy', '?')} sagas busy, "
        f"consumer lag {r.get('consumer_lag', '?')}); their effects are not judged",
        details={"orders": orders[:50], "count": len(orders), **settle.to_json()},
        fingerprint="unsettled",
        severity="warning",
    )


# ---------------------------------------------------------------------------
# what the saga did (reconstructed from the step logs)


@dataclass(slots=True)
class SagaView:
    want: str = "complete"
    state: str | None = None
    steps: dict[str, str] = field(default_factory=dict)
    last_wall: float = 0.0
    rows: int = 0
    placed_seen: bool = False  # the orchestrator applied the order-placed event

    @property
    def compensating(self) -> bool:
        return self.want == "cancel" or any(self.steps.get(s) == "rejected" for s in FORWARD)

    @property
    def terminal(self) -> bool:
        """The saga's own rule (target/saga.py next_action is None)."""
        if self.state in ("cancelled", "failed"):
            return True
        return not self.compensating and self.state == "completed"


def saga_view(chain: list[Step]) -> SagaView:
    """Replay one order's step rows (in seq order) the way the orchestrator changed its record."""
    view = SagaView(rows=len(chain))
    for row in chain:
        view.last_wall = max(view.last_wall, activity(row))
        step, phase = row.step, row.phase
        if step == "saga":
            if phase == "cancel-requested":
                view.want = "cancel"
                view.state = view.state or "running"
            elif phase == "created":
                view.state = view.state or "running"
                view.placed_seen = True
            elif phase == "placed":  # the placed event, applied after the cancel had created the saga
                view.placed_seen = True
            elif phase in TERMINAL:
                view.state = phase
        elif phase in ("started", "done", "rejected"):
            view.steps[step] = phase
            view.state = "compensating" if view.compensating else "running"
    return view


def activity(row: Step) -> float:
    """When a step happened, in seconds: its HLC stamp if it has one, else its wall clock."""
    if row.ts is not None:
        return row.ts[0] / 1000.0
    return row.wall if row.wall is not None else 0.0


def saga_views(chains: dict[str, list[Step]]) -> dict[str, SagaView]:
    return {oid: saga_view(chain) for oid, chain in chains.items()}


# ---------------------------------------------------------------------------
# one order, put together while it is checked (never all orders at once)


@dataclass(slots=True)
class Order:
    oid: str
    client: ClientView
    saga: SagaView | None
    rows: dict[str, list[LedgerRow]]  # effect -> non-void rows

    def n(self, effect: str) -> int:
        return len(self.rows.get(effect, ()))

    def total(self, effect: str, fld: str) -> float:
        return sum(float(getattr(r, fld) or 0) for r in self.rows.get(effect, ()))

    @property
    def shipped(self) -> bool:
        return self.n("ship") > self.n("cancel-ship")

    @property
    def cancel_wanted(self) -> bool:
        return self.client.cancelled or (self.saga is not None and self.saga.want == "cancel")

    def amount(self) -> float:
        v = (self.client.place_value or {}).get("amount")
        if isinstance(v, (int, float)):
            return float(v)
        charges = self.rows.get("charge", [])
        return float(charges[0].amount or 0) if charges else 0.0

    def qty(self) -> float:
        v = (self.client.place_value or {}).get("qty")
        if isinstance(v, (int, float)):
            return float(v)
        held = self.rows.get("reserve", [])
        return float(held[0].qty or 0) if held else 0.0

    def all_rows(self) -> list[dict[str, Any]]:
        return [r.to_json() for rs in self.rows.values() for r in rs]


class EffectsChecker:
    """Lost effects, duplicated effects and conservation; see the module docstring."""

    name = NAME

    def __init__(self, grace: float = 5.0):
        self.grace = grace

    def check(self, test: Test | None, history: History, artifacts: Path | None) -> CheckResult:
        arts = Artifacts.open(artifacts)
        if not arts.present:
            return CheckResult(
                valid="unknown",
                error=f"no collected node files under {artifacts}/nodes: the ledgers are what the "
                "effects checker reconciles; re-run with collection, or check a run directory",
            )
        clients, end = client_views(history)
        has_steps = arts.has_any("saga-steps.jsonl")
        chains = arts.chains()
        last_wall = max((activity(s) for s in arts.steps()), default=0.0)
        ledger = _by_order(arts.ledger())

        pending = arts.unconsumed_events()
        settle = settling(history)
        unsettled_run = settle is not None and not settle.quiet
        anomalies: list[Anomaly] = []
        in_flight: list[str] = []
        backlog: list[str] = []
        unsettled: list[str] = []
        balance = Balance()
        outcomes: dict[str, int] = defaultdict(int)
        counts: dict[str, int] = defaultdict(int)
        settled = 0
        for oid in sorted(set(clients) | set(ledger) | set(chains)):
            chain = chains.get(oid)
            o = Order(
                oid,
                clients.get(oid, NO_CLIENT),
                saga_view(chain) if chain else None,
                ledger.get(oid, {}),
            )
            outcomes[o.saga.state if o.saga and o.saga.state else "no-saga"] += 1
            for effect, rows in o.rows.items():
                counts[effect] += len(rows)
            anomalies += duplicates(o)
            if self._in_flight(o, last_wall, end):
                in_flight.append(oid)
                continue
            if unprocessed(o, pending):
                backlog.append(oid)
                continue
            if unsettled_run and o.saga is not None and not o.saga.terminal:
                unsettled.append(oid)
                continue
            settled += 1
            anomalies += lost(o, has_steps)
            balance.add(o)
        anomalies += balance.anomalies()
        if backlog:
            anomalies.append(backlog_alert(backlog, arts.committed_offsets()))
        if unsettled and settle is not None:
            anomalies.append(unsettled_alert(unsettled, settle))
        stats = {
            "settle": None if settle is None else settle.to_json(),
            "orders": sum(outcomes.values()),
            "acknowledged": sum(1 for c in clients.values() if c.placed),
            "settled": settled,
            "in_flight": in_flight,
            "backlog": backlog,
            "unsettled": unsettled,
            "grace_seconds": self.grace,
            "saga_logs": has_steps,
            "outcomes": dict(outcomes),
            "rows": {e: counts.get(e, 0) for e in EFFECT.values()},
        }
        return CheckResult(valid=not any(a.severity == "error" for a in anomalies), anomalies=anomalies, stats=stats)

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


def unprocessed(o: Order, pending: dict[str, set[str]]) -> bool:
    """The pipeline never got to this order: its saga does not exist and an event of it
    is past the committed offset, or its acknowledged cancel's event is. A backlog
    (the consumer was behind when the run ended) is not a loss: the offset was never
    passed, so the event is still there to consume. With ``commit-before-effect`` the
    offset *is* passed without the effect, and the order stays a lost effect."""
    types = pending.get(o.oid)
    if not types:
        return False
    if o.saga is None:
        return True
    if "order-placed" in types and not o.saga.placed_seen:
        return True
    return o.client.cancelled and o.saga.want != "cancel" and "order-cancelled" in types


def backlog_alert(orders: list[str], committed: dict[str, int]) -> Anomaly:
    """One warning for every order left unprocessed: liveness, not safety."""
    return Anomaly(
        checker=NAME,
        kind="backlog",
        summary=f"{len(orders)} orders still unprocessed at the end: their events are past the "
        "committed offsets (a backlog, not a loss; did the final phase quiesce?)",
        details={"orders": orders[:50], "count": len(orders), "committed_offsets": committed},
        fingerprint="backlog",
        severity="warning",
    )


def _by_order(rows: list[LedgerRow]) -> dict[str, dict[str, list[LedgerRow]]]:
    """Non-void ledger rows per order and effect (void rows undo nothing and are no effect)."""
    out: dict[str, dict[str, list[LedgerRow]]] = {}
    for row in rows:
        effect = EFFECT.get(row.op)
        if row.void or effect is None or not isinstance(row.order_id, str):
            continue
        out.setdefault(row.order_id, {}).setdefault(effect, []).append(row)
    return out


# ---------------------------------------------------------------------------
# the three rules, each a pure function of one order (or of all settled orders)


def duplicates(o: Order) -> list[Anomaly]:
    out = []
    for effect, rows in o.rows.items():
        if len(rows) < 2:
            continue
        keys = sorted({r.key for r in rows})
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
                    "rows": [r.to_json() for r in rows],
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
    if has_steps and o.client.placed and saga is not None and saga.terminal and not saga.placed_seen:
        found.append(
            (
                "event",
                f"{o.oid}: acknowledged, but the orchestrator never applied its order-placed event "
                "(the saga ran from the cancel alone)",
                "every published event must be applied once its offset is committed",
            )
        )
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
                "rows": o.all_rows(),
            },
            fingerprint=f"lost-effect/{effect}",
        )
        for effect, summary, why in found
    ]


#: (measure, given effect, returned effect, row field, the order's size, words for given, returned)
MEASURES = (
    ("money", "charge", "refund", "amount", Order.amount, "charged", "refunded"),
    ("stock", "reserve", "restock", "qty", Order.qty, "reserved", "restocked"),
)


class Balance:
    """Conservation over the settled orders, added one order at a time."""

    def __init__(self) -> None:
        self.sums = {m[0]: [0.0, 0.0, 0.0] for m in MEASURES}  # given, returned, shipped
        self.off: dict[str, list[dict[str, Any]]] = {m[0]: [] for m in MEASURES}

    def add(self, o: Order) -> None:
        for measure, give, back, fld, size, given_name, back_name in MEASURES:
            g, b = o.total(give, fld), o.total(back, fld)
            sh = size(o) if o.shipped else 0.0
            acc = self.sums[measure]
            acc[0], acc[1], acc[2] = acc[0] + g, acc[1] + b, acc[2] + sh
            if abs(g - b - sh) > EPS:
                self.off[measure].append(
                    {
                        "order": o.oid,
                        given_name: g,
                        back_name: b,
                        "shipped": sh,
                        "difference": g - b - sh,
                        "ops": sorted(o.client.ops),
                    }
                )

    def anomalies(self) -> list[Anomaly]:
        out = []
        for measure, _, _, _, _, given_name, back_name in MEASURES:
            given, taken, shipped = self.sums[measure]
            off = self.off[measure]
            if abs(given - taken - shipped) <= EPS and not off:
                continue
            out.append(
                Anomaly(
                    checker=NAME,
                    kind="conservation",
                    summary=f"{measure}: {given_name} {given:g} - {back_name} {taken:g} "
                    f"!= shipped {shipped:g}",
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


# --- on call: the runbook entries of this checker's kinds (checkers/runbook.py renders docs/oncall.md) ---
from checkers.runbook import Runbook  # noqa: E402  (kept beside the entries, at the end)

RUNBOOK = (
    Runbook(
        name="lost-effect",
        what="Every acknowledged client intent (a placed or a cancelled order) against the terminal "
        "outcome in the service ledgers: charged, reserved and shipped, or refunded and restocked.",
        fires="An acknowledged order or cancel with no terminal outcome in any ledger once the final "
        "phase settled (still running: `unsettled`; never consumed: `backlog`). Severity error.",
        cause="An effect skipped at a seam: the consumer committed its offset before applying the event "
        "(seed 002, 'crash before committing the offset'), or a paused old leader's step undoing what "
        "the new leader advanced (seed 000, the leader that pauses).",
        look=(
            "`jq '.checkers.effects.anomalies[] | select(.kind == \"lost-effect\") | {summary, "
            "explained_by}' RUN/results.json`: an `explained_by` points at the anomaly that caused it.",
            "`grep -h ORDER RUN/nodes/*/saga-steps.jsonl` (the saga's steps, node and term) and "
            "`jq -c 'select(.order_id == \"ORDER\")' RUN/nodes/*/*.ledger.jsonl` (what each service wrote).",
            "`grep -h 'events:' RUN/nodes/*/node.log | tail` (offset commits, rejected commits, redeliveries).",
        ),
        verify="`seam test --workload orders --scenario commit-before-effect --bug commit-before-effect "
        "--seed 7` is INVALID with this kind, without `--bug` VALID; `seam regress regressions/lost-effect`.",
    ),
    Runbook(
        name="duplicate-effect",
        what="How many times each at-most-once effect (charge, refund, shipment, restock) happened per "
        "order, counted from the ledgers.",
        fires="A second non-void row of one effect for one order. Severity error.",
        cause="A retry re-invoking a compensation across a call with no idempotency key: the seed's double "
        "refund (seed 000, 'compensation races retry'; seed 003 snippet 3).",
        look=(
            "`jq '.checkers.effects.anomalies[] | select(.kind == \"duplicate-effect\") | .details.rows' "
            "RUN/results.json` (both rows and their keys).",
            "`jq -c 'select(.op == \"refund\" and .order_id == \"ORDER\")' RUN/nodes/*/payment.ledger.jsonl`: "
            "keys ending in `:call-...` mean no business key was threaded through the retry.",
            "`grep -h 'outcome unknown' RUN/nodes/*/node.log` (the saga re-sent after a lost response) and "
            "`grep -h 'duplicate key' RUN/nodes/*/node.log` (what the keys did catch).",
        ),
        verify="`seam test --workload orders --scenario lost-response --bug refund-without-key --seed 7` is "
        "INVALID with this kind, without `--bug` VALID; `seam regress regressions/duplicate-effect`.",
    ),
    Runbook(
        name="conservation",
        what="Money and stock balance across the ledgers: charged - refunded equals the revenue of shipped "
        "orders, reserved - restocked equals the stock of shipped orders.",
        fires="Any order whose money or stock does not balance. Severity error.",
        cause="A compensation that ran twice or not at all, or a stale leader's write that landed after the "
        "new leader compensated (seed 000, the leader that pauses; seed 003 snippet 2).",
        look=(
            "`jq '.checkers.effects.anomalies[] | select(.kind == \"conservation\") | {summary, details}' "
            "RUN/results.json`.",
            "`jq -c 'select(.order_id == \"ORDER\")' RUN/nodes/*/payment.ledger.jsonl "
            "RUN/nodes/*/inventory.ledger.jsonl RUN/nodes/*/shipping.ledger.jsonl`.",
            "`grep -h 'rejected token\\|noticed after the write' RUN/nodes/*/node.log` (a fenced or a late "
            "stale write on that order).",
        ),
        verify="`seam test --workload orders --scenario paused-leader --bug fence-after-write --seed 7` is "
        "INVALID with this kind, without `--bug` VALID; `seam regress regressions/conservation`.",
    ),
    Runbook(
        name="backlog",
        what="Orders whose events the saga's consumer never reached: the offset was never passed, so the "
        "event is still there to consume (liveness, not safety).",
        fires="Any order with an unconsumed event at the end of the final phase. Severity warning: the "
        "run stays VALID.",
        cause="The consumer fell behind its producers (seed 000, consumer lag): a leader lost mid-batch, a "
        "partition that kept the leader from one node's event log, a final phase too short for the load.",
        look=(
            "`jq '.checkers.effects.anomalies[] | select(.kind == \"backlog\") | .details' RUN/results.json`.",
            "`RUN/graphs/signals.png` (consumer_lag) and `jq -c '[.time, .node, .metrics.gauges.consumer_lag]' "
            "RUN/nodes/*/metrics.jsonl | tail`.",
            "`grep -h 'events:\\|became leader\\|stepped down' RUN/nodes/*/node.log | tail`.",
        ),
        verify="`seam test --workload orders --scenario commit-before-effect --seed 7` ends with no backlog "
        "and VALID; a warning is never a regression case, so `seam regress regressions/lost-effect` is "
        "the case that proves the consumer neither skips nor loses events.",
    ),
    Runbook(
        name="unsettled",
        what="Sagas still running when the final phase gave up waiting for the pipeline to be quiet "
        "(half the main phase, between 30 and 600 s after the last heal).",
        fires="Any saga still busy at the end of the quiesce budget; their effects are not judged. "
        "Severity warning.",
        cause="A saga stuck behind a fault that outlived the run (no leader, a partition never healed, a "
        "breaker kept open) or a retry storm still draining (seed 000, retry-budget exhaustion).",
        look=(
            "`jq '.checkers.effects.anomalies[] | select(.kind == \"unsettled\") | .details' RUN/results.json` "
            "(what the leader said on its last poll).",
            "`jq -c 'select(.f == \"quiesce\")' RUN/history.jsonl | tail -3` (the final phase's polls).",
            "`grep -h 'saga .*will retry\\|stepping back' RUN/nodes/*/node.log | tail`.",
        ),
        verify="`seam test --workload orders --scenario retry-storm --seed 7` settles and is VALID; a warning "
        "is never a regression case, so `seam regress regressions/retry-amplification` is the case "
        "that proves retries drain.",
    ),
)
