"""`seam check RUN_DIR` of a `--bug weak-quorum` run: the verdict follows the nodes' own reports.

Issue 24's acceptance, through the command a user types: the flag in test.json
is no finding by itself; the nodes' reported N, W, R are.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import cli

TEST_JSON = {"name": "register", "seed": 7, "workload": "register",
             "target": {"name": "pipeline", "bugs": ["weak-quorum"], "replication": [3, 2, 2]},
             "options": {"workload": "register", "bugs": ["weak-quorum"], "seed": 7}}
#: a history with no client op (the CLI refuses a file with no op at all)
EMPTY = [{"index": 0, "time": 1, "process": "nemesis", "type": "info", "f": "start-pause", "value": None}]
CLEAN = [
    {"index": 0, "time": 1, "process": 0, "type": "invoke", "f": "write", "value": ["k", 1]},
    {"index": 1, "time": 2, "process": 0, "type": "ok", "f": "write", "value": ["k", 1], "node": "n1"},
    {"index": 2, "time": 3, "process": 1, "type": "invoke", "f": "read", "value": ["k", None]},
    {"index": 3, "time": 4, "process": 1, "type": "ok", "f": "read", "value": ["k", 1], "node": "n2"},
]


def run_dir(tmp_path: Path, ops: list[dict], reported: tuple[int, int, int] | None) -> Path:
    d = tmp_path / "run"
    d.mkdir(parents=True)
    (d / "test.json").write_text(json.dumps(TEST_JSON))
    (d / "history.jsonl").write_text("".join(json.dumps(op) + "\n" for op in ops))
    for node in ("n1", "n2", "n3"):
        (d / "nodes" / node).mkdir(parents=True)
        gauges = {"store_fsyncs": 1}
        if reported is not None:
            n, w, r = reported
            gauges |= {"store_replicas": n, "store_write_quorum": w, "store_read_quorum": r}
        (d / "nodes" / node / "metrics.json").write_text(
            json.dumps({"node": node, "counters": {}, "gauges": gauges, "histograms": {}}))
    return d


def check(d: Path) -> tuple[int, list[str]]:
    r = CliRunner().invoke(cli, ["check", str(d)], catch_exceptions=False)
    doc = json.loads((d / "results.json").read_text())
    return r.exit_code, [a["kind"] for a in doc["anomalies"] if a.get("severity", "error") == "error"]


@pytest.mark.parametrize("ops", [EMPTY, CLEAN], ids=["empty", "clean"])
def test_no_report_or_overlapping_reports_give_no_error(tmp_path: Path, ops: list[dict]) -> None:
    assert check(run_dir(tmp_path / "silent", ops, None)) == (0, [])
    assert check(run_dir(tmp_path / "majority", ops, (3, 2, 2))) == (0, [])


@pytest.mark.parametrize("ops", [EMPTY, CLEAN], ids=["empty", "clean"])
def test_reports_that_cannot_overlap_are_the_one_error(tmp_path: Path, ops: list[dict]) -> None:
    assert check(run_dir(tmp_path, ops, (3, 1, 1))) == (1, ["weak-quorum-config"])
