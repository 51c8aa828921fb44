"""`seam test --test-count 3` on real local nodes: three runs, three seeds, one exit code."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harness.series import aggregate_exit
from tests.integration.test_run_local import outcome_files, run_dirs, seam, stop_nodes


@pytest.fixture
def results(tmp_path: Path):
    out = tmp_path / "results"
    yield out
    left = stop_nodes(out)
    assert not left, f"node processes still running after the runs: {left}"


@pytest.mark.slow
def test_three_runs_three_fresh_seeds_three_directories_and_the_aggregate_exit(results: Path, tmp_path: Path) -> None:
    r = seam("test", "--test-count", "3", "--time-limit", "1", "--concurrency", "4", "--results", str(results),
             "--no-progress", cwd=tmp_path, timeout=300)
    lines = re.findall(r"^run (\d)/3: seed (\d+), (\w+).*, exit (\d), \d+ ops, (\S+)$", r.stdout, re.M)
    assert [n for n, *_ in lines] == ["1", "2", "3"], (r.stdout, r.stderr)
    dirs = run_dirs(results)
    assert len(dirs) == 3 and sorted(str(d) for d in dirs) == sorted(path for *_, path in lines)
    seeds = [int(json.loads((d / "test.json").read_text())["seed"]) for d in dirs]
    assert sorted(seeds) == sorted(int(seed) for _, seed, *_ in lines) and len(set(seeds)) == 3
    codes = [outcome_files(d)["exit_code"] for d in dirs]
    assert sorted(codes) == sorted(int(code) for *_, code, _ in lines)
    assert r.returncode == aggregate_exit(codes), (r.returncode, codes, r.stderr)
    assert "series: 3 runs: " in r.stdout and r.stdout.rstrip().endswith(f"exit {r.returncode}")
