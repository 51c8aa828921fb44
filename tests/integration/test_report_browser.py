"""The report in a real browser (headless Chromium) and the scraper against real nodes.

Chromium is the Debian package ``chromium``; it only ever loads file:// URLs
and pages from a ``seam serve`` on 127.0.0.1, with background networking,
updates and sync turned off, and every call is bounded by a timeout.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from checkers.report.model import NS
from checkers.report.render import render_run
from harness.commands.serve import make_server
from harness.targets.pipeline.scrape import MetricsScraper
from tests.conftest import require_tool
from tests.integration.target_cluster import cluster
from tests.unit.report.synthetic import write_run

pytestmark = pytest.mark.slow

BROWSER_TIMEOUT = 60


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    require_tool("chromium")
    argv = [
        "chromium",
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=BROWSER_TIMEOUT, check=False
    )


#: The probe pages' way out: ``writeProbe(value)`` puts the value, as JSON, in a
#: ``<pre id="probe">``, where ``probe_output`` reads it back from chromium's --dump-dom.
WRITE_PROBE = """function writeProbe(value) {
  const pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify(value);
  document.body.appendChild(pre);
}
"""


def probe_output(p: subprocess.CompletedProcess[str]) -> Any:
    """What a probe page wrote into its ``<pre id="probe">``, read back from chromium's
    --dump-dom (JSON, with the text escaped as HTML: the dump escapes &, < and >)."""
    m = re.search(r'<pre id="probe">(.*?)</pre>', p.stdout, re.S)
    assert m, f"the probe did not run; chromium exit {p.returncode}, stderr:\n{p.stderr[-2000:]}"
    return json.loads(html.unescape(m.group(1)))


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, Path, str]]:
    """(results dir, rendered run, base URL of a seam serve on 127.0.0.1)."""
    results = tmp_path / "results"
    run = write_run(results)
    render_run(run)
    srv = make_server(results, "127.0.0.1", 0)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    try:
        yield results, run, f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()
        t.join(5)


# The probe page loads the report in a same-origin iframe and a graph on its
# own, then writes what the browser actually showed into its DOM for --dump-dom.
PROBE = """<!doctype html><html><body>
<iframe id="f" src="REPORT" width="1200" height="900"></iframe>
<script>
""" + WRITE_PROBE + """const graph = new Image();
const seen = {graph: null};
graph.onload = () => { seen.graph = graph.naturalWidth; };
graph.onerror = () => { seen.graph = -1; };
graph.src = "GRAPH";
document.getElementById("f").onload = () => {
  const d = document.getElementById("f").contentDocument;
  const imgs = [...d.images].map(i => ({src: i.getAttribute("src"), w: i.naturalWidth, done: i.complete}));
  const v = d.querySelector("#verdict");
  setTimeout(() => {
    const out = {verdict: v && v.innerText, visible: v && v.getBoundingClientRect().top, imgs, graph: seen.graph,
                 anomalies: d.querySelectorAll(".anomaly").length};
    writeProbe(out);
  }, 200);
};
</script></body></html>"""


def test_report_in_chromium_shows_the_verdict_and_loaded_graphs(
    served: tuple[Path, Path, str], tmp_path: Path
) -> None:
    results, run, base = served
    rel = run.relative_to(results).as_posix()
    (results / "probe.html").write_text(
        PROBE.replace("REPORT", f"/{rel}/report.html").replace(
            "GRAPH", f"/{rel}/graphs/signals.png"
        )
    )
    p = chromium(
        tmp_path / "profile", "--virtual-time-budget=10000", "--dump-dom", f"{base}/probe.html"
    )
    seen: dict[str, Any] = probe_output(p)
    assert seen["verdict"].startswith("INVALID")
    assert "2 anomalies found" in seen["verdict"]
    assert 0 <= seen["visible"] < 300, "the verdict is not at the top of the page"
    assert seen["anomalies"] == 2
    loaded = {i["src"]: i["w"] for i in seen["imgs"]}
    assert set(loaded) >= {
        "graphs/latency.png",
        "graphs/rate.png",
        "graphs/signals.png",
        "graphs/retries.png",
    }
    assert all(w >= 800 for w in loaded.values()), f"a graph did not load: {loaded}"
    assert seen["graph"] >= 800, "signals.png opened on its own did not load"


def _not_blank(png: Path) -> tuple[float, Any]:
    import matplotlib.image as mpimg
    import numpy as np

    img = mpimg.imread(png)[:, :, :3]
    ink = float((img.mean(axis=2) < 0.97).mean())  # share of pixels that are not (near-)white
    return ink, np.asarray(img)


def test_screenshots_of_the_report_and_a_png_are_not_blank(tmp_path: Path) -> None:
    run = write_run(tmp_path / "results")
    report = render_run(run)
    shot = tmp_path / "report.png"
    p = chromium(
        tmp_path / "profile",
        "--window-size=1280,2200",
        "--hide-scrollbars",
        f"--screenshot={shot}",
        report.as_uri(),
    )
    assert shot.exists(), f"no screenshot; chromium exit {p.returncode}:\n{p.stderr[-2000:]}"
    ink, img = _not_blank(shot)
    assert ink > 0.1, f"the report screenshot is {ink:.1%} non-white: blank?"
    # The INVALID banner's red border is drawn near the top-left, before anything else.
    top = img[:300, :200]
    red = (top[:, :, 0] > 0.6) & (top[:, :, 1] < 0.35) & (top[:, :, 2] < 0.3)
    assert red.sum() > 500, "no red verdict banner at the top of the report"

    # Chromium shows a lone image on black: the image loaded if there is a large
    # white plot area with the green ok-dots of the latency scatter on it.
    graph_shot = tmp_path / "graph.png"
    chromium(
        tmp_path / "profile2",
        "--window-size=1200,900",
        f"--screenshot={graph_shot}",
        (run / "graphs" / "latency.png").as_uri(),
    )
    _, img = _not_blank(graph_shot)
    white = float((img.min(axis=2) > 0.97).mean())
    green = ((img[:, :, 1] - img[:, :, 0] > 0.25) & (img[:, :, 1] - img[:, :, 2] > 0.2)).sum()
    assert white > 0.3, (
        f"latency.png in the browser: only {white:.1%} white, the image did not load"
    )
    assert green > 100, "latency.png in the browser shows no ok points"


def _order(node: Any, n: int) -> dict[str, Any]:
    status, body = node.call(
        "POST", "/orders", {"order_id": f"o{n}", "sku": "sku-1", "qty": 1, "amount": 10}
    )
    return {"status": status, "body": body}


def test_scraper_on_real_nodes_feeds_the_signals_graph(tmp_path: Path) -> None:
    """Three real target nodes, one paused for ~1.5 s: the scraper records the
    pause as timeouts, keeps scraping the others, and the report draws it."""
    run = tmp_path / "results" / "orders" / "20261124T030000"
    run.mkdir(parents=True)
    ops: list[dict[str, Any]] = []
    with cluster(tmp_path / "cluster", 3) as c:
        c.wait_leader()
        t0 = time.monotonic()

        def now() -> int:
            return int((time.monotonic() - t0) * NS)

        def record(process: Any, typ: str, f: str, value: Any = None, **extra: Any) -> None:
            ops.append(
                {
                    "index": len(ops),
                    "time": now(),
                    "process": process,
                    "type": typ,
                    "f": f,
                    "value": value,
                    **extra,
                }
            )

        scraper = MetricsScraper(
            {n.name: n.url for n in c}, run, interval=0.25, timeout=0.4, start=t0
        ).start()
        try:
            for i in range(6):
                record(0, "invoke", "place", f"o{i}")
                got = _order(c["n1"], i)
                record(
                    0, "ok" if got["status"] in (200, 201) else "fail", "place", f"o{i}", node="n1"
                )
                time.sleep(0.1)
            record("nemesis", "invoke", "start-pause", {"node": "n3"})
            c["n3"].pause()
            record("nemesis", "info", "start-pause", {"node": "n3"})
            time.sleep(1.5)
            record("nemesis", "invoke", "stop-pause", {"node": "n3"})
            c["n3"].resume()
            record("nemesis", "info", "stop-pause", {"node": "n3"})
            time.sleep(0.8)
        finally:
            scraper.stop()
    (run / "history.jsonl").write_text("".join(json.dumps(o) + "\n" for o in ops))
    (run / "results.json").write_text(json.dumps({"valid": True, "anomalies": [], "checkers": {}}))

    rows = {
        n: [json.loads(x) for x in (run / "nodes" / n / "metrics.jsonl").read_text().splitlines()]
        for n in ("n1", "n2", "n3")
    }
    assert all(len(r) >= 6 for r in rows.values()), {n: len(r) for n, r in rows.items()}
    assert not any("error" in r for r in rows["n1"] + rows["n2"]), (
        "healthy nodes must not show errors"
    )
    paused = [r for r in rows["n3"] if "error" in r]
    assert paused and all("timed out" in r["error"] for r in paused)
    pause_start = next(o["time"] for o in ops if o["f"] == "start-pause") / NS
    assert all(pause_start - 0.5 <= r["time"] <= pause_start + 2.5 for r in paused)
    leader_terms = {r["metrics"]["gauges"]["election_term"] for r in rows["n1"]}
    assert leader_terms and min(leader_terms) >= 1
    placed = sum(1 for o in ops if o["f"] == "place" and o["type"] == "ok")
    assert placed >= 1
    assert max(r["metrics"]["counters"].get("orders_placed", 0) for r in rows["n1"]) == placed

    html = render_run(run).read_text()
    assert (run / "graphs" / "signals.png").stat().st_size > 20_000
    assert '<img src="graphs/signals.png"' in html and "VALID" in html


# The order a reader meets the groups in, as the browser laid them out (top to bottom).
ORDER_PROBE = """<!doctype html><html><body>
<iframe id="f" src="REPORT" width="1200" height="900"></iframe>
<script>
""" + WRITE_PROBE + """document.getElementById("f").onload = () => {
  const d = document.getElementById("f").contentDocument;
  const groups = [...d.querySelectorAll("section.group")].map(g => ({
    kind: g.querySelector(".kind").innerText,
    top: g.getBoundingClientRect().top,
    explains: [...g.querySelectorAll("details.consequences li")].map(li => li.innerText)}));
  writeProbe({groups, causes: (d.querySelector("#verdict") || {}).innerText});
};
</script></body></html>"""


def test_the_cause_is_read_first_with_its_consequences_under_it(tmp_path: Path) -> None:
    """results.json lists the lost-effects first, as a checker may; the page shows the
    stale-fenced-write that explains them first, with them listed under it."""
    from harness.core.verdict import link_causes
    from tests.unit.report.synthetic import history, results_for

    doc = results_for(history())
    lost = [{"checker": "effects", "kind": "lost-effect", "summary": f"order-{n} charged, never shipped",
             "ops": [], "details": {"order": f"order-{n}"}, "fingerprint": "lost-effect/ship", "history": None}
            for n in (7, 8)]
    stale = {"checker": "fencing", "kind": "stale-fenced-write", "fingerprint": "stale-fenced-write/ship",
             "summary": "shipping@n3 accepted ship:order-7 with token 4 after accepting token 5",
             "ops": [], "details": {"order": "order-7"}, "history": None}
    doc["anomalies"] = [*lost, stale]
    doc["causes"] = link_causes(doc["anomalies"], [{"cause": "stale-fenced-write", "consequence": "lost-effect",
                                                    "on": "order"}])
    results = tmp_path / "results"
    run = write_run(results, results=doc)
    render_run(run)
    (run.parent / "probe.html").write_text(ORDER_PROBE.replace("REPORT", f"{run.name}/report.html"))

    p = chromium(tmp_path / "profile", "--allow-file-access-from-files", "--virtual-time-budget=10000",
                 "--dump-dom", (run.parent / "probe.html").as_uri())

    seen = probe_output(p)
    groups = sorted(seen["groups"], key=lambda g: g["top"])
    assert groups[0]["kind"] == "stale-fenced-write", groups
    assert groups[0]["explains"] == ["order-7 charged, never shipped"], groups[0]
    # order-8 has no cause: it stays a finding of its own, after the cause.
    assert [g["kind"] for g in groups].count("lost-effect") == 1
