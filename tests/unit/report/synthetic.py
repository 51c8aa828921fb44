"""A small stored run written from scratch, for the report's tests.

``write_run`` lays out ``results/<test>/<stamp>/`` as the runner does
(DESIGN section 5): a history with three client processes and a partition
and a pause from the nemesis, the scraper's ``metrics.jsonl`` for three nodes
(one of which stops answering during the pause), and a ``results.json`` whose
anomalies name ops of that history. Tests change ``results`` to try other
shapes.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

NS = 1_000_000_000
NODES = ("n1", "n2", "n3")


def history(seconds: float = 8.0, seed: int = 7) -> list[dict[str, Any]]:
    """Client reads/writes by 3 processes, a partition 2-4 s, a pause of n3 5-6 s."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    faults = [
        (2.0, "partition", "start-partition", "halves", 4.0, "stop-partition"),
        (5.0, "pause", "start-pause", {"node": "n3"}, 6.0, "stop-pause"),
    ]
    events: list[tuple[float, dict[str, Any]]] = []
    for start, fault, f, value, stop, stop_f in faults:
        begin = {"process": "nemesis", "f": f, "value": value, "fault": fault, "phase": "start"}
        end = {"process": "nemesis", "f": stop_f, "value": None, "fault": fault, "phase": "stop"}
        events.append((start, {**begin, "type": "invoke"}))
        events.append((start + 0.01, {**begin, "type": "info"}))
        events.append((stop, {**end, "type": "invoke"}))
        events.append((stop + 0.01, {**end, "type": "info"}))
    for p in range(3):
        t, process = 0.01 * p, p
        while t < seconds - 0.5:
            f = rng.choice(["read", "write"])
            value = rng.randrange(5) if f == "write" else None
            slow = 2.0 <= t < 4.0
            took = rng.uniform(0.05, 0.4) if slow else rng.uniform(0.002, 0.02)
            typ = (
                "info" if slow and rng.random() < 0.15 else "fail" if rng.random() < 0.05 else "ok"
            )
            out = value if f == "write" else (rng.randrange(5) if typ == "ok" else None)
            node = NODES[process % 3]
            events.append((t, {"process": process, "type": "invoke", "f": f, "value": value}))
            done = {"process": process, "type": typ, "f": f, "value": out, "node": node}
            if typ != "ok":
                done["error"] = "timed out" if typ == "info" else "503: no quorum"
            events.append((t + took, done))
            t += took + rng.uniform(0.01, 0.05)
            if typ == "info":
                process += 3  # a crashed process retires; its thread continues as a new one
    events.sort(key=lambda e: e[0])
    for i, (t, row) in enumerate(events):
        rows.append({"index": i, "time": int(t * NS), **row})
    return rows


def metrics_rows(node: str, seconds: int = 8) -> list[dict[str, Any]]:
    """One scrape a second; n3 does not answer while paused (5-6 s)."""
    rows: list[dict[str, Any]] = []
    first = retries = dup = 0
    k = 1 + NODES.index(node) / 4  # nodes differ a little, so their lines do not hide each other
    for s in range(seconds):
        t = s + 0.05
        if node == "n3" and 5 <= s < 6:
            rows.append(
                {
                    "time": t,
                    "node": node,
                    "error": "GET http://127.0.0.1:1/metrics: timed out after 1 s",
                }
            )
            continue
        partitioned = 2 <= s < 4
        first += 20
        retries += 30 if partitioned else 1
        dup += 2 if partitioned else 0
        rows.append(
            {
                "time": t,
                "node": node,
                "metrics": {
                    "node": node,
                    "counters": {"duplicate_key_hits": dup} if dup else {},
                    "gauges": {
                        "consumer_lag": (40 if partitioned else 1) * k,
                        "election_term": 1 + (s >= 3) + (s >= 6),
                        "retry_first_attempts": first,
                        "retry_retries": retries,
                        "retry_shed_retries": 0,
                        'retry_budget_used_percent{downstream="payment@n2"}': (
                            60.0 if partitioned else 5.0
                        )
                        * k,
                    },
                    "histograms": {
                        "store_write_seconds": {
                            "count": s * 10,
                            "sum": 1.0,
                            "p50": 0.004,
                            "p99": (0.3 if partitioned else 0.012) * k,
                            "max": 0.5,
                        },
                        "store_read_seconds": {
                            "count": s * 30,
                            "sum": 1.0,
                            "p50": 0.002,
                            "p99": (0.2 if partitioned else 0.008) * k,
                            "max": 0.3,
                        },
                    },
                },
            }
        )
    return rows


def results_for(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """An invalid results.json: a duplicate refund and a stale read naming real op indices."""
    oks = [r["index"] for r in rows if r["type"] == "ok" and r["process"] != "nemesis"]
    reads = [r["index"] for r in rows if r["type"] == "ok" and r["f"] == "read"]
    dup = {
        "checker": "effects",
        "kind": "duplicate-effect",
        "summary": "order-42 refunded twice",
        "ops": [oks[3], oks[9]],
        "details": {
            "effect": "refund",
            "order": "order-42",
            "rows": [{"ledger": "payment", "seq": 7}, {"ledger": "payment", "seq": 9}],
        },
        "fingerprint": "duplicate-effect/refund",
        "history": None,
    }
    stale = {
        "checker": "quorum",
        "kind": "stale-read",
        "summary": "read of k1 returned 2 after write 4 was acknowledged",
        "ops": [reads[5], reads[6]],
        "details": {"key": "k1", "replicas": ["n2", "n3"]},
        "fingerprint": "stale-read",
        "history": None,
    }
    return {
        "valid": False,
        "anomalies": [dup, stale],
        "files": [],
        "error": None,
        "checkers": {
            "effects": {
                "valid": False,
                "anomalies": [dup],
                "stats": {"orders": 40, "charges": 38},
                "files": [],
                "error": None,
            },
            "quorum": {
                "valid": False,
                "anomalies": [stale],
                "stats": {"n": 3, "w": 2, "r": 2},
                "files": [],
                "error": None,
            },
        },
        "run": {"ops": len(rows), "counts": {}, "seconds": 8.0, "interrupted": False},
    }


def write_run(
    root: Path,
    *,
    results: dict[str, Any] | None = None,
    metrics: bool = True,
    test: str = "orders",
    stamp: str = "20261124T030000",
) -> Path:
    """Write a run under ``root/<test>/<stamp>``; ``results`` defaults to ``results_for`` the history."""
    run = root / test / stamp
    run.mkdir(parents=True)
    rows = history()
    (run / "history.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (run / "test.json").write_text(
        json.dumps(
            {
                "name": test,
                "start": "2026-11-24T03:00:00",
                "workload": test,
                "options": {"nemesis": ["partition", "pause"]},
                "faults": {
                    "partition": {"colour": "#e15759", "start": "start-partition",
                                  "stop": "stop-partition", "summary": "iptables drops"},
                    "pause": {"colour": "#4e79a7", "start": "start-pause", "stop": "stop-pause",
                              "summary": "SIGSTOP"},
                },
            }
        )
    )
    doc = results_for(rows) if results is None else results
    (run / "results.json").write_text(json.dumps(doc, indent=1))
    if metrics:
        for node in NODES:
            d = run / "nodes" / node
            d.mkdir(parents=True)
            (d / "metrics.jsonl").write_text(
                "".join(json.dumps(r) + "\n" for r in metrics_rows(node))
            )
    return run
