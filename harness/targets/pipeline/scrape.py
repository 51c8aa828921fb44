"""Scrape every node's ``GET /metrics`` once a second into the run directory.

Each node gets its own daemon thread, so a paused or partitioned node (whose
request hangs until the timeout) never delays the others' samples; a failed
scrape is recorded as an ``error`` line rather than skipped, so the signals
checker and the graphs can tell "the node did not answer" from "no data".
Lines go to ``<out_dir>/nodes/<node>/metrics.jsonl``::

    {"time": 3.02, "node": "n1", "metrics": {"counters": ..., "gauges": ..., "histograms": ...}}
    {"time": 4.02, "node": "n3", "error": "GET http://10.77.0.13:8000/metrics: timed out after 1 s"}

``time`` is seconds since ``start`` (a ``time.monotonic()`` value; the
history's time zero when the runner passes the interpreter's epoch), so
metrics and ops share one time axis. Requests bypass any HTTP proxy set in
the environment: the nodes are on loopback or Seam's own bridge.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

__all__ = ["MetricsScraper", "fetch_metrics"]

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
#: Largest body accepted from /metrics (a snapshot is a few KiB).
MAX_BODY = 4 << 20


def fetch_metrics(url: str, timeout: float) -> dict[str, Any]:
    """GET ``<url>/metrics`` as JSON; raises OSError, ValueError or HTTPException."""
    full = url.rstrip("/") + "/metrics"
    with _OPENER.open(full, timeout=timeout) as resp:
        body = resp.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        raise ValueError(f"GET {full}: body larger than {MAX_BODY} bytes")
    data = json.loads(body)
    if not isinstance(data, dict):
        raise ValueError(f"GET {full}: expected a JSON object, got {type(data).__name__}")
    return data


def _reason(url: str, e: BaseException, timeout: float) -> str:
    full = url.rstrip("/") + "/metrics"
    if isinstance(e, TimeoutError) or "timed out" in str(e):
        return f"GET {full}: timed out after {timeout:g} s"
    if isinstance(e, urllib.error.HTTPError):
        return f"GET {full}: HTTP {e.code} {e.reason}"
    if isinstance(e, urllib.error.URLError):
        return f"GET {full}: {e.reason}"
    return f"GET {full}: {type(e).__name__}: {e}"


class MetricsScraper:
    """``start()`` scraping ``urls`` ({node: base url}) every ``interval`` s; ``stop()`` ends it.

    Invariants: at most one request per node in flight; every attempt
    writes exactly one line (a snapshot or an error); ``stop()`` returns
    within about ``timeout`` seconds and leaves whole lines only.
    """

    def __init__(
        self,
        urls: dict[str, str],
        out_dir: Path,
        interval: float = 1.0,
        *,
        timeout: float | None = None,
        start: float | None = None,
    ):
        if interval <= 0:
            raise ValueError(f"interval must be positive, got {interval}")
        self.urls = dict(urls)
        self.out_dir = Path(out_dir)
        self.interval = interval
        self.timeout = timeout if timeout is not None else max(0.2, min(2.0, interval))
        self.t0 = start
        self.scrapes = 0
        self.errors = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def path(self, node: str) -> Path:
        return self.out_dir / "nodes" / node / "metrics.jsonl"

    def start(self) -> MetricsScraper:
        if self._threads:
            raise RuntimeError("MetricsScraper.start called twice")
        if self.t0 is None:
            self.t0 = time.monotonic()
        for node, url in self.urls.items():
            self.path(node).parent.mkdir(parents=True, exist_ok=True)
            t = threading.Thread(
                target=self._loop, args=(node, url), name=f"seam-metrics-{node}", daemon=True
            )
            self._threads.append(t)
            t.start()
        return self

    def stop(self) -> None:
        """Stop every thread; waits for an in-flight request up to its timeout. Idempotent."""
        self._stop.set()
        for t in self._threads:
            t.join(self.timeout + 1.0)

    def __enter__(self) -> MetricsScraper:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def scrape_once(self, node: str, url: str) -> dict[str, Any]:
        """One attempt: the line that was written."""
        assert self.t0 is not None
        try:
            snapshot = fetch_metrics(url, self.timeout)
            row: dict[str, Any] = {"time": self._now(), "node": node, "metrics": snapshot}
        except (OSError, ValueError, http.client.HTTPException) as e:
            row = {"time": self._now(), "node": node, "error": _reason(url, e, self.timeout)}
        self._append(node, row)
        return row

    def _now(self) -> float:
        assert self.t0 is not None
        return round(time.monotonic() - self.t0, 3)

    def _loop(self, node: str, url: str) -> None:
        # Ticks are on a fixed grid (t0 + k * interval): a slow scrape skips
        # ticks rather than drifting, so samples of all nodes line up.
        assert self.t0 is not None
        k = 0
        while not self._stop.is_set():
            self.scrape_once(node, url)
            k = max(k + 1, int((time.monotonic() - self.t0) / self.interval) + 1)
            self._stop.wait(max(0.0, self.t0 + k * self.interval - time.monotonic()))

    def _append(self, node: str, row: dict[str, Any]) -> None:
        line = (json.dumps(row, separators=(",", ":"), default=str) + "\n").encode()
        fd = os.open(self.path(node), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
        with self._lock:
            self.scrapes += 1
            self.errors += "error" in row
