"""The pipeline checkers on the REAL pipeline: three target/ node processes on 127.0.0.x.

A lost response on the refund makes the saga re-send it. With its idempotency
key the retry is a replay; with ``--bug refund-without-key`` it lands twice.
The nodes' files are collected into a run directory exactly as the harness
lays it out (``nodes/<node>/`` = the node's data_dir, plus ``metrics.json``
and a ``metrics.jsonl`` from the harness's MetricsScraper, every half second),
and the composed pipeline checkers must find the double refund, and nothing
without the bug.
"""

# ruff: noqa: F811  (make_cluster is a fixture imported from target_cluster)
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from checkers.compose import compose
from harness.core.op import History, Op
from harness.targets.pipeline.checkers import pipeline_checkers
from harness.targets.pipeline.scrape import MetricsScraper
from target.pool import CallError
from target.saga import home
from tests.integration.target_cluster import Cluster, make_cluster  # noqa: F401

SECRET = "test-secret"
pytestmark = pytest.mark.slow


class Recorder:
    """A tiny client history: invoke and completion ops, times in ns since the start."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.ops: list[Op] = []

    def _op(self, process: int | str, typ: str, f: str, value: Any, **extra: Any) -> None:
        t = int((time.monotonic() - self.t0) * 1e9)
        self.ops.append(Op(len(self.ops), t, process, typ, f, value, extra=extra))

    def nemesis(self, f: str, value: Any = None, **extra: Any) -> None:
        self._op("nemesis", "invoke", f, value, **extra)
        self._op("nemesis", "info", f, value, **extra)

    def call(
        self,
        node: Any,
        process: int,
        f: str,
        value: dict[str, Any],
        method: str,
        path: str,
        body: dict[str, Any] | None,
    ) -> tuple[int, dict[str, Any]]:
        self._op(process, "invoke", f, value)
        status, reply = node.call(method, path, body)
        self._op(
            process,
            "ok" if 200 <= status < 300 else "fail",
            f,
            {**value, "result": reply},
            node=node.name,
        )
        return status, reply


def wait_status(c: Cluster, order_id: str, want: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    got = None
    while time.monotonic() < deadline:
        for n in c:
            try:
                status, body = n.call("GET", f"/orders/{order_id}", timeout=2.0)
            except CallError:
                continue
            if status == 200:
                got = body["status"]
                break
        if got == want:
            return
        time.sleep(0.05)
    raise AssertionError(f"order {order_id} is {got!r}, not {want!r} after {timeout}s")


def collect(c: Cluster, run_dir: Path) -> None:
    """What PipelineTarget.collect does: metrics.json, then the data_dir's files into nodes/<node>/."""
    for n in c:
        d = run_dir / "nodes" / n.name
        d.mkdir(parents=True, exist_ok=True)
        status, snap = n.call("GET", "/metrics")
        assert status == 200
        (d / "metrics.json").write_text(json.dumps(snap))
    c.shutdown()
    for n in c:
        shutil.copytree(n.data_dir, run_dir / "nodes" / n.name, dirs_exist_ok=True)


def lost_refund_run(make_cluster: Any, tmp_path: Path, bugs: list[str]) -> tuple[History, Path]:
    c = make_cluster(3, bugs=bugs)
    c.wait_leader()
    run_dir = tmp_path / "run"
    rec = Recorder()
    scraper = MetricsScraper({n.name: n.url for n in c}, run_dir, 0.5, start=rec.t0).start()
    try:
        orders = {"order-7": c["n1"], "order-8": c["n2"]}
        for i, (oid, node) in enumerate(orders.items()):
            v = {"order_id": oid, "sku": "widget", "qty": 2, "amount": 50 + i}
            status, _ = rec.call(node, i, "place", v, "POST", "/orders", v)
            assert status in (200, 201)
        for oid in orders:
            wait_status(c, oid, "completed")
        payment = c[home("order-7", c.names)]
        status, body = payment.call(
            "POST",
            "/admin/fault",
            {
                "secret": SECRET,
                "service": "payment",
                "op": "refund",
                "kind": "lost-response",
                "count": 1,
            },
        )
        assert status == 200, body
        status, _ = rec.call(
            c["n3"], 2, "cancel", {"order_id": "order-7"}, "POST", "/orders/order-7/cancel", {}
        )
        assert status == 202
        wait_status(c, "order-7", "cancelled")
        time.sleep(1.2)  # the final phase: two more scrapes, then a final read
        rec.call(c["n2"], 3, "read", {"order_id": "order-7"}, "GET", "/orders/order-7", None)
    finally:
        scraper.stop()
    collect(c, run_dir)
    return History(rec.ops, source="recorded"), run_dir


def test_real_double_refund_is_found_by_the_effects_checker(make_cluster, tmp_path):
    history, run_dir = lost_refund_run(make_cluster, tmp_path, ["refund-without-key"])
    test = {
        "workload": "orders",
        "bugs": ["refund-without-key"],
        "replication": {"n": 3, "w": 2, "r": 2},
    }
    result = compose(pipeline_checkers(test, grace=1.0)).check(test, history, run_dir)
    assert result.valid is False
    fps = sorted(a.fingerprint for a in result.anomalies)
    assert fps == ["conservation/money", "duplicate-effect/refund"], [
        a.summary for a in result.anomalies
    ]
    dup = next(a for a in result.anomalies if a.kind == "duplicate-effect")
    assert (
        dup.details["order"] == "order-7"
        and dup.details["count"] == 2
        and not dup.details["same_key"]
    )
    assert {r["amount"] for r in dup.details["rows"]} == {50}
    cancel = [o.index for o in history if o.f == "cancel"]
    assert set(cancel) <= set(dup.ops)
    # the other checkers agree nothing else went wrong, and the scraped signals were read
    assert [n for n, r in result.stats.items() if r["valid"] is not True] == ["effects"]
    assert result.stats["signals"]["stats"]["scrapes"]["n1"] >= 3


def test_real_lost_refund_response_with_the_key_is_clean(make_cluster, tmp_path):
    history, run_dir = lost_refund_run(make_cluster, tmp_path, [])
    test = {"workload": "orders", "bugs": [], "replication": {"n": 3, "w": 2, "r": 2}}
    result = compose(pipeline_checkers(test, grace=1.0)).check(test, history, run_dir)
    assert result.valid is True, [a.summary for a in result.anomalies] + [result.error]
    effects = result.stats["effects"]["stats"]
    assert effects["rows"]["refund"] == 1 and effects["outcomes"] == {
        "completed": 1,
        "cancelled": 1,
    }
    totals = sum(
        (
            json.loads((run_dir / "nodes" / n / "metrics.json").read_text())["counters"].get(
                "duplicate_key_hits", 0
            )
        )
        for n in ("n1", "n2", "n3")
    )
    assert totals == 1  # the retried refund was deduplicated: one hit, below the alert


# --- a paused leader's stale write: fenced, or landing with fence-after-write ----------


def paused_leader_run(
    make_cluster: Any, tmp_path: Path, bugs: list[str]
) -> tuple[History, Path, str]:
    """The seed's paused leader: it takes its token for `ship`, is SIGSTOPped, a new leader
    cancels the order (fencing shipping with the new term), then the old one wakes."""
    from tests.integration.test_pipeline import (
        arm,
        order_id_avoiding,
        partition_avoiding,
        saga,
        wait_for,
    )

    c = make_cluster(3, bugs=bugs)
    old, t1 = c.wait_leader()
    oid = order_id_avoiding(c, {old})
    entry = c[partition_avoiding(c, {old})]
    rec = Recorder()
    run_dir = tmp_path / "run"
    scraper = MetricsScraper({n.name: n.url for n in c}, run_dir, 0.5, start=rec.t0).start()
    arm(c[old], "saga", "ship", "stall", seconds=2.0)
    v = {"order_id": oid, "sku": "widget", "qty": 1, "amount": 40}
    rec.call(entry, 0, "place", v, "POST", "/orders", v)
    wait_for(
        lambda: (saga(c, oid) or {}).get("steps", {}).get("ship") == "started", 10, "ship to start"
    )
    rec.nemesis("start-pause", {"nodes": [old]}, fault="pause", phase="start")
    c.stop(old)
    rec.call(entry, 1, "cancel", {"order_id": oid}, "POST", f"/orders/{oid}/cancel", {})
    c.wait_leader(exclude=(old,), min_term=t1 + 1)
    wait_status(c, oid, "cancelled")
    c.cont(old)
    rec.nemesis("stop-pause", {"nodes": [old]}, fault="pause", phase="stop")
    shipping = c[home(oid, c.names)]

    def settled() -> bool:
        body = shipping.call("GET", "/shipping/ledger")[1]
        return any(f["key"] == f"ship:{oid}" for f in body["fence"])

    wait_for(settled, 10, "the old leader's ship to reach the fence")
    time.sleep(0.5)
    rec.call(entry, 2, "read", {"order_id": oid}, "GET", f"/orders/{oid}", None)
    scraper.stop()
    collect(c, run_dir)
    return History(rec.ops, source="recorded"), run_dir, oid


def test_real_paused_leader_is_fenced_and_the_rejection_is_the_proof(make_cluster, tmp_path):
    history, run_dir, oid = paused_leader_run(make_cluster, tmp_path, [])
    result = compose(pipeline_checkers(None, grace=1.0)).check(None, history, run_dir)
    fencing = result.stats["fencing"]
    assert fencing["valid"] is True and fencing["anomalies"] == []
    [rej] = [r for r in fencing["stats"]["rejected"] if r["key"] == f"ship:{oid}"]
    assert rej["ledger"] == "shipping" and rej["token"] < rej["highest"]
    terms = [t["term"] for t in fencing["stats"]["terms"]]
    assert len(set(terms)) >= 2 and rej["token"] in terms
    assert result.stats["effects"]["valid"] is True, result.stats["effects"]["anomalies"]
    # the pause, seen in the scraped signals: a new leader's term is the first crossing
    [pause] = result.stats["signals"]["stats"]["faults"]
    assert pause["f"] == "start-pause" and pause["crossings"]["leader_churn"] is not None
    assert 0 <= pause["crossings"]["leader_churn"] < 10


def test_real_stale_write_with_fence_after_write_is_caught(make_cluster, tmp_path):
    history, run_dir, oid = paused_leader_run(make_cluster, tmp_path, ["fence-after-write"])
    result = compose(pipeline_checkers(None, grace=1.0)).check(None, history, run_dir)
    stale = [a for a in result.anomalies if a.kind == "stale-fenced-write"]
    [a] = stale
    assert a.fingerprint == "stale-fenced-write/ship" and a.details["order"] == oid
    assert a.details["token"] < a.details["highest_before"] and a.details["stale"]["late"] is True
    assert set(a.ops) == {o.index for o in history if o.f in ("place", "cancel")}
    # the composition failure it causes: a cancelled order that shipped anyway
    assert "lost-effect/cancel-ship" in {x.fingerprint for x in result.anomalies}


# --- a skewed new leader: HLC keeps causal order, wall-clock stamps invert it -----------


def skewed_leader_run(make_cluster: Any, tmp_path: Path, bugs: list[str]) -> tuple[History, Path]:
    """As tests/integration/test_pipeline.py: followers' clocks 30 s behind; the leader is killed
    after starting `ship`, and a slow-clocked node finishes the saga."""
    from tests.integration.test_pipeline import (
        arm,
        libfaketime,
        order_id_avoiding,
        partition_avoiding,
        saga,
        start_skewed,
        wait_for,
    )

    lib = libfaketime()
    c = make_cluster(3, bugs=bugs)
    skew = dict.fromkeys(c.names, 0)
    leader, t1 = c.wait_leader()
    for _ in range(4):
        slow = [n for n in c.names if n != leader and skew[n] > skew[leader] - 30]
        if not slow:
            break
        for name in slow:
            skew[name] = skew[leader] - 30
            start_skewed(c[name], f"{skew[name]:+d}s", lib)
            leader, t1 = c.wait_leader()
    else:
        pytest.fail(f"leadership kept moving while skewing clocks: {skew} (its twin in "
                    "tests/integration/test_pipeline.py fails here too)")
    oid = order_id_avoiding(c, {leader})
    rec = Recorder()
    arm(c[leader], "saga", "ship", "stall", seconds=30.0)
    v = {"order_id": oid, "sku": "widget", "qty": 1, "amount": 40}
    rec.call(c[partition_avoiding(c, {leader})], 0, "place", v, "POST", "/orders", v)
    wait_for(
        lambda: (saga(c, oid) or {}).get("steps", {}).get("ship") == "started", 10, "ship to start"
    )
    c[leader].kill()
    c.wait_leader(exclude=(leader,), min_term=t1 + 1)
    wait_status(c, oid, "completed")
    c[leader].start()  # collected like every other node
    c[leader].wait_healthy()
    run_dir = tmp_path / "run"
    collect(c, run_dir)
    return History(rec.ops, source="recorded"), run_dir


def test_real_hlc_keeps_causal_order_and_shows_the_skew(make_cluster, tmp_path):
    history, run_dir = skewed_leader_run(make_cluster, tmp_path, [])
    from checkers.pipeline.causal import CausalChecker

    result = CausalChecker().check(None, history, run_dir)
    assert result.valid is True, [a.summary for a in result.anomalies]
    behind = [d for d in result.stats["wall_disagreements"] if d["behind_seconds"] > 25]
    assert behind and all(d["hlc_ordered"] for d in behind)


def test_real_wall_clock_order_is_a_causal_inversion(make_cluster, tmp_path):
    history, run_dir = skewed_leader_run(make_cluster, tmp_path, ["wall-clock-order"])
    from checkers.pipeline.causal import CausalChecker

    result = CausalChecker().check(None, history, run_dir)
    assert result.valid is False
    kinds = {a.kind for a in result.anomalies}
    assert kinds == {"causal-inversion"}
    a = result.anomalies[0]
    assert a.details["nodes"][0] != a.details["nodes"][1]  # the hand-over between leaders
    assert a.details["stamp_gap_ms"] > 25_000 and a.ops == [0, 1]


# --- retries while payment is down: within the budget, or amplified by naive-retry -------


@pytest.mark.parametrize("flag", [None, "naive-retry"])
def test_real_retry_amplification_is_seen_in_the_metrics(make_cluster, tmp_path, flag):
    from checkers.pipeline.signals import SignalsChecker

    c = make_cluster(3, bugs=[flag] if flag else [])
    leader, _ = c.wait_leader()
    rec = Recorder()
    for n in c:  # every charge call dropped, unapplied
        status, body = n.call(
            "POST",
            "/admin/fault",
            {"secret": SECRET, "service": "payment", "op": "charge", "kind": "down", "count": 0},
        )
        assert status == 200, body
    for i in range(12):
        v = {"order_id": f"order-{i}", "sku": "widget", "qty": 1, "amount": 10}
        rec.call(c[c.names[i % 3]], i, "place", v, "POST", "/orders", v)
    time.sleep(2.0)
    run_dir = tmp_path / "run"
    collect(c, run_dir)
    result = SignalsChecker().check(None, History(rec.ops), run_dir)
    amplified = [a for a in result.anomalies if a.kind == "retry-amplification"]
    if flag is None:
        assert amplified == [], [a.summary for a in amplified]
    else:
        assert [a.details["node"] for a in amplified] == [leader]
        a = amplified[0]
        assert a.details["retries"] > a.details["bound"] and a.details["amplification"] > 1
        assert a.details["budget_floor"] == 10 and a.details["downstreams"]
