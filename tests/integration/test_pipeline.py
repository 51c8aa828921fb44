"""The order pipeline end to end: real node processes on 127.0.0.x, real HTTP.

Each scenario of issue 3 runs with the mechanism on and with the bug flag
that turns it off, and asserts opposite outcomes, so every test can fail.
Deterministic hooks (all behind the per-run admin secret, see
target/faults.py): ``lost-response`` and ``down`` on a service operation,
``stall`` on a saga step (the orchestrator sleeps after taking its fencing
token, so the test can SIGSTOP it exactly there), and ``crash`` between the
consumer's effect and its offset commit.
"""

# ruff: noqa: F811  (make_cluster is a fixture imported from target_cluster)
from __future__ import annotations

import glob
import json
import os
import re
import subprocess
import sys
import threading
import time
from typing import Any

import pytest

from target.pool import CallError
from target.saga import home
from target.store import placement
from tests.conftest import require_tool
from tests.integration.target_cluster import REPO, Cluster, Node, make_cluster  # noqa: F401

SECRET = "test-secret"
SERVICES = ("payment", "inventory", "shipping")


# --- helpers -------------------------------------------------------------------------


def up(c: Cluster) -> list[Node]:
    return [n for n in c if n.alive() and not n.stopped]


def place(
    node: Node, order_id: str, amount: float = 50, sku: str = "widget", qty: int = 1
) -> dict[str, Any]:
    status, body = node.call(
        "POST", "/orders", {"order_id": order_id, "sku": sku, "qty": qty, "amount": amount}
    )
    assert status in (200, 201), (status, body)
    return body


def order_status(c: Cluster, order_id: str) -> str | None:
    for n in up(c):
        try:
            status, body = n.call("GET", f"/orders/{order_id}", timeout=2.0)
        except CallError:
            continue
        if status == 200:
            return body["status"]
    return None


def wait_status(c: Cluster, order_id: str, want: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    got = None
    while time.monotonic() < deadline:
        got = order_status(c, order_id)
        if got == want:
            return
        time.sleep(0.05)
    raise AssertionError(f"order {order_id} is {got!r}, not {want!r} after {timeout}s")


def saga(c: Cluster, order_id: str) -> dict[str, Any] | None:
    for n in up(c):
        try:
            status, body = n.call("GET", f"/saga/{order_id}", timeout=2.0)
        except CallError:
            continue
        if status == 200:
            return body
    return None


def wait_for(pred: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = pred()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def ledger(node: Node, service: str) -> dict[str, Any]:
    status, body = node.call("GET", f"/{service}/ledger")
    assert status == 200, body
    return body


def rows(
    c: Cluster, service: str, order_id: str | None = None, op: str | None = None, real: bool = True
) -> list[dict[str, Any]]:
    """Rows across every running node's ledger (real = not void)."""
    out = []
    for n in up(c):
        for r in ledger(n, service)["rows"]:
            if order_id is not None and r["order_id"] != order_id:
                continue
            if op is not None and r["op"] != op:
                continue
            if real and r.get("void"):
                continue
            out.append(r)
    return out


def arm(node: Node, service: str, op: str, kind: str, **kw: Any) -> None:
    status, body = node.call(
        "POST", "/admin/fault", {"secret": SECRET, "service": service, "op": op, "kind": kind, **kw}
    )
    assert status == 200, body


def metrics(node: Node) -> dict[str, Any]:
    status, body = node.call("GET", "/metrics")
    assert status == 200
    return body


def order_id_avoiding(c: Cluster, avoid: set[str], prefix: str = "order") -> str:
    """An order id none of whose homes (services, order and saga records) is in avoid."""
    names = c.names
    for i in range(1000):
        oid = f"{prefix}-{i}"
        homes = {
            home(oid, names),
            placement(f"order:{oid}", names, 1)[0],
            placement(f"saga:{oid}", names, 1)[0],
        }
        if not homes & avoid:
            return oid
    raise AssertionError(f"no order id avoids {avoid}")


def partition_avoiding(c: Cluster, avoid: set[str]) -> str:
    """A node (event partition) outside avoid, preferring one whose committed-offset
    record is not homed in avoid either (else its commits wait for the home: slower,
    still correct, since the effect comes before the commit)."""
    ok = [n for n in c.names if n not in avoid]
    best = [n for n in ok if placement(f"offsets:saga:{n}", c.names, 1)[0] not in avoid]
    return (best or ok)[0]


def leader_with_free_partition(c: Cluster, tries: int = 4) -> tuple[str, int]:
    """The leader, once some other node's event partition keeps its committed offset off it.

    A paused node still coordinates the store keys it homes (it is slow, not known
    to be down), so while it sleeps nobody can claim an offset record homed there.
    Which node leads first is a race; when the leader homes every other partition's
    offset, a test that pauses it would wait on those records. So step it down
    (paused past its lease) until a leader that leaves a partition free is elected.
    """
    for _ in range(tries):
        leader, term = c.wait_leader()
        if any(placement(f"offsets:saga:{n}", c.names, 1)[0] != leader for n in c.names if n != leader):
            return leader, term
        c.stop(leader)
        c.wait_leader(exclude=(leader,), min_term=term + 1)
        c.cont(leader)
    raise AssertionError(f"no leader left an event partition's offset free in {tries} elections")


def bugs(flag: str | None) -> list[str]:
    return [flag] if flag else []


# --- an order completes; a cancel compensates once ------------------------------------


def test_order_completes_and_cancel_compensates_exactly_once(make_cluster):
    c = make_cluster(3)
    c.wait_leader()
    place(c["n2"], "order-1")
    wait_status(c, "order-1", "completed")
    for service, op in (("inventory", "reserve"), ("payment", "charge"), ("shipping", "ship")):
        assert len(rows(c, service, "order-1", op)) == 1, (service, op)
    assert rows(c, "payment", "order-1", "refund", real=False) == []

    status, _ = c["n3"].call("POST", "/orders/order-1/cancel")
    assert status == 202
    wait_status(c, "order-1", "cancelled")
    assert len(rows(c, "payment", "order-1", "refund")) == 1
    assert len(rows(c, "inventory", "order-1", "restock")) == 1
    assert len(rows(c, "shipping", "order-1", "cancel")) == 1
    assert len(rows(c, "payment", "order-1", "charge")) == 1
    refund = rows(c, "payment", "order-1", "refund")[0]
    assert refund["amount"] == 50 and refund["key"] == "refund:order-1"


def test_refused_steps_fail_the_saga_and_undo_what_was_done(make_cluster):
    c = make_cluster(3)
    c.wait_leader()
    place(c["n1"], "order-declined", amount=20_000)  # above payment's decline limit
    place(c["n1"], "order-soldout", sku="sold-out-lamp")
    wait_status(c, "order-declined", "failed")
    wait_status(c, "order-soldout", "failed")
    assert len(rows(c, "inventory", "order-declined", "reserve")) == 1
    assert len(rows(c, "inventory", "order-declined", "restock")) == 1
    assert (
        rows(c, "payment", "order-declined") == [] and rows(c, "shipping", "order-declined") == []
    )
    for service in SERVICES:
        assert rows(c, service, "order-soldout") == []


# --- lost response on refund: the key makes the retry harmless ----------------------


@pytest.mark.parametrize("flag", [None, "refund-without-key"])
def test_lost_refund_response_is_retried_with_the_same_key(make_cluster, flag):
    c = make_cluster(3, bugs=bugs(flag))
    c.wait_leader()
    oid = "order-7"
    place(c["n1"], oid)
    wait_status(c, oid, "completed")
    payment = c[home(oid, c.names)]
    arm(payment, "payment", "refund", "lost-response", count=1)
    c["n2"].call("POST", f"/orders/{oid}/cancel")
    wait_status(c, oid, "cancelled")

    calls = metrics(payment)["counters"].get('service_calls{op="refund",service="payment"}')
    assert calls == 2, (
        "the first refund's response was dropped, so the saga's retry sent a second call"
    )
    refunds = rows(c, "payment", oid, "refund")
    if flag is None:
        assert len(refunds) == 1 and refunds[0]["key"] == f"refund:{oid}"
        assert metrics(payment)["counters"].get('duplicate_key_hits{service="payment"}') == 1
    else:
        assert len(refunds) == 2, "without a key the retried refund lands twice (seed 000)"
        assert sum(r["amount"] for r in refunds) == 100


def test_slow_charge_times_out_and_the_retry_replays_the_first_result(make_cluster):
    """Seed 000's table with a timeout: the effect happened, the caller gave up waiting."""
    c = make_cluster(3)  # request_timeout 0.5 s in the test configs
    c.wait_leader()
    oid = "order-slow"
    payment = c[home(oid, c.names)]
    arm(payment, "payment", "charge", "slow-response", seconds=1.0, count=1)
    status, body = payment.call("GET", "/admin/faults")
    assert status == 200 and [f["kind"] for f in body["faults"]] == ["slow-response"]
    place(c["n1"], oid)
    wait_status(c, oid, "completed")
    charges = rows(c, "payment", oid, "charge")
    assert len(charges) == 1 and charges[0]["key"] == f"charge:{oid}"
    counters = metrics(payment)["counters"]
    assert counters.get('service_calls{op="charge",service="payment"}', 0) >= 2
    assert counters.get('duplicate_key_hits{service="payment"}', 0) >= 1
    assert payment.call("GET", "/admin/faults")[1]["faults"] == []


# --- a paused leader is replaced and fenced out --------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("flag", [None, "fence-after-write"])
def test_paused_leader_wakes_and_its_write_is_fenced(make_cluster, flag):
    c = make_cluster(3, bugs=bugs(flag))
    old, t1 = leader_with_free_partition(c)
    others = [n for n in c.names if n != old]
    oid = order_id_avoiding(c, {old})
    entry = partition_avoiding(c, {old})
    # the leader will take its token for `ship`, then sleep: we SIGSTOP it right there
    arm(c[old], "saga", "ship", "stall", seconds=2.0)
    place(c[entry], oid)
    wait_for(
        lambda: (saga(c, oid) or {}).get("steps", {}).get("ship") == "started", 10, "ship to start"
    )
    c.stop(old)
    c[entry].call("POST", f"/orders/{oid}/cancel")
    new, t2 = c.wait_leader(exclude=(old,), min_term=t1 + 1)
    assert new in others and t2 > t1
    wait_status(c, oid, "cancelled")  # the new leader compensated, fencing shipping with t2
    shipping = c[home(oid, c.names)]
    assert [r["op"] for r in ledger(shipping, "shipping")["rows"] if r["order_id"] == oid] == [
        "cancel"
    ]

    c.cont(old)  # the stale leader's stalled step goes out now, with token t1
    if flag is None:
        fence = wait_for(
            lambda: [
                f
                for f in ledger(shipping, "shipping")["fence"]
                if f["verdict"] == "reject" and f["key"] == f"ship:{oid}"
            ],
            10,
            "the rejection",
        )
        assert fence[0]["token"] == t1 and fence[0]["highest"] >= t2
        assert f"rejected token {t1} < {fence[0]['highest']} for ship:{oid}" in shipping.log()
        time.sleep(0.3)
        assert [r["op"] for r in ledger(shipping, "shipping")["rows"] if r["order_id"] == oid] == [
            "cancel"
        ]
    else:
        landed = wait_for(
            lambda: [
                r
                for r in ledger(shipping, "shipping")["rows"]
                if r["order_id"] == oid and r["op"] == "ship"
            ],
            10,
            "the stale write",
        )
        assert landed[0]["token"] == t1, (
            "a shipment for a cancelled order, written with the stale token"
        )
        assert [r["op"] for r in ledger(shipping, "shipping")["rows"] if r["order_id"] == oid] == [
            "cancel",
            "ship",
        ]


# --- a leader paused mid-batch does not consume in its old term (issue 11) ----------


def order_ids_avoiding(c: Cluster, avoid: set[str], prefix: str, count: int) -> list[str]:
    """count order ids none of whose homes (services, order and saga records) is in avoid."""
    out: list[str] = []
    for i in range(10_000):
        oid = order_id_avoiding(c, avoid, f"{prefix}{i}")
        if oid not in out:
            out.append(oid)
        if len(out) == count:
            return out
    raise AssertionError(f"not {count} order ids avoid {avoid}")


def store_rows(node: Node, prefix: str) -> list[dict[str, Any]]:
    """Rows of node's replica file whose key starts with prefix."""
    path = node.data_dir / "store.jsonl"
    text = path.read_text() if path.exists() else ""
    return [r for r in map(json.loads, text.splitlines()) if r["key"].startswith(prefix)]


@pytest.mark.slow
def test_paused_leader_does_not_consume_in_its_old_term(make_cluster):
    """The measured incident: the leader is SIGSTOPped in the middle of a batch of
    events, a new leader is elected, the old one wakes. It must not write a saga row
    or commit an offset in its old term, and the new leader must drive every saga.

    Made deterministic with the consumer's ``stall`` fault (target/faults.py): the old
    leader stalls after the effect of the second event of a 20-event batch on
    partition P, and is stopped right there; the new leader stalls on a trigger event
    on partition Q (before P in its pass), and the old one is continued while it does,
    so it wakes before the new leader has read P's offset.
    """
    c = make_cluster(4)
    old, t1 = c.wait_leader()
    names = c.names
    # neither partition's offset record may be homed on the paused node (its commits
    # would wait for it), and the new leader must reach Q before P
    parts = [n for n in names if n != old and placement(f"offsets:saga:{n}", names, 1)[0] != old]
    assert len(parts) >= 2, (old, parts)
    q, p = parts[0], parts[-1]
    orders = order_ids_avoiding(c, {old}, "batch", 20)
    trigger = order_id_avoiding(c, {old}, "trigger")
    for n in names:
        if n != old:  # whoever leads next stalls on its first event: the trigger
            arm(c[n], "events", "consume", "stall", seconds=3.0)
    arm(c[old], "events", "consume", "stall", seconds=1.5)
    place(c[p], orders[0])
    wait_for(lambda: saga(c, orders[0]), 10, "the leader to consume the first order")
    arm(c[old], "events", "consume", "stall", seconds=4.0)
    for oid in orders[1:]:  # published while it stalls: its next batch holds them all
        place(c[p], oid)
    wait_for(lambda: saga(c, orders[1]), 10, "the leader to apply the batch's first event")
    place(c[q], trigger)
    c.stop(old)  # mid-batch: orders[1] applied, its offset not committed
    try:
        new, t2 = c.wait_leader(timeout=10, exclude=(old,), min_term=t1 + 1)
        wait_for(lambda: saga(c, trigger), 15, "the new leader to consume the trigger")
    finally:
        resumed_at = time.time()
        c.cont(old)

    everything = [*orders, trigger]
    deadline = time.monotonic() + 15
    stuck = {oid: "?" for oid in everything}
    while stuck and time.monotonic() < deadline:
        stuck = {oid: s for oid in stuck if (s := order_status(c, oid)) != "completed"}
        time.sleep(0.1)
    steps = c[old].data_dir / "saga-steps.jsonl"
    late_rows = [
        f"{e['order_id']} {e['step']} {e['phase']}"
        for e in map(json.loads, steps.read_text().splitlines() if steps.exists() else [])
        if e["term"] == t1 and e["wall"] >= resumed_at
    ]
    late_commits = [
        f"{r['key']} = {r['value']} on {n.name}"
        for n in c
        for r in store_rows(n, "offsets:saga:")
        if isinstance(r["value"], dict)
        and r["value"]["term"] < t2
        and r["ts"][0] >= resumed_at * 1000
    ]
    assert not late_rows and not late_commits and not stuck, (
        f"after {old} woke (term {t1} < {t2}): saga rows written in term {t1}: {late_rows}; "
        f"offsets committed in an old term: {late_commits}; "
        f"orders the new leader {new} never drove: {stuck}"
    )
    assert re.search(
        rf"(not committing offset \d+ of partition {p} in term {t1}"
        rf"|rejected offset commit term {t1} < )",
        c[old].log(),
    ), f"{old} should log why it stopped:\n{c[old].tail()}"
    status, body = c[new].call("GET", f"/kv/offsets:saga:{p}")
    assert status == 200 and body["value"]["offset"] == len(orders), body
    assert body["value"]["term"] >= t2, body
    assert all(len(rows(c, "payment", oid, "charge")) == 1 for oid in everything)


# --- the retry budget holds while payment is down -----------------------------------


def payment_retry_stats(node: Node) -> tuple[int, int, int]:
    """(first attempts, retries, downstreams) summed over the payment@<node> downstreams."""
    status, body = node.call("GET", "/saga")
    assert status == 200, body
    pay = [d for name, d in body["retry"].items() if name.startswith("payment@")]
    return sum(d["first_attempts"] for d in pay), sum(d["retries"] for d in pay), len(pay)


@pytest.mark.slow
@pytest.mark.parametrize("flag", [None, "naive-retry"])
def test_retries_stay_within_budget_while_payment_is_down(make_cluster, flag):
    c = make_cluster(3, bugs=bugs(flag))
    leader, _ = c.wait_leader()
    for n in c:
        arm(n, "payment", "charge", "down", count=0)  # every charge call dropped, unapplied
    orders = [f"order-{i}" for i in range(12)]
    for i, oid in enumerate(orders):
        place(c[c.names[i % 3]], oid)
    time.sleep(2.0)
    first, retries, downstreams = payment_retry_stats(c[leader])
    assert first > 0
    bound = 0.1 * first + 10 * downstreams  # budget_floor 10 per downstream bucket
    if flag is None:
        assert retries <= bound, (
            f"{retries} retries for {first} first attempts exceeds the budget {bound}"
        )
        for n in c:
            n.call("POST", "/admin/fault/clear", {"secret": SECRET})
        for oid in orders:
            wait_status(c, oid, "completed", timeout=20)
        assert all(len(rows(c, "payment", oid, "charge")) == 1 for oid in orders)
    else:
        assert retries > bound, (
            f"naive retry stayed within {bound}: {retries} retries, {first} first attempts"
        )
        assert retries >= 4 * first  # fixed delay, six attempts each, nothing shed


# --- SIGKILL loses no acknowledged ledger entry -------------------------------------


@pytest.mark.slow
def test_sigkill_loses_no_acknowledged_ledger_entry(make_cluster):
    c = make_cluster(3)
    _, term = c.wait_leader()
    for i in range(6):
        place(c[c.names[i % 3]], f"order-{i}")
    for i in range(6):
        wait_status(c, f"order-{i}", "completed")
    c["n1"].call("POST", "/orders/order-0/cancel")
    wait_status(c, "order-0", "cancelled")
    _, term = c.wait_leader()
    for victim in c.names:
        node = c[victim]
        acked: list[dict[str, Any]] = []
        stop = threading.Event()

        def load(
            node: Node = node,
            acked: list[dict[str, Any]] = acked,
            victim: str = victim,
            stop: Any = stop,
        ) -> None:
            for i in range(10_000):
                if stop.is_set():
                    return
                body = {
                    "order_id": f"load-{victim}-{i}",
                    "amount": 1,
                    "key": f"charge:load-{victim}-{i}",
                    "token": term,
                }
                try:
                    status, reply = node.call("POST", "/payment/charge", body, timeout=1.0)
                except CallError:
                    return
                if status == 200:
                    acked.append(reply)

        before = {s: ledger(node, s)["rows"] for s in SERVICES}
        t = threading.Thread(target=load)
        t.start()
        time.sleep(0.4)
        node.kill()  # SIGKILL mid-load
        stop.set()
        t.join(timeout=10)
        assert acked, "the load got no acknowledgement before the kill"
        node.start()
        node.wait_healthy()
        after = {s: ledger(node, s)["rows"] for s in SERVICES}
        for s in SERVICES:
            assert after[s][: len(before[s])] == before[s], f"{victim} {s} lost or changed rows"
        kept = {r["key"]: r for r in after["payment"]}
        for reply in acked:
            assert kept.get(reply["key"]) == {k: v for k, v in reply.items() if k != "replay"}
        # the dedup table came back too: an acknowledged key replays
        status, again = node.call(
            "POST",
            "/payment/charge",
            {"order_id": acked[0]["order_id"], "amount": 1, "key": acked[0]["key"], "token": term},
        )
        assert status == 200 and again["replay"] is True and again["seq"] == acked[0]["seq"]


# --- at-least-once: commit after the effect ----------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("flag", [None, "commit-before-effect"])
def test_crash_between_effect_and_commit(make_cluster, flag):
    c = make_cluster(3, bugs=bugs(flag))
    leader, t1 = c.wait_leader()
    oid = order_id_avoiding(c, {leader})
    entry = partition_avoiding(c, {leader})
    arm(c[leader], "events", "consume", "crash")
    place(c[entry], oid)
    wait_for(lambda: not c[leader].alive(), 10, f"{leader} to crash at the armed point")
    assert c[leader].proc.returncode == 86
    c[leader].start()
    c[leader].wait_healthy()
    new, _ = c.wait_leader(min_term=t1 + 1)
    if flag is None:
        wait_status(c, oid, "completed")
        assert len(rows(c, "payment", oid, "charge")) == 1
    else:
        # the offset was committed before the crash: the new leader never sees the event
        def consumed() -> bool:
            status, body = c[new].call("GET", "/saga")
            return status == 200 and body["leading"] and body["offsets"].get(entry, 0) >= 1

        wait_for(consumed, 10, "the new leader to load the committed offset")
        time.sleep(1.0)
        assert order_status(c, oid) == "placed", "the event's effect was lost"
        assert saga(c, oid) is None and rows(c, "payment", oid) == []


# --- HLC, not wall clocks, orders the steps ----------------------------------------


def libfaketime() -> str:
    require_tool("faketime")
    found = glob.glob("/usr/lib/*/faketime/libfaketime.so.1") + glob.glob(
        "/usr/lib/faketime/libfaketime.so.1"
    )
    if not found:
        pytest.skip("needs libfaketime.so.1 (apt-get install libfaketime)")
    return found[0]


def start_skewed(node: Node, offset: str, lib: str) -> None:
    """Restart node under libfaketime: its wall clock is `offset` off (monotonic left alone)."""
    node.terminate()
    out = open(node.data_dir / "stdout.log", "ab")  # noqa: SIM115 - owned by the child
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "LD_PRELOAD": lib,
        "FAKETIME": offset,
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
    }
    node.proc = subprocess.Popen(
        [sys.executable, "-m", "target.node", "--config", str(node.config_path)],
        cwd=REPO,
        stdout=out,
        stderr=subprocess.STDOUT,
        env=env,
    )
    out.close()
    node.stopped = False
    node.wait_healthy()


@pytest.mark.slow
@pytest.mark.parametrize("flag", [None, "wall-clock-order"])
def test_steps_keep_causal_order_across_a_skewed_leader(make_cluster, flag):
    lib = libfaketime()
    c = make_cluster(3, bugs=bugs(flag))
    # Every follower's clock must run at least 30 s behind the leader's, so that
    # whichever follower leads next stamps its steps "earlier" by wall clock.
    # A restart can still move the leadership (a restarted acceptor forgets the
    # lease it granted), hence the loop.
    skew = dict.fromkeys(c.names, 0)
    leader, t1 = c.wait_leader()
    for _ in range(4):
        slow = [n for n in c.names if n != leader and skew[n] > skew[leader] - 30]
        if not slow:
            break
        for name in slow:  # one at a time: each must relearn the lease before the next goes
            skew[name] = skew[leader] - 30
            start_skewed(c[name], f"{skew[name]:+d}s", lib)
            leader, t1 = c.wait_leader()
    else:
        pytest.fail(f"leadership kept moving while skewing clocks: {skew}")
    oid = order_id_avoiding(c, {leader})
    arm(c[leader], "saga", "ship", "stall", seconds=30.0)
    place(c[partition_avoiding(c, {leader})], oid)
    wait_for(
        lambda: (saga(c, oid) or {}).get("steps", {}).get("ship") == "started", 10, "ship to start"
    )
    c[leader].kill()  # the next leader, with a slow clock, finishes the saga
    new, _ = c.wait_leader(exclude=(leader,), min_term=t1 + 1)
    wait_status(c, oid, "completed")
    log = saga(c, oid)["log"]
    by_stamp = [e["seq"] for e in log]
    nodes = {e["node"] for e in log}
    assert nodes == {leader, new}, "the saga's steps came from two leaders"
    assert skew[new] <= skew[leader] - 30
    if flag is None:
        assert by_stamp == sorted(by_stamp), f"stamp order {by_stamp} differs from execution order"
    else:
        assert by_stamp != sorted(by_stamp), (
            "wall-clock stamps from the slow node should sort too early"
        )
        first = next(e for e in log)
        assert first["node"] == new, "a step taken later is stamped before the saga was created"


# --- bad input ---------------------------------------------------------------------


def raw_post(node: Node, path: str, data: bytes) -> tuple[int, dict[str, Any]]:
    import http.client
    import json

    conn = http.client.HTTPConnection(node.host, node.port, timeout=5)
    try:
        conn.request("POST", path, body=data, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"{}")
    finally:
        conn.close()


BAD = [
    ("/orders", {"sku": "s", "qty": 1, "amount": 5}, "order_id"),
    ("/orders", {"order_id": "o", "qty": 1, "amount": 5}, "sku"),
    ("/orders", {"order_id": "o", "sku": "s", "qty": "1", "amount": 5}, "qty"),
    ("/orders", {"order_id": "o", "sku": "s", "qty": 0, "amount": 5}, "qty"),
    ("/orders", {"order_id": "o", "sku": "s", "qty": 1, "amount": -5}, "amount"),
    ("/orders", {"order_id": "o", "sku": "s", "qty": 1, "amount": True}, "amount"),
    ("/orders", {"order_id": "a b/c", "sku": "s", "qty": 1, "amount": 5}, "order_id"),
    ("/payment/charge", {"order_id": "o", "amount": 5, "key": "charge:o", "token": "7"}, "token"),
    ("/payment/charge", {"order_id": "o", "amount": 5, "token": 1}, "key"),
    ("/payment/charge", {"order_id": "o", "key": "charge:o", "token": 1}, "amount"),
    ("/payment/refund", {"order_id": "o", "key": "r", "token": -1}, "token"),
    (
        "/inventory/reserve",
        {"order_id": "o", "sku": "s", "qty": 1.5, "key": "k", "token": 1},
        "qty",
    ),
    ("/shipping/ship", {"order_id": "o", "key": "k", "token": 1, "hlc": "yesterday"}, "hlc"),
    (
        "/admin/fault",
        {"secret": SECRET, "service": "payment", "op": "refund", "kind": "meteor"},
        "kind",
    ),
]


def test_bad_input_is_a_400_naming_the_field_and_nothing_crashes(make_cluster):
    c = make_cluster(3)
    c.wait_leader()
    n = c["n1"]
    for path, body, field in BAD:
        status, reply = n.call("POST", path, body)
        assert status == 400 and reply.get("field") == field, (path, body, status, reply)
        assert "error" in reply
    status, reply = raw_post(n, "/orders", b"{not json")
    assert status == 400 and reply["field"] == "body"
    status, reply = raw_post(n, "/payment/charge", b"[1, 2]")
    assert status == 400 and reply["field"] == "body"
    assert n.call("GET", "/orders/nope")[0] == 404
    assert n.call("POST", "/orders/nope/cancel")[0] == 404
    assert n.call("GET", "/saga/nope")[0] == 404
    assert n.call("GET", "/events?from=x")[0] == 400
    status, reply = n.call(
        "POST",
        "/admin/fault",
        {"secret": "guess", "service": "payment", "op": "refund", "kind": "lost-response"},
    )
    assert status == 403 and reply["field"] == "secret"
    status, reply = n.call(
        "POST", "/orders", {"order_id": "o-1", "sku": "s", "qty": 1, "amount": 5}
    )
    assert status == 201
    status, reply = n.call(
        "POST", "/orders", {"order_id": "o-1", "sku": "s", "qty": 2, "amount": 5}
    )
    assert status == 409 and reply["field"] == "order_id"
    assert all(x.alive() and x.healthy() for x in c)
    wait_status(c, "o-1", "completed")
