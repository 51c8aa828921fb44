"""bench/postgres.py's counting: what a run found comes from results.json, a run with no
results is failed (not clean), and every kind but G2 counts as one snapshot isolation forbids."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "postgres.py"


@pytest.fixture(scope="module")
def bench() -> Any:
    spec = importlib.util.spec_from_file_location("seam_bench_postgres", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def fake_run(monkeypatch: pytest.MonkeyPatch, bench: Any, stdout: str, code: int) -> list[list[str]]:
    seen: list[list[str]] = []

    def run(argv: list[str], **_: Any) -> subprocess.CompletedProcess:
        seen.append(argv)
        return subprocess.CompletedProcess(argv, code, stdout, "seam: setup failed: no postgres\n")

    monkeypatch.setattr(bench.subprocess, "run", run)
    return seen


def test_a_run_reads_every_kind_found_and_the_outcome_counts(bench: Any, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "results.json").write_text(json.dumps(
        {"checkers": {"txn": {"valid": False, "stats": {"found": {"G2-item": 3, "G-single-item": 1}}}}}))
    out = f"verdict: INVALID; 900 ops (ok 800, fail 90, info 10)\nresults: {tmp_path}\n"
    seen = fake_run(monkeypatch, bench, out, 1)
    args = bench._parse(["--time-limit", "5", "--rows", "rr"])
    run = bench.Run("rr", 7)
    bench._execute(run, args)
    assert not run.failed and run.valid is False and run.ops == "800/90/10"
    assert run.found == {"G2-item": 3, "G-single-item": 1}
    assert "isolation=repeatable-read" in seen[0] and seen[0][seen[0].index("--seed") + 1] == "7"


def test_a_run_without_results_is_failed(bench: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_run(monkeypatch, bench, "", 3)
    run = bench.Run("ser", 1)
    bench._execute(run, bench._parse([]))
    assert run.failed and "no postgres" in run.error


def test_forbidden_kinds(bench: Any) -> None:
    for kind in ("G0", "G1a", "G1b", "G1c", "G1c-process", "G-single-item", "G-single-item-realtime",
                 "G-nonadjacent-item", "incompatible-order", "internal"):
        assert bench.FORBIDDEN.match(kind), kind
    for kind in ("G2-item", "G2-item-realtime"):
        assert not bench.FORBIDDEN.match(kind), kind


def test_every_row_runs_by_default(bench: Any) -> None:
    assert [r for r in bench.ROWS if r in bench._parse([]).rows.split(",")] == list(bench.ROWS)


def test_base_port_passes_through_only_when_given(bench: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = fake_run(monkeypatch, bench, "", 3)
    bench._execute(bench.Run("rr", 1), bench._parse(["--base-port", "7700", "--results", "/tmp/x"]))
    bench._execute(bench.Run("ser+kill+pause", 1), bench._parse(["--base-port", "7700"]))
    bench._execute(bench.Run("ser", 1), bench._parse([]))
    with_port, next_row, without = seen
    assert with_port[with_port.index("--base-port") + 1] == "7700"
    assert next_row[next_row.index("--base-port") + 1] == "7720"  # its own ports: the last run's linger
    assert with_port[with_port.index("--results") + 1] == "/tmp/x"
    assert "--base-port" not in without
