"""A leader that lost its lease must not go on consuming events in its old term.

Issue 11: a paused orchestrator (SIGSTOP) woke and kept consuming in its old
term (45 saga rows and an offset commit after "stepped down" in its log); the
new leader resumed from that offset and never drove those sagas. Here two
Orchestrators (old leader n1, new leader n2) share one in-memory store and one
event partition, with fake leases whose token the test moves, so each
interleaving of the real incident is exact and needs no sockets.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from target.config import from_dict
from target.events import CANCELLED, PLACED, EventLog
from target.hlc import Timestamp
from target.node import build_context
from target.saga import Orchestrator, Stale

NODES = ("n1", "n2", "n3")
PART = "n3"  # every order in these tests was placed on n3: one partition
ORDERS = [f"order-{i}" for i in range(5)]


class FakeStore:
    """The quorum store's get/put/cas contract over one dict. Every write is
    recorded with the node that made it, in order, so a test can say which
    node wrote what after a given moment."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.writes: list[dict[str, Any]] = []

    def write(self, node: str, key: str, value: Any) -> Timestamp:
        self.data[key] = json.loads(json.dumps(value))
        self.writes.append({"node": node, "key": key, "value": self.data[key]})
        return Timestamp(len(self.writes), 0, node)

    def view(self, node: str) -> StoreView:
        return StoreView(self, node)


class StoreView:
    """One node's StoreClient: get, put, cas and cas_detail."""

    def __init__(self, store: FakeStore, node: str) -> None:
        self.store, self.node = store, node

    def get(self, key: str) -> tuple[Any, Timestamp] | None:
        if key not in self.store.data:
            return None
        return json.loads(json.dumps(self.store.data[key])), Timestamp(0, 0, self.node)

    def put(self, key: str, value: Any) -> Timestamp:
        return self.store.write(self.node, key, value)

    def cas_detail(self, key: str, expected: Any, new: Any) -> tuple[bool, Any, Timestamp | None]:
        current = self.store.data.get(key)
        if current != expected:
            return False, json.loads(json.dumps(current)), None
        return True, new, self.store.write(self.node, key, new)

    def cas(self, key: str, expected: Any, new: Any) -> bool:
        return self.cas_detail(key, expected, new)[0]


class Lease:
    """What the orchestrator asks of its Election: the term while the lease runs, else None."""

    def __init__(self, term: int | None) -> None:
        self.term = term

    def token(self) -> int | None:
        return self.term


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Any]:
    """(store, make): make(node, lease) -> an Orchestrator over the shared store and logs."""
    store = FakeStore()
    logs = {n: EventLog(tmp_path / "events" / n) for n in NODES}
    for oid in ORDERS:
        logs[PART].append(
            {"type": PLACED, "order_id": oid, "sku": "widget", "qty": 1, "amount": 5, "node": PART}
        )
    made: list[Orchestrator] = []

    def fetch(part: str, start: int) -> tuple[list[dict[str, Any]], int]:
        return logs[part].read(start)

    def make(node: str, lease: Lease) -> Orchestrator:
        peers = {n: f"http://127.0.0.1:{7400 + i}" for i, n in enumerate(NODES)}  # never called
        cfg = from_dict({"node": node, "port": 7400, "peers": peers,
                         "data_dir": str(tmp_path / node), "lease_seconds": 1.0,
                         "request_timeout": 0.2})
        ctx = build_context(cfg)
        ctx.store.close()
        ctx.store = store.view(node)  # type: ignore[assignment]
        ctx.election = lease  # type: ignore[assignment]
        orch = Orchestrator(ctx)
        orch._fetch = fetch  # type: ignore[method-assign]
        orch.consumer.fetch = fetch
        orch.drive = lambda order_id, token: None  # type: ignore[method-assign]  # not under test
        made.append(orch)
        return orch

    yield store, make
    for orch in made:
        orch.pool.shutdown(wait=True)


def after_handling(orch: Orchestrator, order_id: str, then: Callable[[], None]) -> None:
    """Run ``then`` right after the effect of order_id's event, before its offset commit."""
    handle = orch.consumer.handle

    def wrapped(event: dict[str, Any]) -> None:
        handle(event)
        if event["order_id"] == order_id:
            then()

    orch.consumer.handle = wrapped


def late_writes(store: FakeStore, since: int, node: str) -> list[str]:
    return [f"{w['key']} = {w['value'] if w['key'].startswith('offsets') else '...'}"
            for w in store.writes[since:] if w["node"] == node]


def test_a_leader_whose_lease_lapsed_mid_batch_stops_consuming(world):
    store, make = world
    lease = Lease(1)
    old = make("n1", lease)
    old.term = 1
    paused: dict[str, int] = {}

    def sigstop_past_the_lease() -> None:  # it wakes with its lease gone, a term 2 elected
        lease.term = None
        paused["at"] = len(store.writes)

    after_handling(old, "order-0", sigstop_past_the_lease)
    old.consumer.poll()
    late = late_writes(store, paused["at"], "n1")
    assert late == [], f"term 1 went on writing after its lease lapsed: {late}"

    new = make("n2", Lease(2))
    new.round()
    assert sorted(new.active) == ORDERS


def test_a_stale_offset_commit_is_fenced_by_the_store(world):
    """The old leader passed its leadership check, then paused before committing:
    only the term carried by the commit can stop it now."""
    store, make = world
    old = make("n1", Lease(1))  # its check raced the pause: it still believes it leads
    old.term = 1
    new = make("n2", Lease(2))
    began: dict[str, int] = {}

    def new_leader_takes_over() -> None:
        began["at"] = len(store.writes)
        new.round()  # term 2: consumes and commits all five events

    after_handling(old, "order-0", new_leader_takes_over)
    old.consumer.poll()
    late = late_writes(store, began["at"], "n1")
    assert late == [], f"term 1 committed after term 2 began: {late}"
    assert sorted(new.active) == ORDERS
    assert "rejected offset commit term 1 < 2 for offsets:saga:n3" in (
        old.ctx.data_dir / "node.log"
    ).read_text()
    third = make("n3", Lease(3))
    third.term = 3
    assert third.consumer.load(PART) == len(ORDERS)


def test_new_leader_drives_every_saga_when_the_old_one_wakes_after_its_scan(world):
    """The measured incident: the old leader wakes between the new leader's scan for
    unfinished sagas and its read of the committed offset."""
    store, make = world
    lease = Lease(1)
    old = make("n1", lease)
    old.term = 1
    paused, resume = threading.Event(), threading.Event()

    def sigstop() -> None:
        lease.term = None  # held past the lease
        paused.set()
        resume.wait(5)

    after_handling(old, "order-1", sigstop)
    consuming = threading.Thread(target=old.consumer.poll)
    consuming.start()
    try:
        assert paused.wait(5)
        new = make("n2", Lease(2))
        scan = new._scan

        def scan_then_the_old_leader_wakes() -> None:
            scan()
            resume.set()  # SIGCONT
            consuming.join(5)

        new._scan = scan_then_the_old_leader_wakes  # type: ignore[method-assign]
        new.round()
    finally:
        resume.set()
        consuming.join(5)
    never = sorted(set(ORDERS) - new.active)
    assert never == [], f"the new leader will never drive {never}"


def test_saga_writes_recheck_the_lease(world):
    store, make = world
    lease = Lease(1)
    old = make("n1", lease)
    old.term = 1
    lease.term = None  # lapsed: the record must not be written in term 1 any more
    event = {"type": PLACED, "order_id": "order-9", "sku": "w", "qty": 1, "amount": 5,
             "node": PART, "offset": 9}
    with pytest.raises(Stale):
        old._on_event(event)
    assert store.writes == []


def test_a_new_term_claims_the_committed_offset_before_consuming(world):
    store, make = world
    store.data[f"offsets:saga:{PART}"] = 2  # a plain offset, committed before offsets had a term
    new = make("n2", Lease(2))
    new.round()
    claims = [w["value"] for w in store.writes if w["key"] == f"offsets:saga:{PART}"]
    assert claims[0] == {"offset": 2, "term": 2}  # claimed first, at the committed offset
    assert claims[-1] == {"offset": len(ORDERS), "term": 2}
    assert sorted(new.active) == ORDERS[2:]
    stale = make("n1", Lease(1))  # an older term that still believes it leads
    stale.term = 1
    assert stale.consumer.claim() is False
    assert store.data[f"offsets:saga:{PART}"] == {"offset": len(ORDERS), "term": 2}
    assert "rejected offset claim term 1 < 2" in (stale.ctx.data_dir / "node.log").read_text()


def test_a_placed_event_after_its_cancel_is_recorded_once_and_changes_nothing(world):
    """The cancel (another partition) reached the orchestrator first and created the saga;
    the placed event then leaves one `placed` row, so the step log accounts for it, and a
    redelivery of either event writes nothing."""
    store, make = world
    orch = make("n1", Lease(1))
    orch.term = 1
    order = {"order_id": "order-7", "sku": "w", "qty": 1, "amount": 5}
    cancel = {"type": CANCELLED, **order, "node": "n2", "offset": 0}
    placed = {"type": PLACED, **order, "node": PART, "offset": 7}
    orch._on_event(cancel)
    orch._on_event(placed)
    writes = len(store.writes)
    orch._on_event(placed)
    orch._on_event(cancel)
    rec = store.data["saga:order-7"]
    assert [(e["step"], e["phase"]) for e in rec["log"]] == [("saga", "cancel-requested"), ("saga", "placed")]
    assert rec["want"] == "cancel" and rec["steps"] == {} and len(store.writes) == writes
