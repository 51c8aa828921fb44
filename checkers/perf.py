"""Latency and throughput per operation and outcome, and the nemesis intervals: data for graphs.

Never a verdict of its own (always valid): it tells the reader how the system
behaved while the faults were on. Latency is completion time minus invoke
time (an ``info`` op's latency is how long the client waited before giving
up); throughput is completions per whole second, per ``f`` and outcome.
``points`` is a uniform sample of at most ``max_points`` ops for scatter
plots, so a million-op history does not make a million-point graph.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from harness.core.op import History
from harness.core.protocols import Test
from harness.core.verdict import CheckResult

NAME = "perf"
QUANTILES = (50, 90, 95, 99)


class PerfChecker:
    name = NAME

    def __init__(self, max_points: int = 20_000):
        self.max_points = max_points

    def check(self, test: Test | None, history: History, artifacts: Path | None) -> CheckResult:
        import numpy as np

        from harness.core.faults import fault_spans

        groups: dict[tuple[str, str], tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
        by_node: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for inv, done, _, _ in history.pairs():
            if done is None:
                continue
            by_node[str(done.extra.get("node") or inv.extra.get("node") or "?")][done.type] += 1
            starts, ends = groups[(inv.f, done.type)]
            starts.append(inv.time)
            ends.append(done.time)
        end_s = max((op.time for op in history), default=0) / 1e9
        latency: dict[str, dict[str, Any]] = {}
        rate: dict[str, dict[str, Any]] = {}
        points: list[list[Any]] = []
        total = sum(len(s) for s, _ in groups.values())
        stride = max(1, -(-total // self.max_points)) if self.max_points else total + 1
        for (f, typ), (starts, ends) in sorted(groups.items()):
            s = np.asarray(starts, dtype=np.int64)
            lat_ms = (np.asarray(ends, dtype=np.int64) - s) / 1e6
            key = f"{f}/{typ}"
            pct = np.percentile(lat_ms, QUANTILES) if len(lat_ms) else [0.0] * len(QUANTILES)
            latency[key] = {
                "f": f,
                "type": typ,
                "count": int(len(lat_ms)),
                "mean_ms": float(lat_ms.mean()) if len(lat_ms) else 0.0,
                "max_ms": float(lat_ms.max()) if len(lat_ms) else 0.0,
                **{f"p{q}_ms": float(v) for q, v in zip(QUANTILES, pct, strict=True)},
            }
            secs = (np.asarray(ends, dtype=np.int64) // 1_000_000_000).astype(np.int64)
            counts = (
                np.bincount(secs, minlength=int(end_s) + 1)
                if len(secs)
                else np.zeros(0, dtype=np.int64)
            )
            rate[key] = {
                "f": f,
                "type": typ,
                "t": list(range(len(counts))),
                "per_second": counts.tolist(),
                "mean_per_second": float(len(secs) / max(end_s, 1e-9)) if end_s else 0.0,
            }
            for i in range(0, len(s), stride):
                points.append([round(float(s[i]) / 1e9, 6), round(float(lat_ms[i]), 3), f, typ])
        points.sort(key=lambda p: p[0])
        stats = {
            "latency": latency,
            # Graph data: the results writer moves "series" into series.json.
            "series": {"rate": rate, "points": points},
            # Which node served each call (the client's ``node`` field): is the load fair?
            "by_node": {n: dict(c) for n, c in sorted(by_node.items())},
            "nemesis": [
                {"f": x.f, "value": x.value, "start": x.began, "end": x.ended if x.ended is not None else end_s,
                 "ops": list(x.ops)}
                for x in fault_spans(history.nemesis_ops)
                if not x.failed
            ],
            "seconds": end_s,
            "ops": total,
        }
        return CheckResult(valid=True, stats=stats)
