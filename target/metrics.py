"""A small metrics registry: counters, gauges, latency histograms.

``snapshot()`` is the JSON served at GET /metrics, ``prometheus()`` the text
format at ``?format=prometheus``. Histograms keep the most recent samples in a
bounded window, so p50/p99 describe current behaviour and memory stays flat.
Collectors are callables run at snapshot time, for values another module
already knows (consumer lag, retry stats, the current term).
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

WINDOW = 2048


def _key(name: str, labels: dict[str, str] | None) -> str:
    if not labels:
        return name
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{name}{{{inner}}}"


def quantile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank quantile of an already sorted list (0.0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


class Histogram:
    def __init__(self, window: int = WINDOW):
        self.samples: deque[float] = deque(maxlen=window)
        self.count = 0
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.samples.append(value)
        self.count += 1
        self.sum += value

    def summary(self) -> dict[str, float]:
        s = sorted(self.samples)
        return {
            "count": self.count,
            "sum": round(self.sum, 6),
            "p50": quantile(s, 0.50),
            "p99": quantile(s, 0.99),
            "max": s[-1] if s else 0.0,
        }


class Metrics:
    """Thread-safe registry. Names are snake_case; labels become ``name{k="v"}``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[str, float] = {}
        self._gauges: dict[str, float] = {}
        self._histograms: dict[str, Histogram] = {}
        self._collectors: list[Callable[[], dict[str, float]]] = []

    def inc(self, name: str, n: float = 1, labels: dict[str, str] | None = None) -> None:
        k = _key(name, labels)
        with self._lock:
            self._counters[k] = self._counters.get(k, 0) + n

    def set(self, name: str, value: float, labels: dict[str, str] | None = None) -> None:
        with self._lock:
            self._gauges[_key(name, labels)] = value

    def observe(self, name: str, value: float, labels: dict[str, str] | None = None) -> None:
        k = _key(name, labels)
        with self._lock:
            self._histograms.setdefault(k, Histogram()).observe(value)

    @contextmanager
    def timer(self, name: str, labels: dict[str, str] | None = None) -> Iterator[None]:
        """Observe the wall time of the block in seconds (also when it raises)."""
        start = time.monotonic()
        try:
            yield
        finally:
            self.observe(name, time.monotonic() - start, labels)

    def collector(self, fn: Callable[[], dict[str, float]]) -> None:
        """Register fn() -> {gauge name: value}, called at every snapshot."""
        with self._lock:
            self._collectors.append(fn)

    def counter(self, name: str, labels: dict[str, str] | None = None) -> float:
        with self._lock:
            return self._counters.get(_key(name, labels), 0)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            counters = dict(self._counters)
            gauges = dict(self._gauges)
            histograms = {k: h.summary() for k, h in self._histograms.items()}
            collectors = list(self._collectors)
        for fn in collectors:
            try:
                gauges.update(fn())
            except Exception as e:  # noqa: BLE001 - one broken collector must not hide the rest
                gauges[f"collector_error{{fn=\"{getattr(fn, '__name__', '?')}\"}}"] = 1
                counters.setdefault("collector_errors", 0)
                counters["collector_errors"] += 1
                del e
        return {"counters": counters, "gauges": gauges, "histograms": histograms}

    def prometheus(self, prefix: str = "seam_") -> str:
        """The Prometheus text exposition format (histograms as summaries)."""
        snap = self.snapshot()
        lines: list[str] = []
        typed: set[str] = set()

        def emit(kind: str, key: str, value: float, suffix: str = "", extra: str = "") -> None:
            name, labels = _split(key)
            metric = _prom_name(prefix + name)
            if metric not in typed:
                typed.add(metric)
                lines.append(f"# TYPE {metric} {kind}")
            all_labels = ",".join(x for x in (labels, extra) if x)
            lines.append(f"{metric}{suffix}{{{all_labels}}} {_fmt(value)}" if all_labels else f"{metric}{suffix} {_fmt(value)}")

        for key, v in sorted(snap["counters"].items()):
            emit("counter", key, v)
        for key, v in sorted(snap["gauges"].items()):
            emit("gauge", key, v)
        for key, h in sorted(snap["histograms"].items()):
            emit("summary", key, h["p50"], extra='quantile="0.5"')
            emit("summary", key, h["p99"], extra='quantile="0.99"')
            emit("summary", key, h["sum"], suffix="_sum")
            emit("summary", key, h["count"], suffix="_count")
        return "\n".join(lines) + "\n"


def _split(key: str) -> tuple[str, str]:
    if "{" in key and key.endswith("}"):
        name, _, rest = key.partition("{")
        return name, rest[:-1]
    return key, ""


def _prom_name(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_:]", "_", name)


def _fmt(value: float) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return repr(float(value))
