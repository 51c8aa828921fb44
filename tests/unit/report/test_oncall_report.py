"""report.html carries a copy of the on-call entry of every anomaly kind and every fired
signal, and links each to it (checkers/runbook.py for_results)."""

from __future__ import annotations

import re
from pathlib import Path

from checkers import runbook
from checkers.report.render import render_run
from tests.unit.report.synthetic import history, results_for, write_run


def _signals_stats() -> dict:
    return {"thresholds": {"consumer_lag": 10, "leader_churn": 1, "duplicate_key_hits": 1.0, "settle": 10},
            "series": {"consumer_lag": {"t": [1, 2, 3], "value": [0, 12, 3]},
                       "leader_churn": {"t": [1, 2], "value": [0, 0]},
                       "retries": {"t": [1], "value": [40]}},
            "faults": []}


def test_fired_signals_are_those_that_reached_their_threshold() -> None:
    doc = {"checkers": {"signals": {"valid": True, "stats": _signals_stats()}}}
    assert runbook.fired_signals(doc) == [{"name": "consumer_lag", "peak": 12, "threshold": 10}]
    assert runbook.fired_signals({"checkers": {}}) == []


def test_every_anomaly_kind_and_fired_signal_links_to_a_copy_of_its_entry(tmp_path: Path) -> None:
    doc = results_for(history())
    doc["checkers"]["signals"] = {"valid": True, "anomalies": [], "stats": _signals_stats(), "files": [],
                                  "error": None}
    run = write_run(tmp_path / "results", results=doc)
    render_run(run)
    html = (run / "report.html").read_text()
    kinds, signals = runbook.by_kind(), runbook.by_signal()
    for name, anchor in (("duplicate-effect", kinds["duplicate-effect"].anchor),
                         ("stale-read", kinds["stale-read"].anchor),
                         ("consumer_lag", signals["consumer_lag"].anchor)):
        assert f'href="#{anchor}"' in html, f"{name}: no link"
        section = re.search(rf'<section class="oncall" id="{anchor}">(.*?)</section>', html, re.S)
        assert section, f"{name}: no copy of its entry in the report"
        assert "Verify the fix." in section.group(1) and "seam test" in section.group(1)
    # Only what this run shows: a signal that never fired has no copy.
    assert f'id="{signals["leader_churn"].anchor}"' not in html
