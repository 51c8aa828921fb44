"""MetricsScraper against tiny local HTTP servers: one healthy, one down, one hung."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from harness.targets.pipeline.scrape import MetricsScraper

SNAPSHOT = {
    "node": "n1",
    "counters": {"duplicate_key_hits": 2},
    "gauges": {"consumer_lag": 5},
    "histograms": {},
}


class _Metrics(BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self) -> None:  # noqa: N802 - the base class's name
        type(self).hits += 1
        if self.path != "/metrics":
            self.send_error(404)
            return
        body = json.dumps({**SNAPSHOT, "gauges": {"consumer_lag": type(self).hits}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def healthy() -> Iterator[str]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Metrics)
    srv.daemon_threads = True
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()
        t.join(5)


@pytest.fixture
def hung() -> Iterator[str]:
    """Accepts connections (the kernel does, from the backlog) but never answers: a paused node."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    try:
        yield f"http://127.0.0.1:{s.getsockname()[1]}"
    finally:
        s.close()


def _down_url() -> str:
    """A loopback port nobody listens on: connection refused, like a killed node."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}"


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_scrapes_every_node_and_records_down_and_hung_nodes_as_errors(
    tmp_path: Path, healthy: str, hung: str
) -> None:
    urls = {"n1": healthy, "n2": _down_url(), "n3": hung}
    scraper = MetricsScraper(urls, tmp_path, interval=0.2, timeout=0.3)
    began = time.monotonic()
    scraper.start()
    time.sleep(1.1)
    t_stop = time.monotonic()
    scraper.stop()
    assert time.monotonic() - t_stop < 1.5, "stop() must not wait for more than one request timeout"

    ok = _lines(tmp_path / "nodes" / "n1" / "metrics.jsonl")
    assert 3 <= len(ok) <= 8, f"{len(ok)} scrapes of n1 in 1.1 s at 0.2 s"
    assert all(
        r["node"] == "n1" and r["metrics"]["counters"] == {"duplicate_key_hits": 2} for r in ok
    )
    times = [r["time"] for r in ok]
    assert times == sorted(times) and 0 <= times[0] < 0.2 and times[-1] <= time.monotonic() - began
    assert [r["metrics"]["gauges"]["consumer_lag"] for r in ok] == sorted(
        r["metrics"]["gauges"]["consumer_lag"] for r in ok
    )

    down = _lines(tmp_path / "nodes" / "n2" / "metrics.jsonl")
    assert len(down) >= 3 and all("metrics" not in r for r in down)
    assert all(r["error"].startswith(f"GET {urls['n2']}/metrics: ") for r in down)
    assert "refused" in down[0]["error"].lower()

    slow = _lines(tmp_path / "nodes" / "n3" / "metrics.jsonl")
    assert 1 <= len(slow) <= 4  # each attempt waits out its 0.3 s timeout
    assert all(r["error"] == f"GET {urls['n3']}/metrics: timed out after 0.3 s" for r in slow)
    assert scraper.errors == len(down) + len(slow)


def test_times_are_relative_to_the_given_start(tmp_path: Path, healthy: str) -> None:
    start = time.monotonic() - 10.0  # the run began 10 s ago
    with MetricsScraper({"n1": healthy}, tmp_path, interval=0.2, start=start):
        time.sleep(0.3)
    rows = _lines(tmp_path / "nodes" / "n1" / "metrics.jsonl")
    assert rows and all(10.0 <= r["time"] < 11.0 for r in rows)


def test_an_http_error_is_an_error_line(tmp_path: Path, healthy: str) -> None:
    scraper = MetricsScraper(
        {"n1": healthy + "/nothing-here"}, tmp_path, interval=1.0, start=time.monotonic()
    )
    (tmp_path / "nodes" / "n1").mkdir(parents=True)
    row = scraper.scrape_once("n1", healthy + "/nothing-here")
    assert row["error"] == f"GET {healthy}/nothing-here/metrics: HTTP 404 Not Found"
    assert _lines(tmp_path / "nodes" / "n1" / "metrics.jsonl") == [row]


def test_interval_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="interval must be positive"):
        MetricsScraper({}, tmp_path, interval=0)
