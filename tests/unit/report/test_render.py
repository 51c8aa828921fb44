"""render_run on stored runs of several shapes: report.html, the PNGs and timeline.html."""

from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path
from typing import Any

import pytest

from checkers.report.model import PALETTE, fault_colour, pair_ops
from checkers.report.render import fault_bands, load_run, render_run
from tests.unit.report.synthetic import history, results_for, write_run

PNG = b"\x89PNG\r\n\x1a\n"


def _text(html: str) -> str:
    """The page's visible text, tags dropped, for order and content checks."""
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def _graph(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG, f"{path} is not a PNG"
    assert len(data) > 15_000, f"{path} is only {len(data)} bytes: an empty plot?"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One default run, rendered once for the tests that only read what was drawn."""
    run = write_run(tmp_path_factory.mktemp("default") / "results")
    render_run(run)
    return run


def test_report_puts_the_verdict_first_then_each_anomaly_with_its_ops_then_graphs(
    run: Path,
) -> None:
    html = (run / "report.html").read_text()
    text = _text(html)
    results = json.loads((run / "results.json").read_text())
    dup, stale = results["anomalies"]

    verdict = text.index("INVALID")
    first, second = text.index(dup["summary"]), text.index(stale["summary"])
    graphs = html.index("<img")
    assert verdict < first < second
    assert html.index(stale["summary"]) < graphs
    assert "2 anomalies found: 1 duplicate-effect (effects), 1 stale-read (quorum)" in text
    # Each anomaly lists its named ops (as rows of the ops table) and says what its kind means.
    for a in (dup, stale):
        section = html[html.index(a["summary"]) :]
        section = section[
            : section.find('class="anomaly"', 1)
            if 'class="anomaly"' in section[1:]
            else len(section)
        ]
        for i in a["ops"]:
            assert re.search(rf'<tr class="named"><td>{i}</td>', section), (
                f"op {i} of {a['kind']} not listed"
            )
        assert f"graphs/timeline.html#op-{min(a['ops'])}" in section
    assert "happened more than once for one order" in text
    assert "order-42" in text and "payment" in text


def test_every_graph_is_a_real_png_and_the_report_shows_them(run: Path) -> None:
    html = (run / "report.html").read_text()
    for name in ("latency.png", "rate.png", "signals.png", "retries.png"):
        _graph(run / "graphs" / name)
        assert f'<img src="graphs/{name}"' in html
    assert 'href="graphs/timeline.html"' in html


def test_timeline_marks_the_anomalous_ops_and_shades_the_faults(run: Path) -> None:
    page = (run / "graphs" / "timeline.html").read_text()
    results = json.loads((run / "results.json").read_text())
    marked = {int(i) for i in re.findall(r'<g class="c \w+ anomalous" id="op-(\d+)">', page)}
    named = {i for a in results["anomalies"] for i in a["ops"]}
    pairs = {p.invoke_index: p for p in load_run(run).pairs}
    # every named op is drawn as (part of) a marked call, and nothing else is marked
    assert {i for i in named if any(i in pairs[m].indices for m in marked)} == named
    assert all(named & set(pairs[m].indices) for m in marked)
    for i in named:
        assert f'id="op-{i}"' in page
    assert ">partition</text>" in page and ">pause</text>" in page


def test_unknown_checker_and_unknown_verdict_with_error_still_render(tmp_path: Path) -> None:
    results = {
        "valid": "unknown",
        "anomalies": [
            {
                "checker": "frobnicator",
                "kind": "wobbly-widget",
                "summary": "widget 7 wobbled <b>twice</b>",
                "ops": [4, 999999],
                "details": {"widget": 7},
            }
        ],
        "error": "effects: RuntimeError: ledger n2 unreadable",
        "checkers": {
            "effects": {
                "valid": "unknown",
                "anomalies": [],
                "stats": {},
                "files": [],
                "error": "RuntimeError: ledger n2 unreadable",
            },
            "frobnicator": {
                "valid": True,
                "anomalies": [],
                "stats": {"widgets": {"seen": 12, "odd": 1}},
                "error": None,
            },
            "oddball": [1, 2, 3],
        },
    }
    run = write_run(tmp_path / "results", results=results)
    html = render_run(run).read_text()
    text = _text(html)
    assert text.index("UNKNOWN") < text.index("widget 7 wobbled")
    assert "No verdict: effects: RuntimeError: ledger n2 unreadable" in text
    assert "An anomaly of kind 'wobbly-widget' reported by the frobnicator checker" in text
    assert "widget 7 wobbled <b>twice</b>" in text  # escaped, shown as text
    assert "<b>twice</b>" not in html
    assert "Ops 999999 are not in this run's history" in text
    assert "widgets.seen" in text and "oddball" in text
    _graph(run / "graphs" / "latency.png")


def test_a_failed_run_without_checkers_or_metrics_renders_and_says_why(tmp_path: Path) -> None:
    failed = {
        "valid": None,
        "error": "setup: node n2 unreachable at 10.77.0.12:8000",
        "anomalies": [],
        "run": {"ops": 0, "counts": {}, "failed": True},
    }
    run = write_run(tmp_path / "results", results=failed, metrics=False)
    text = _text(render_run(run).read_text())
    assert text.index("UNKNOWN") < text.index("The run itself failed")
    assert "node n2 unreachable" in text
    assert "no nodes/*/metrics.jsonl" not in text  # a target without metrics gets no note about them
    assert not (run / "graphs" / "signals.png").exists()
    _graph(run / "graphs" / "latency.png")


def test_valid_run_says_so(tmp_path: Path) -> None:
    ok = {
        "valid": True,
        "anomalies": [],
        "checkers": {"linearizable": {"valid": True, "anomalies": [], "stats": {"keys": 3}}},
    }
    run = write_run(tmp_path / "results", results=ok)
    text = _text(render_run(run).read_text())
    assert "VALID" in text and "No anomalies: linearizable found the history valid." in text
    assert "Anomalies" not in text


def test_a_narrative_and_a_checker_png_are_shown(tmp_path: Path) -> None:
    rows = history()
    results = results_for(rows)
    narrative = (
        "A = write 4 completed at op 11.\nHowever B = read returned 1 afterwards: a contradiction."
    )
    results["anomalies"][1] = {
        **results["anomalies"][1],
        "kind": "nonlinearizable",
        "checker": "linearizable",
        "details": {"narrative": narrative, "window": [{"huge": 1}] * 50},
    }
    run = write_run(
        tmp_path / "results",
        results={**results, "files": ["linear.html", "linear-1.png", "../outside.png"]},
    )
    (run / "linear.html").write_text("<p>proof</p>")
    (run / "linear-1.png").write_bytes(PNG + b"0" * 100)
    html = render_run(run).read_text()
    assert "<p>A = write 4 completed at op 11.</p>" in html
    assert "<p>However B = read returned 1 afterwards: a contradiction.</p>" in html
    assert "huge" not in html  # bulky explanation data goes to linear.html, not the page
    assert 'href="linear.html"' in html and '<img src="linear-1.png"' in html
    assert "outside.png" not in html


def test_torn_history_is_drawn_from_its_readable_lines(tmp_path: Path) -> None:
    run = write_run(tmp_path / "results")
    with open(run / "history.jsonl", "a") as fh:
        fh.write('{"index": 99999, "time": 1, "process": 0, "type": "invoke", "f": "wri')
    text = _text(render_run(run).read_text())
    assert "INVALID" in text
    _graph(run / "graphs" / "latency.png")


def test_missing_results_json_is_said_not_crashed(tmp_path: Path) -> None:
    run = write_run(tmp_path / "results")
    (run / "results.json").unlink()
    text = _text(render_run(run).read_text())
    assert "UNKNOWN" in text and "No results.json: the run was not checked" in text


def test_render_run_follows_the_latest_link(tmp_path: Path) -> None:
    run = write_run(tmp_path / "results")
    (tmp_path / "results" / "latest").symlink_to(run.relative_to(tmp_path / "results"))
    assert render_run(tmp_path / "results" / "latest") == run.resolve() / "report.html"


def test_not_a_run_is_a_clear_input_error(tmp_path: Path) -> None:
    from harness.core.errors import InputError

    with pytest.raises(InputError, match="not a stored run"):
        render_run(tmp_path)
    with pytest.raises(InputError, match="no such run directory"):
        render_run(tmp_path / "nope")


# -- the shaping functions -----------------------------------------------------


def _op(i: int, t: float, p: Any, typ: str, f: str, value: Any = None, fault: str | None = None,
        phase: str | None = None) -> dict[str, Any]:
    row = {"index": i, "time": int(t * 1e9), "process": p, "type": typ, "f": f, "value": value}
    return row if fault is None else {**row, "fault": fault, "phase": phase}


def test_pair_ops_pairs_by_process_and_keeps_open_calls() -> None:
    ops = [
        _op(0, 0.0, 0, "invoke", "write", 1),
        _op(1, 0.1, 1, "invoke", "read"),
        _op(2, 0.2, "nemesis", "invoke", "start-partition"),
        _op(3, 0.3, 1, "ok", "read", 1),
        _op(4, 0.5, 0, "info", "write", 1),
        _op(5, 0.6, 2, "invoke", "read"),
    ]
    pairs = pair_ops(ops)
    assert [(p.process, p.type, p.indices) for p in pairs] == [
        (0, "info", (0, 4)),
        (1, "ok", (1, 3)),
        (2, "open", (5,)),
    ]
    assert pairs[0].latency == pytest.approx(0.5)
    assert pairs[2].end is None


def test_fault_bands_run_from_applied_to_stop_invoked_and_open_ones_to_the_end() -> None:
    ops = [
        _op(0, 1.0, "nemesis", "invoke", "start-partition", "halves", "partition", "start"),
        _op(1, 1.2, "nemesis", "info", "start-partition", {"n1": ["n2"]}, "partition", "start"),
        _op(2, 2.0, "nemesis", "invoke", "kill", {"node": "n3"}, "kill", "start"),
        _op(3, 2.1, "nemesis", "info", "kill", {"node": "n3"}, "kill", "start"),
        _op(4, 3.0, "nemesis", "invoke", "stop-partition", None, "partition", "stop"),
        _op(5, 3.1, "nemesis", "info", "stop-partition", None, "partition", "stop"),
        _op(6, 4.0, "nemesis", "invoke", "strobe", {"node": "n1"}, "strobe", "pulse"),
        _op(7, 4.5, "nemesis", "info", "strobe", {"node": "n1"}, "strobe", "pulse"),
        _op(8, 5.0, "nemesis", "invoke", "start-loss", {"probability": 0.3}, "loss", "start"),
        _op(9, 5.1, "nemesis", "fail", "start-loss", {"probability": 0.3}, "loss", "start"),
    ]
    bands = fault_bands(ops, {"partition": {"colour": "#123456"}})
    assert [(b.kind, b.start, b.end) for b in bands] == [
        ("partition", 1.2, 3.0),
        ("kill", 2.1, None),
        ("strobe", 4.0, 4.5),  # a pulse: from its invoke to its completion
    ]
    assert bands[0].value == {"n1": ["n2"]}
    assert [b.op for b in bands] == [0, 2, 6]  # the loss that failed to start is no fault
    # test.json's colour when it has one; otherwise the palette, the same colour for a name every time
    assert bands[0].colour == "#123456"
    assert bands[1].colour == fault_colour("kill") == fault_colour("kill", {})
    assert bands[1].colour in PALETTE


def test_a_fault_started_again_while_on_is_one_band() -> None:
    ops = [
        _op(0, 1.0, "nemesis", "invoke", "start-pause", None, "pause", "start"),
        _op(1, 1.1, "nemesis", "info", "start-pause", None, "pause", "start"),
        _op(2, 2.0, "nemesis", "invoke", "start-pause", None, "pause", "start"),
        _op(3, 2.1, "nemesis", "info", "start-pause", None, "pause", "start"),
        _op(4, 3.0, "nemesis", "invoke", "stop-pause", None, "pause", "stop"),
        _op(5, 3.1, "nemesis", "info", "stop-pause", None, "pause", "stop"),
    ]
    assert [(b.kind, b.start, b.end) for b in fault_bands(ops)] == [("pause", 1.1, 3.0)]


def test_load_run_reads_the_scrapers_lines(run: Path) -> None:
    data = load_run(run)
    assert sorted(data.metrics) == ["n1", "n2", "n3"]
    assert any("error" in r for r in data.metrics["n3"])
    assert len(data.bands) == 2 and len(data.pairs) > 300
    assert [(b.kind, b.colour) for b in data.bands] == [("partition", "#e15759"), ("pause", "#4e79a7")]


def test_faults_table_says_which_signal_crossed_first(tmp_path: Path) -> None:
    rows = history()
    start = next(r["index"] for r in rows if r["f"] == "start-partition")
    results = results_for(rows)
    results["checkers"]["signals"] = {
        "valid": True,
        "anomalies": [],
        "stats": {
            "thresholds": {"consumer_lag": 10, "quorum_write_p99": 0.5},
            "faults": [
                {
                    "f": "start-partition",
                    "ops": [start],
                    "first": "consumer_lag",
                    "after_seconds": 0.05,
                    "crossings": {
                        "consumer_lag": 0.05,
                        "retry_budget": 1.05,
                        "quorum_read_p99": None,
                    },
                    "already_above": ["leader_churn"],
                }
            ],
        },
    }
    run = write_run(tmp_path / "results", results=results)
    text = _text(render_run(run).read_text())
    assert (
        "consumer_lag first, 0.05 s after the fault began; then retry_budget +1.05 s "
        "(already above before it: leader_churn)" in text
    )
    assert "no signal crossed its threshold" not in text  # the pause has no attribution row
    _graph(run / "graphs" / "signals.png")


def test_a_runner_results_json_with_a_real_nonlinearizable_anomaly(tmp_path: Path) -> None:
    """The runner's shape (composed result, ``stats`` renamed ``checkers``) from the real
    linearizability checker: the narrative is shown and its timeline drawn."""
    from checkers.compose import compose
    from checkers.linearizable.checker import LinearizableChecker
    from harness.formats import load

    run = tmp_path / "results" / "register" / "20261124T030000"
    run.mkdir(parents=True)
    rows = [
        _op(0, 0.0, 0, "invoke", "write", 1),
        _op(1, 0.1, 0, "ok", "write", 1),
        _op(2, 0.2, 1, "invoke", "write", 4),
        _op(3, 0.3, 1, "ok", "write", 4),
        _op(4, 0.4, 2, "invoke", "read"),
        _op(5, 0.5, 2, "ok", "read", 1),
    ]
    (run / "history.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    checker = compose({"linearizable": LinearizableChecker("register")})
    result = checker.check(None, load(str(run / "history.jsonl"), "jsonl"), run)
    doc = result.to_json()
    doc["checkers"] = doc.pop("stats")
    (run / "results.json").write_text(json.dumps(doc, default=str))

    html = render_run(run).read_text()
    text = _text(html)
    assert text.index("INVALID") < text.index("1 nonlinearizable (linearizable)")
    narrative = result.anomalies[0].details["narrative"].split("\n")[0]
    assert narrative and narrative in text
    assert (run / "graphs" / "linear.html").exists()
    assert '<img src="graphs/linear-1.png"' in html and 'href="graphs/linear.html"' in html
    _graph(run / "graphs" / "latency.png")


def test_many_instances_of_one_bug_do_not_bury_another(tmp_path: Path) -> None:
    rows = history()
    oks = [r["index"] for r in rows if r["type"] == "ok" and r["process"] != "nemesis"]
    lost = [
        {
            "checker": "effects",
            "kind": "lost-effect",
            "summary": f"order-{n}: acknowledged but never finished",
            "ops": [oks[n]],
            "fingerprint": "lost-effect/order",
        }
        for n in range(40)
    ]
    stale = {
        "checker": "fencing",
        "kind": "stale-fenced-write",
        "summary": "payment accepted token 3 after 5",
        "ops": [oks[50]],
    }
    results = {"valid": False, "anomalies": [*lost, stale], "checkers": {}}
    run = write_run(tmp_path / "results", results=results)
    html = render_run(run).read_text()
    full = re.findall(
        r'<section class="anomaly" id="anomaly-(\d+)">\s*<h3>\d+\. ([^<]*)</h3>', html
    )
    assert [s for _, s in full] == [
        lost[0]["summary"],
        lost[1]["summary"],
        lost[2]["summary"],
        stale["summary"],
    ]
    assert "37 more lost-effect like these" in html
    assert f"<li>{lost[39]['summary']} · ops {oks[39]}" in html
    assert html.index(lost[39]["summary"]) < html.index(stale["summary"]) < html.index("<img")


def test_the_report_shows_the_scenario_its_evidence_and_the_load_per_node(tmp_path: Path) -> None:
    """A scenario's run names it with its proof; perf's by_node becomes the per-node table;
    a VALID run whose only anomaly is a warning says so under the verdict."""
    rows = history()
    alert = {"checker": "signals", "kind": "duplicate-key-alert", "summary": "5 hits", "ops": [],
             "details": {}, "fingerprint": "duplicate-key-alert", "history": None, "severity": "warning"}
    results = {"valid": True, "anomalies": [alert], "files": [], "error": None, "checkers": {
        "perf": {"valid": True, "anomalies": [], "stats": {"by_node": {"n1": {"ok": 7, "fail": 1}, "n2": {"ok": 8}}}},
        "fencing": {"valid": True, "anomalies": [], "stats": {"rejected": [
            {"node": "n3", "ledger": "shipping", "key": "ship:order-9", "token": 2, "highest": 6}]}},
        "signals": {"valid": True, "anomalies": [alert], "stats": {}},
    }, "run": {"ops": len(rows), "counts": {}, "seconds": 8.0, "interrupted": False}}
    run = write_run(tmp_path, results=results)
    test = json.loads((run / "test.json").read_text())
    test["scenario"] = {"name": "paused-leader", "summary": "a stalled leader", "proof": "fence rejections",
                        "exposes": {"fence-after-write": "stale-fenced-write"}}
    (run / "test.json").write_text(json.dumps(test))
    page = unescape((render_run(run)).read_text())
    assert "Scenario paused-leader" in page and "fence rejections" in page
    assert "n3 shipping: rejected token 2 < 6 for ship:order-9" in page
    table = page.split('<table id="by-node">', 1)[1].split("</table>", 1)[0]
    assert re.findall(r"<td>(n\d)</td><td>(\d+)</td>", table) == [("n1", "8"), ("n2", "8")]
    assert "No safety violation; 1 warning(s)" in page


def test_a_replay_says_how_close_its_faults_came_to_the_stored_runs(tmp_path: Path) -> None:
    """`seam test --replay` records run.replay; a drifted replay is said in red, each fault in a row."""
    rows = history()
    replay = {"of": "results/orders/20261203T101500", "matched": 1, "missing": 1, "extra": 0,
              "max_difference": 1.8, "tolerance": 1.0, "within": False, "faults": [
                  {"fault": "pause", "f": "start-pause", "original": 5.0, "replay": 6.8, "difference": 1.8,
                   "same_value": True},
                  {"fault": "partition", "f": "start-partition", "original": 12.0, "replay": None,
                   "difference": None, "same_value": None}]}
    results = {"valid": True, "anomalies": [], "files": [], "error": None, "checkers": {},
               "run": {"ops": len(rows), "counts": {}, "seconds": 8.0, "interrupted": False, "replay": replay}}
    page = unescape(render_run(write_run(tmp_path, results=results)).read_text())
    assert "Replay of results/orders/20261203T101500" in page
    assert ('<p class="drift">1 of 2 stored faults started again; the largest offset difference is 1.800 s, '
            "NOT within the 1 s tolerance.</p>") in page
    table = page.split('<section id="replay">', 1)[1].split("</table>", 1)[0]
    assert re.findall(r"<tr><td>(\w+)</td><td>([\w-]+)</td><td>([\d.]+)</td><td>([\d.-]+)</td>", table) == [
        ("pause", "start-pause", "5.0", "6.8"), ("partition", "start-partition", "12.0", "-")]


def test_a_run_that_is_no_replay_has_no_replay_section(tmp_path: Path) -> None:
    page = render_run(write_run(tmp_path)).read_text()
    assert 'id="replay"' not in page
