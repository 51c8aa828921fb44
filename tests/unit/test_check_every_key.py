"""Every key is checked by default; --fail-fast keeps the early stop (issue 23)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from harness.cli import cli

FAILING = {"k3", "k11", "k19"}


def history(path: Path) -> Path:
    """24 keys, each written then read; the three in FAILING read a value never written."""
    rows, t = [], 0
    for i in range(24):
        k = f"k{i}"
        seen = 7 if k in FAILING else 1
        for typ, f, value in (("invoke", "write", [k, 1]), ("ok", "write", [k, 1]),
                              ("invoke", "read", [k, None]), ("ok", "read", [k, seen])):
            rows.append({"index": len(rows), "time": t, "process": i, "type": typ, "f": f, "value": value})
            t += 1000
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_three_failing_keys_of_24_are_all_reported(tmp_path):
    r = CliRunner().invoke(cli, ["check", str(history(tmp_path / "h.jsonl")), "--model", "cas-register",
                                 "--independent", "--out", str(tmp_path / "out")])
    assert r.exit_code == 1, r.output
    assert "24 keys: 21 ok, 3 failed)" in r.output
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    keys = {a["details"]["key"] for a in data["anomalies"] if a["kind"] == "nonlinearizable"}
    assert keys == FAILING


def test_fail_fast_stops_at_the_first_failing_key(tmp_path):
    r = CliRunner().invoke(cli, ["check", str(history(tmp_path / "h.jsonl")), "--model", "cas-register",
                                 "--independent", "--fail-fast"])
    assert r.exit_code == 1, r.output
    assert "1 failed" in r.output and "unknown" in r.output
