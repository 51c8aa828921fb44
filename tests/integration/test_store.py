"""The quorum store with real node processes, real HTTP, SIGKILL and SIGSTOP by pid.

Each flag test runs one fault sequence twice: with the flag the anomaly
appears, with the mechanism on it does not.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from target.store import placement
from tests.integration.target_cluster import Cluster, cluster

pytestmark = pytest.mark.slow

NAMES = ["n1", "n2", "n3"]


def key_homed_on(home: str, prefix: str = "k") -> str:
    """A key whose first replica (its write coordinator) is `home`."""
    return next(k for k in (f"{prefix}{i}" for i in range(1000)) if placement(k, NAMES, 3)[0] == home)


def replica_value(c: Cluster, node: str, key: str):
    status, body = c[node].call("GET", f"/store/replica/get?key={key}")
    assert status == 200, body
    return body["value"]


def wait_replicated(c: Cluster, key: str, value, timeout: float = 5.0) -> None:
    """Wait until every replica holds value (writes go to all n, W only bounds the wait)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(replica_value(c, n, key) == value for n in NAMES):
            return
        time.sleep(0.02)
    raise AssertionError(f"{key}={value!r} not on all replicas: {[replica_value(c, n, key) for n in NAMES]}")


def read(c: Cluster, via: str, key: str):
    status, body = c[via].call("GET", f"/kv/{key}")
    assert status == 200, f"read of {key} via {via}: {status} {body}"
    return body["value"]


def test_acknowledged_write_survives_sigkill_and_every_later_read_returns_it(tmp_path):
    with cluster(tmp_path, 3) as c:
        keys = [f"order:{i}" for i in range(12)]  # homes spread over all three nodes
        assert len({placement(k, NAMES, 3)[0] for k in keys}) == 3
        for i, k in enumerate(keys):
            assert c["n1"].call("PUT", f"/kv/{k}", {"value": {"v": i}})[0] == 200
        c["n3"].kill()
        for via in ("n1", "n2"):
            for i, k in enumerate(keys):
                assert read(c, via, k) == {"v": i}
        # writes still succeed with one replica down (W=2 of 3): for keys homed on n3, its
        # connections are refused (SIGKILL), so the next replica coordinates them.
        for k in keys:
            status, body = c["n2"].call("PUT", f"/kv/{k}", {"value": "after-kill"})
            assert status == 200, body
        c["n3"].start()
        c["n3"].wait_healthy()
        c["n1"].kill()  # now only n2 and n3 remain; n3 missed every "after-kill" write
        for via in ("n2", "n3"):
            for k in keys:
                assert read(c, via, k) == "after-kill"


def stale_read_sequence(c: Cluster) -> tuple[bool, object]:
    """Write with n2, n3 down; restart them; pause the written n1; read via n2."""
    key = key_homed_on("n1")
    assert c["n1"].call("PUT", f"/kv/{key}", {"value": "old"})[0] == 200
    wait_replicated(c, key, "old")
    c["n2"].kill()
    c["n3"].kill()
    status, body = c["n1"].call("PUT", f"/kv/{key}", {"value": "new"})
    acked = status == 200
    assert acked or (status == 503 and body["definite"] is False), body
    c["n2"].start()
    c["n3"].start()
    c["n2"].wait_healthy()
    c["n3"].wait_healthy()
    c.stop("n1")
    try:
        return acked, read(c, "n2", key)
    finally:
        c.cont("n1")


def test_weak_quorum_serves_a_stale_read_of_an_acknowledged_write(tmp_path):
    with cluster(tmp_path, 3, bugs=["weak-quorum"]) as c:
        acked, value = stale_read_sequence(c)
    assert acked and value == "old"


def test_majority_quorum_never_serves_a_stale_read_in_the_same_sequence(tmp_path):
    with cluster(tmp_path, 3) as c:
        acked, value = stale_read_sequence(c)
    assert not (acked and value == "old")
    assert not acked  # W=2 cannot be met with two replicas down: the write fails instead


def write_back_sequence(c: Cluster) -> tuple[object, object]:
    """A version on one replica only (its coordinator died mid-write) is read once via quorum
    {n1, n2}; a later read via quorum {n2, n3} must see it too."""
    key = key_homed_on("n1")
    assert c["n1"].call("PUT", f"/kv/{key}", {"value": "old"})[0] == 200
    wait_replicated(c, key, "old")
    wall, logical, _ = c["n1"].call("GET", "/time")[1]["hlc"]
    status, body = c["n1"].call("POST", "/store/replica/put",
                                {"key": key, "value": "new", "ts": [wall + 1, logical, "n1"]})
    assert status == 200 and body["applied"], body
    c.stop("n3")
    try:
        first = read(c, "n1", key)
    finally:
        c.cont("n3")
    c.stop("n1")
    try:
        later = read(c, "n2", key)
    finally:
        c.cont("n1")
    return first, later


def test_without_write_back_a_later_read_goes_back_in_time(tmp_path):
    with cluster(tmp_path, 3, bugs=["no-write-back"]) as c:
        first, later = write_back_sequence(c)
    assert (first, later) == ("new", "old")


def test_write_back_keeps_a_returned_value_visible(tmp_path):
    with cluster(tmp_path, 3) as c:
        first, later = write_back_sequence(c)
    assert (first, later) == ("new", "new")


def test_cas_over_http_and_bad_input(tmp_path):
    with cluster(tmp_path, 3) as c:
        assert c["n2"].call("POST", "/kv/r/cas", {"expected": None, "new": 1})[0] == 200
        status, body = c["n3"].call("POST", "/kv/r/cas", {"expected": 0, "new": 2})
        assert status == 409 and body["current"] == 1 and body["definite"] is True
        assert c["n1"].call("POST", "/kv/r/cas", {"expected": 1, "new": 2})[0] == 200
        assert read(c, "n3", "r") == 2
        assert c["n1"].call("GET", "/kv/absent")[0] == 404
        status, body = c["n1"].call("POST", "/kv/r/cas", {"new": 3})
        assert status == 400 and body["field"] == "expected"
        status, body = c["n1"].call("POST", "/store/replica/put", {"key": "r", "value": 1, "ts": "x"})
        assert status == 400 and body["field"] == "ts"
        snap = c["n1"].call("GET", "/metrics")[1]
        assert snap["histograms"]["store_read_seconds"]["count"] >= 1
        assert all(n.healthy() for n in c)


def test_concurrent_cas_increments_through_every_node_lose_nothing(tmp_path):
    """cas is atomic although clients use all three coordinators at once."""
    with cluster(tmp_path, 3) as c:
        assert c["n1"].call("PUT", "/kv/counter", {"value": 0})[0] == 200
        wins: list[int] = []

        def client(via: str) -> None:
            for _ in range(15):
                current = read(c, via, "counter")
                status, body = c[via].call("POST", "/kv/counter/cas", {"expected": current, "new": current + 1})
                assert status in (200, 409), body
                if status == 200:
                    wins.append(current)

        threads = [threading.Thread(target=client, args=(n,)) for n in NAMES]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(wins) == list(range(len(wins)))  # each value was incremented exactly once
        assert read(c, "n3", "counter") == len(wins) > 0


def test_node_writes_its_pid_and_stops_cleanly_on_sigterm(tmp_path):
    with cluster(tmp_path, 3) as c:
        n = c["n2"]
        assert (n.data_dir / "node.pid").read_text().strip() == str(n.pid)
        n.signal(signal.SIGTERM)
        assert n.proc is not None and n.proc.wait(timeout=10) == 0
        assert "node n2 stopped cleanly" in n.log()
        assert c["n1"].call("PUT", "/kv/x", {"value": 1})[0] == 200  # the others carry on


def test_bad_config_exits_with_one_line_naming_the_key(tmp_path):
    cfg = tmp_path / "node.json"
    cfg.write_text('{"node": "n1", "port": 7101, "peers": {"n1": "http://127.0.0.1:7101"}, "bugs": ["typo"]}')
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, "-m", "target.node", "--config", str(cfg)], cwd=root,
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [f"{cfg}: key 'bugs': unknown name 'typo'; known: "
                                               "commit-before-effect, fence-after-write, naive-retry, no-write-back, "
                                               "refund-without-key, wall-clock-order, weak-quorum"]


def run_register_clients(c: Cluster, seconds: float, seed: int) -> list:
    """Concurrent read/write/cas clients on 3 keys while a nemesis pauses and kills nodes.

    Returns a Jepsen-style history (a process that got an indefinite answer is
    retired and replaced by a fresh process id, as Jepsen does).
    """
    from harness.core.op import Op
    from target.pool import CallError

    ops: list[Op] = []
    lock = threading.Lock()
    start = time.monotonic_ns()
    stop_at = time.monotonic() + seconds

    def record(process: int, kind: str, f: str, value) -> None:
        with lock:
            ops.append(Op(len(ops), time.monotonic_ns() - start, process, kind, f, value))

    def client(thread: int) -> None:
        import random

        rng = random.Random(seed * 100 + thread)
        process = thread
        while time.monotonic() < stop_at:
            node = c[rng.choice(NAMES)]
            if not node.alive() or node.stopped:
                time.sleep(0.01)
                continue
            key, f = f"reg{rng.randrange(3)}", rng.choice(["read", "write", "cas"])
            if f == "read":
                record(process, "invoke", f, [key, None])
            elif f == "write":
                v = rng.randrange(5)
                record(process, "invoke", f, [key, v])
            else:
                v = [rng.randrange(5), rng.randrange(5)]
                record(process, "invoke", f, [key, v])
            try:
                if f == "read":
                    status, body = node.call("GET", f"/kv/{key}", timeout=2.0)
                    kind, value = ("ok", [key, body.get("value")]) if status in (200, 404) else ("fail", [key, None])
                elif f == "write":
                    status, body = node.call("PUT", f"/kv/{key}", {"value": v}, timeout=2.0)
                    kind, value = ("ok" if status == 200 else "info", [key, v])
                else:
                    status, body = node.call("POST", f"/kv/{key}/cas", {"expected": v[0], "new": v[1]}, timeout=2.0)
                    kind, value = ({200: "ok", 409: "fail"}.get(status, "info"), [key, v])
                assert status != 400 and status != 500, body
            except CallError:
                # a read that got no answer observed nothing; a refused write or cas did not
                # happen, but etcd-register reads a failed cas as "compare failed", so record
                # every unanswered write or cas as info (may or may not have happened).
                kind = "fail" if f == "read" else "info"
                value = [key, None] if f == "read" else [key, v]
            record(process, kind, f, value)
            if kind == "info":
                process += 100

    def nemesis() -> None:
        import random

        rng = random.Random(seed)
        while time.monotonic() < stop_at - 1.0:
            victim = c[rng.choice(NAMES)]
            if rng.random() < 0.5:
                victim.pause()
                time.sleep(rng.uniform(0.3, 1.2))
                victim.resume()
            else:
                victim.kill()
                time.sleep(rng.uniform(0.1, 0.5))
                victim.start()
                victim.wait_healthy()
            time.sleep(rng.uniform(0.2, 0.6))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(6)]
    threads.append(threading.Thread(target=nemesis))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return ops


def test_store_history_under_pauses_and_kills_is_linearizable(tmp_path):
    from checkers.linearizable.checker import LinearizableChecker
    from harness.core.op import History

    with cluster(tmp_path, 3) as c:
        ops = run_register_clients(c, seconds=8.0, seed=3)
    oks = [op for op in ops if op.type == "ok"]
    assert len(oks) > 100 and any(op.f == "cas" for op in oks) and any(op.type == "info" for op in ops)
    result = LinearizableChecker("etcd-register", independent=True, timeout=60).check(None, History(ops), None)
    assert result.valid is True, [a.to_json() for a in result.anomalies][:1]
