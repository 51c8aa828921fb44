"""End to end: an `orders` run on namespaces with partitions and pauses, read in a browser.

`seam test -w orders --nemesis partition,pause` on a real namespace cluster
writes report.html and the graphs as the run ends; headless Chromium then
loads the report from `seam serve` and we assert what a person would see:
the verdict at the top and graphs that actually loaded.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from harness.commands.serve import make_server
from tests.conftest import require_root, require_tool
from tests.integration import cluster_fixture
from tests.integration.test_report_browser import PROBE, chromium, probe_output
from tests.integration.test_run_local import run_dirs, seam, stop_nodes

pytestmark = [pytest.mark.root, pytest.mark.netns, pytest.mark.slow]

GRAPHS = {"graphs/latency.png", "graphs/rate.png", "graphs/signals.png", "graphs/retries.png"}


def test_orders_run_with_partitions_and_pauses_renders_a_report_a_browser_shows(tmp_path: Path) -> None:
    require_root()
    require_tool("ip", "iptables", "chromium")
    results = tmp_path / "results"
    with cluster_fixture.running_cluster(tmp_path / "cluster", nodes=5) as cluster:
        try:
            r = seam("test", "-w", "orders", "--cluster", "netns", "--node-count", "5",
                     "--nemesis", "partition,pause", "--nemesis-concurrency", "2", "--nemesis-interval", "2", "--time-limit", "10",
                     "--recovery-time", "8", "--rate", "30", "--concurrency", "5", "--seed", "7",
                     "--cluster-prefix", cluster.prefix, "--subnet", str(cluster.network),
                     "--cluster-state", str(tmp_path / "cluster"), "--results", str(results), "--no-progress",
                     cwd=tmp_path, timeout=240)
            assert r.returncode in (0, 1, 2), (r.stdout, r.stderr)
            (run_dir,) = run_dirs(results)
        finally:
            left = stop_nodes(results)
        assert not left, f"node processes left running: {left}"

    data = json.loads((run_dir / "results.json").read_text())
    fs = {json.loads(line)["f"] for line in (run_dir / "history.jsonl").read_text().splitlines()}
    assert {"start-partition", "start-pause"} <= fs
    assert (run_dir / "report.html").exists()
    assert {p.relative_to(run_dir).as_posix() for p in (run_dir / "graphs").glob("*.png")} >= GRAPHS
    expected = {True: "VALID", False: "INVALID", "unknown": "UNKNOWN"}[data["valid"]]

    srv = make_server(results, "127.0.0.1", 0)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        rel = run_dir.relative_to(results).as_posix()
        (results / "probe.html").write_text(
            PROBE.replace("REPORT", f"/{rel}/report.html").replace("GRAPH", f"/{rel}/graphs/latency.png")
        )
        base = f"http://127.0.0.1:{srv.server_address[1]}"
        p = chromium(tmp_path / "profile", "--virtual-time-budget=10000", "--dump-dom", f"{base}/probe.html")
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)
    seen: dict[str, Any] = probe_output(p)
    assert seen["verdict"].startswith(expected), seen["verdict"]
    assert 0 <= seen["visible"] < 300, "the verdict is not at the top of the page"
    loaded = {i["src"]: i["w"] for i in seen["imgs"]}
    assert set(loaded) >= GRAPHS
    assert all(w >= 400 for w in loaded.values()), f"a graph did not load: {loaded}"
    assert seen["graph"] >= 400, "latency.png opened on its own did not load"
