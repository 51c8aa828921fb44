"""The saga orchestrator: reserve -> charge -> ship, compensated on failure or cancel.

State machine of one saga (``saga:<order>`` in the quorum store)::

    running --reserve--> --charge--> --ship--> completed
       |  a forward step definitely refused (402 declined, 409 out of stock)
       |  or the customer cancels (also after completion)
       v
    compensating: undo every step that was *started*, newest first
       (cancel-ship, refund, restock) --> cancelled (customer) | failed (refused)

Each step is first recorded as ``started`` (an intent, so a new leader knows
the outcome is unknown and must compensate it), then sent, then recorded
``done``/``rejected``.  A step whose call gave no answer stays ``started`` and
is re-sent next round with the *same* idempotency key ``<step>:<order>``
(``charge:order-42``, ``refund:order-42``, ...), which is what makes the retry
safe (seed 000).  Every call carries the fencing token = the leader's term;
a record written by a higher term stops a stale leader from touching it.

Only the elected leader acts (``start(ctx)`` runs one thread that idles on
followers).  On becoming leader it re-reads committed offsets and resumes
every unfinished saga it finds in the event logs: the consumer is the only
thing that *creates* sagas, so an event lost by ``commit-before-effect``
stays lost.  Every record change appends a step-log entry stamped with the
node's HLC (after merging the stamps already in the record), so ordering by
stamp is causal even across leaders with skewed clocks; ``wall-clock-order``
stamps with the raw wall clock instead.  ``GET /saga/{id}`` shows the record
with its log ordered by stamp; ``GET /saga`` shows this orchestrator.
"""

from __future__ import annotations

import copy
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from target import events, faults
from target.ledger import check_id
from target.order import order_key, saga_key
from target.pool import CallError, http_call
from target.retry import GiveUp
from target.router import HTTPError, Request
from target.store import NoQuorum, placement

RUNNING, COMPENSATING, COMPLETED, CANCELLED, FAILED = (
    "running",
    "compensating",
    "completed",
    "cancelled",
    "failed",
)
STARTED, DONE, REJECTED = "started", "done", "rejected"
TICK = 0.1
POLL_TIMEOUT = 0.5
POLL_SKIP = 1.0
CLAIM_SKIP = 2.0  # a claim that failed (its coordinator is down) waits this long to retry
WORKERS = 8
MAX_ACTIONS = 12  # per order per round: a saga has at most 7 actions


@dataclass(frozen=True)
class Step:
    name: str
    service: str
    path: str
    fields: tuple[str, ...] = ()

    def key(self, order_id: str) -> str:
        """The idempotency key: derived from business intent, never from the call."""
        return f"{self.name}:{order_id}"


FORWARD = (
    Step("reserve", "inventory", "/inventory/reserve", ("sku", "qty")),
    Step("charge", "payment", "/payment/charge", ("amount",)),
    Step("ship", "shipping", "/shipping/ship"),
)
UNDO = {
    "ship": Step("cancel-ship", "shipping", "/shipping/cancel"),
    "charge": Step("refund", "payment", "/payment/refund"),
    "reserve": Step("restock", "inventory", "/inventory/restock"),
}
STEPS = {s.name: s for s in (*FORWARD, *UNDO.values())}


# --- pure part ---------------------------------------------------------------------


def new_record(event: dict[str, Any]) -> dict[str, Any]:
    return {
        **{k: event[k] for k in ("order_id", "sku", "qty", "amount")},
        "want": "cancel" if event["type"] == events.CANCELLED else "complete",
        "state": RUNNING,
        "steps": {},
        "log": [],
        "term": 0,
        "version": 0,
        "error": None,
    }


def compensating(rec: dict[str, Any]) -> bool:
    return rec["want"] == "cancel" or any(rec["steps"].get(s.name) == REJECTED for s in FORWARD)


def next_action(rec: dict[str, Any]) -> tuple[str, Any] | None:
    """("run", Step) or ("finish", state), or None when the saga is over."""
    steps = rec["steps"]
    if rec["state"] in (CANCELLED, FAILED):
        return None
    if not compensating(rec):
        if rec["state"] == COMPLETED:
            return None
        for step in FORWARD:
            if steps.get(step.name) != DONE:
                return ("run", step)
        return ("finish", COMPLETED)
    for step in reversed(FORWARD):
        if steps.get(step.name) in (STARTED, DONE) and steps.get(UNDO[step.name].name) != DONE:
            return ("run", UNDO[step.name])
    return ("finish", CANCELLED if rec["want"] == "cancel" else FAILED)


def placed_applied(rec: dict[str, Any]) -> bool:
    """Whether the order-placed event has been applied to this record."""
    return any(e["step"] == "saga" and e["phase"] in ("created", "placed") for e in rec["log"])


def terminal(rec: dict[str, Any]) -> bool:
    return next_action(rec) is None


def ordered_log(rec: dict[str, Any]) -> list[dict[str, Any]]:
    """The step log as the pipeline orders it: by stamp (HLC, or wall clock with the bug)."""
    return sorted(rec["log"], key=lambda e: (e["ts"][0], e["ts"][1], str(e["ts"][2])))


def home(order_id: str, nodes: list[str]) -> str:
    """The node whose payment/inventory/shipping serve this order: the order key's home."""
    return placement(order_key(order_id), nodes, 1)[0]


class Stale(events.StaleTerm):
    """A higher term wrote the saga record or the offsets, or our lease lapsed: this
    node is no longer the leader and must not write in its old term."""


class Fenced(Exception):
    """A resource rejected our fencing token."""


# --- the orchestrator on a node -----------------------------------------------------


class Orchestrator:
    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.term = 0
        self.active: set[str] = set()
        self.busy: set[str] = set()
        self.scanned: set[str] = set()
        self.skip_until: dict[str, float] = {}
        self.claim_skip_until: dict[str, float] = {}
        self.lock = threading.Lock()
        self.pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="saga")
        self.step_log = ctx.data_dir / "saga-steps.jsonl"
        self.offset_records: dict[str, Any] = {}  # partition -> the offset record we last wrote
        self.consumer = events.Consumer(
            partitions=ctx.peers,
            fetch=self._fetch,
            load=self._load_offset,
            commit=self._commit,
            handle=self._on_event,
            commit_first=ctx.bugs.on("commit-before-effect"),
            between=lambda ev: faults.crash_point(ctx, f"event {ev['node']}:{ev['offset']}"),
            leading=self._leading,
            log=ctx.log,
        )
        ctx.metrics.collector(self._gauges)

    # ---- event consumption ----

    def _fetch(self, part: str, start: int) -> tuple[list[dict[str, Any]], int]:
        """One poll of a partition.  Not retried: the next round is the retry; a
        partition that failed is skipped for a second so a paused node cannot
        stall the rounds of every other saga."""
        if time.monotonic() < self.skip_until.get(part, 0.0):
            raise CallError(part, "skipped: failed recently")
        timeout = min(self.ctx.config.request_timeout, POLL_TIMEOUT)
        try:
            status, body = http_call(
                self.ctx.url(part), "GET", f"/events?from={start}", timeout=timeout
            )
            if status != 200:
                raise CallError(part, f"GET /events answered {status}: {body.get('error')}")
        except CallError:
            self.skip_until[part] = time.monotonic() + POLL_SKIP
            raise
        return body["events"], body["end"]

    # ---- fencing by term ----

    def _leading(self) -> bool:
        """Our lease still runs, in the term this orchestrator acts for."""
        return self.term > 0 and self.ctx.election.token() == self.term

    def _check_leading(self, what: str) -> None:
        if not self._leading():
            raise Stale(f"{what}: term {self.term} no longer leads (lease lapsed or a newer term)")

    def _load_offset(self, part: str) -> int:
        """The committed offset, claimed for our term: from now on no older term's commit
        lands, so whatever it consumed after this is consumed again by us.  A claim whose
        coordinator did not answer (a paused home blocks the round for a whole store
        timeout) is not retried for CLAIM_SKIP seconds."""
        if time.monotonic() < self.claim_skip_until.get(part, 0.0):
            raise CallError(part, "offset claim skipped: failed recently")
        try:
            return self._fence_offset(part, None)
        except (NoQuorum, CallError, HTTPError):
            self.claim_skip_until[part] = time.monotonic() + CLAIM_SKIP
            raise

    def _commit(self, part: str, offset: int) -> None:
        if not self._leading():
            self.ctx.log.info(
                "events: not committing offset %d of partition %s in term %d: no longer leading",
                offset, part, self.term,
            )
            raise Stale(f"offset {offset} of partition {part} left uncommitted by term {self.term}")
        self._fence_offset(part, offset)

    def _fence_offset(self, part: str, offset: int | None) -> int:
        """Write ``{offset, term}`` to ``offsets:saga:<part>`` unless a higher term holds it.

        A conditional write (cas against the record as read), so it is atomic with
        the term check at the key's coordinator: a paused leader that passed every
        lease check still cannot commit once a newer term has claimed the offsets.
        ``offset`` None is the claim: keep the committed offset, stamp our term.
        """
        key, term = f"offsets:saga:{part}", self.term
        if part in self.offset_records:
            current = self.offset_records[part]  # our last write: usually still there
        else:
            got = self.ctx.store.get(key)
            current = None if got is None else got[0]
        for _ in range(8):
            committed, holder = events.offset_record(current)
            if holder > term:
                self.ctx.metrics.inc("offset_commits_rejected")
                self.ctx.log.warning(
                    "events: rejected offset %s term %d < %d for %s (offset %s)",
                    "claim" if offset is None else "commit", term, holder, key,
                    committed if offset is None else offset,
                )
                raise Stale(f"{key} is held by term {holder} > our {term}")
            new = {"offset": committed if offset is None else offset, "term": term}
            if current == new:
                return committed
            ok, current, _ = self.ctx.store.cas_detail(key, current, new)
            if ok:
                self.offset_records[part] = new
                return int(new["offset"])
        raise NoQuorum("cas", key, 1, 0, {"offsets": "record kept changing under eight attempts"})

    def _on_event(self, event: dict[str, Any]) -> None:
        """The effect of an event: create the saga, or ask it to cancel. Idempotent."""
        order_id = event["order_id"]

        def mutate(rec: dict[str, Any] | None) -> dict[str, Any] | None:
            if rec is None:
                rec = new_record(event)
                return self._logged(
                    rec, "saga", "created" if rec["want"] == "complete" else "cancel-requested"
                )
            if event["type"] == events.CANCELLED and rec["want"] != "cancel":
                rec["want"] = "cancel"
                return self._logged(rec, "saga", "cancel-requested")
            if event["type"] == events.PLACED and not placed_applied(rec):
                # The cancel got here first and created the saga; the placed event changes
                # nothing but is recorded, so the step log accounts for every event.
                return self._logged(rec, "saga", "placed")
            return None  # a redelivery: nothing to do

        self._update(order_id, mutate)
        with self.lock:
            self.active.add(order_id)

    # ---- record updates (cas on the quorum store) ----

    def _stamp(self, rec: dict[str, Any]) -> list[Any]:
        if self.ctx.bugs.on("wall-clock-order"):
            return [int(time.time() * 1000), 0, self.ctx.node]
        if rec["log"]:
            self.ctx.hlc.update(max(e["ts"] for e in rec["log"]))
        return self.ctx.hlc.now().to_json()

    def _logged(self, rec: dict[str, Any], step: str, phase: str, **extra: Any) -> dict[str, Any]:
        entry = {
            "seq": len(rec["log"]),
            "step": step,
            "phase": phase,
            "ts": self._stamp(rec),
            "wall": time.time(),
            "node": self.ctx.node,
            "term": self.term,
            **extra,
        }
        rec["log"].append(entry)
        return rec

    def _update(self, order_id: str, mutate: Any) -> dict[str, Any] | None:
        """Read-modify-cas until it sticks; Stale if a higher term wrote the record."""
        key = saga_key(order_id)
        for _ in range(8):
            self._check_leading(f"saga {order_id}")
            got = self.ctx.store.get(key)
            rec = None if got is None else got[0]
            if rec is not None and rec.get("term", 0) > self.term:
                raise Stale(f"saga {order_id} was advanced by term {rec['term']} > our {self.term}")
            new = mutate(copy.deepcopy(rec))
            if new is None:
                return rec
            new["term"] = self.term
            new["version"] = (rec or {}).get("version", -1) + 1
            # Again, just before the write: a pause during the quorum read above would
            # otherwise let a term that lost its lease write after it woke. The store has
            # no term fence of its own, so a pause between here and the cas still can.
            self._check_leading(f"saga {order_id}")
            if self.ctx.store.cas(key, rec, new):
                self._append_step_log(new)
                return new
        raise NoQuorum("cas", key, 1, 0, {"saga": "record kept changing under eight attempts"})

    def _append_step_log(self, rec: dict[str, Any]) -> None:
        line = json.dumps({"order_id": rec["order_id"], **rec["log"][-1]}) + "\n"
        with self.lock, open(self.step_log, "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())

    # ---- driving ----

    def _body(self, step: Step, rec: dict[str, Any], token: int, ts: list[Any]) -> dict[str, Any]:
        body = {
            "order_id": rec["order_id"],
            "token": token,
            "key": step.key(rec["order_id"]),
            "hlc": ts,
        }
        body.update({f: rec[f] for f in step.fields})
        if step.name == "refund" and self.ctx.bugs.on("refund-without-key"):
            del body["key"]  # seed 003 snippet 3: no idempotency key threaded in
        return body

    def run_step(self, order_id: str, step: Step, token: int) -> None:
        rec = self._update(order_id, lambda r: self._mark(r, step, STARTED))
        assert rec is not None
        faults.stall_point(self.ctx, step.name)  # token taken: a pause here makes a stale leader
        node = home(order_id, self.ctx.peers)
        body = self._body(step, rec, token, rec["log"][-1]["ts"])
        try:
            status, reply = self.ctx.call(
                node, "POST", step.path, body, downstream=f"{step.service}@{node}"
            )
        except (CallError, GiveUp) as e:
            self.ctx.metrics.inc("saga_step_unknown", labels={"step": step.name})
            self.ctx.log.info(
                "saga %s: %s outcome unknown (%s); will re-send with the same key",
                order_id,
                step.name,
                e,
            )
            raise
        if "hlc" in reply:
            self.ctx.hlc.update(reply["hlc"])
        if status == 200:
            self.ctx.metrics.inc("saga_steps", labels={"step": step.name, "outcome": "done"})
            self._update(
                order_id, lambda r: self._mark(r, step, DONE, replay=bool(reply.get("replay")))
            )
        elif status == 409 and reply.get("field") == "token":
            self.ctx.metrics.inc("saga_fenced")
            self.ctx.log.warning(
                "saga %s: %s fenced at %s: %s", order_id, step.name, node, reply.get("error")
            )
            raise Fenced(reply.get("error"))
        elif status in (402, 409) and step in FORWARD:
            self.ctx.metrics.inc("saga_steps", labels={"step": step.name, "outcome": "rejected"})
            self._update(
                order_id, lambda r: self._mark(r, step, REJECTED, reason=reply.get("error"))
            )
        else:
            self.ctx.metrics.inc("saga_step_errors", labels={"step": step.name})
            raise HTTPError(status, f"{step.name} for {order_id} at {node}: {reply.get('error')}")

    def _mark(
        self, rec: dict[str, Any] | None, step: Step, outcome: str, **extra: Any
    ) -> dict[str, Any] | None:
        if rec is None:
            raise Stale(f"saga record for step {step.name} vanished")
        if outcome == STARTED and rec["steps"].get(step.name) in (STARTED, DONE):
            return (
                None if rec["steps"][step.name] == DONE else self._logged(rec, step.name, "resend")
            )
        if outcome != STARTED and rec["steps"].get(step.name) in (DONE, REJECTED):
            return None
        rec["steps"][step.name] = outcome
        rec["state"] = COMPENSATING if compensating(rec) else RUNNING
        return self._logged(rec, step.name, outcome, **extra)

    def finish(self, order_id: str, state: str) -> None:
        def mutate(rec: dict[str, Any] | None) -> dict[str, Any] | None:
            if rec is None or next_action(rec) != ("finish", state):
                return None
            rec["state"] = state
            return self._logged(rec, "saga", state)

        self._update(order_id, mutate)
        self.ctx.metrics.inc("sagas_finished", labels={"state": state})

    def drive(self, order_id: str, token: int) -> None:
        """Advance one saga until it is over or a step needs another round."""
        try:
            for _ in range(MAX_ACTIONS):
                if token != self.term or self.ctx.election.token() != token:
                    return
                got = self.ctx.store.get(saga_key(order_id))
                if got is None:
                    return
                action = next_action(got[0])
                if action is None:
                    with self.lock:
                        self.active.discard(order_id)
                    return
                kind, what = action
                if kind == "finish":
                    self.finish(order_id, what)
                else:
                    self.run_step(order_id, what, token)
        except (Stale, Fenced) as e:
            self.ctx.log.warning("saga %s: stepping back, %s", order_id, e)
        except (CallError, GiveUp, NoQuorum, HTTPError) as e:
            self.ctx.log.info("saga %s: will retry next round: %s", order_id, e)
        except Exception:  # noqa: BLE001 - one broken saga must not stop the others
            self.ctx.log.exception("saga %s: unexpected error", order_id)
        finally:
            with self.lock:
                self.busy.discard(order_id)

    # ---- leadership ----

    def _scan(self) -> None:
        """Find unfinished sagas started by earlier leaders (read-only over the logs).

        A partition is scanned only once its offsets are claimed for our term: a
        saga an older term created before the claim is found here, and one it
        created after cannot have its offset committed, so its event comes again.
        """
        for part in self.ctx.peers:
            if part in self.scanned or part not in self.consumer.offsets:
                continue
            try:
                seen: set[str] = set()
                start, end = 0, 1
                while start < end:
                    evs, end = self._fetch(part, start)
                    seen.update(e["order_id"] for e in evs)
                    start += max(1, len(evs))
                for order_id in seen:
                    got = self.ctx.store.get(saga_key(order_id))
                    if got is not None and not terminal(got[0]):
                        with self.lock:
                            self.active.add(order_id)
                self.scanned.add(part)
            except Exception as e:  # noqa: BLE001 - retried next round
                self.ctx.log.info("saga: resume scan of partition %s failed, retrying: %s", part, e)

    def round(self) -> None:
        term = self.ctx.election.token()
        if term is None:
            self.term = 0
            return
        if term != self.term:
            self.ctx.log.info("saga: leading with term %d; resuming from committed offsets", term)
            self.term = term
            self.consumer.reset()
            self.scanned.clear()
        if not self.consumer.claim():
            return  # a newer term owns the offsets: the election will tell us soon
        self._scan()
        self.consumer.poll()
        with self.lock:
            ready = sorted(self.active - self.busy)
            self.busy.update(ready)
        for order_id in ready:
            self.pool.submit(self.drive, order_id, term)

    def run(self) -> None:
        while not self.ctx.stopping.is_set():
            try:
                self.round()
            except Exception:  # noqa: BLE001 - the orchestrator thread must not die
                self.ctx.log.exception("saga: round failed")
            self.ctx.stopping.wait(TICK)
        self.pool.shutdown(wait=False, cancel_futures=True)

    def _gauges(self) -> dict[str, float]:
        with self.lock:
            active = len(self.active)
        leading = bool(self.term)
        return {
            "consumer_lag": self.consumer.lag() if leading else 0,
            "sagas_active": active if leading else 0,
        }

    # ---- HTTP ----

    def show(self, req: Request) -> tuple[int, dict[str, Any]]:
        order_id = check_id(req.params["id"], "id")
        try:
            got = self.ctx.store.get(saga_key(order_id))
        except NoQuorum as e:
            raise HTTPError(503, f"saga store unavailable: {e}") from e
        if got is None:
            raise HTTPError(
                404,
                f"no saga for order {order_id} (not placed, or its event not consumed yet)",
                "id",
            )
        rec = dict(got[0])
        rec["log"] = ordered_log(rec)
        rec["home"] = home(order_id, self.ctx.peers)
        return 200, rec

    def status(self, req: Request) -> tuple[int, dict[str, Any]]:
        with self.lock:
            active, busy = sorted(self.active), sorted(self.busy)
        return 200, {
            "node": self.ctx.node,
            "term": self.term,
            "leading": bool(self.term),
            "active": active,
            "busy": busy,
            "consumer_lag": self.consumer.lag(),
            "offsets": dict(self.consumer.offsets),
            "retry": self.ctx.retrier.stats()["downstreams"],
        }


_orchestrators: dict[int, Orchestrator] = {}


def _get(ctx: Any) -> Orchestrator:
    if id(ctx) not in _orchestrators:
        _orchestrators[id(ctx)] = Orchestrator(ctx)
    return _orchestrators[id(ctx)]


def register(ctx: Any, router: Any) -> None:
    orch = _get(ctx)
    router.add("GET", "/saga", orch.status)
    router.add("GET", "/saga/{id}", orch.show)


def start(ctx: Any) -> threading.Thread:
    """Run the orchestrator thread; it acts only while this node leads."""
    thread = threading.Thread(target=_get(ctx).run, name="saga", daemon=True)
    thread.start()
    return thread
