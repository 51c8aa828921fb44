"""A target is one folder: this folder's miniregister runs under `seam test --target`
with partitions and pauses, and nothing outside the folder knows it exists."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
MODULE = "tests.integration.minitarget"

pytestmark = [pytest.mark.root, pytest.mark.slow]


def _root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def test_nothing_outside_this_folder_names_the_target() -> None:
    """The registry finds it by module path; no Seam source mentions it."""
    hits = [p for top in ("harness", "checkers", "nemesis", "target")
            for p in (REPO / top).rglob("*.py") if "miniregister" in p.read_text() or MODULE in p.read_text()]
    assert hits == []
    from harness.targets import get

    kind = get(MODULE)
    assert kind.name == "miniregister" and set(kind.workloads) == {"register", "endless-check"}


def test_a_local_partition_of_a_target_that_does_not_bind_its_source_is_refused(tmp_path: Path) -> None:
    """On a shared host the rules name 127.0.0.x sources; a node that sends from 127.0.0.1
    would never match, so the partition would claim a cut that never happens."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    r = subprocess.run(
        [sys.executable, "-m", "harness.cli", "test", "--target", MODULE, "--nemesis", "partition",
         "--results", str(tmp_path / "results"), "--no-progress"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )
    assert r.returncode == 3 and "do not send from their own 127.0.0.x address" in r.stderr, r.stderr
    assert not (tmp_path / "results").exists()


def test_seam_test_runs_the_folder_target_with_pauses(tmp_path: Path) -> None:
    results = tmp_path / "results"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    r = subprocess.run(
        [sys.executable, "-m", "harness.cli", "test", "--target", MODULE, "--nemesis", "pause",
         "--nemesis-interval", "1", "--time-limit", "6", "--node-count", "3", "--rate", "50",
         "--results", str(results), "--no-progress", "--seed", "5"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "verdict: VALID" in r.stdout
    run = (results / "latest").resolve()
    test = json.loads((run / "test.json").read_text())
    assert test["target"]["name"] == "miniregister" and test["model"] == f"{MODULE}.model:MiniRegister"
    history = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    faults = {h["f"] for h in history if h["process"] == "nemesis" and h["type"] == "invoke"}
    assert {"start-pause"} <= faults
    ok = [h for h in history if h["process"] != "nemesis" and h["type"] == "ok"]
    assert len(ok) > 50
    assert json.loads((run / "results.json").read_text())["valid"] is True
    assert (run / "report.html").exists()
    # A re-check of the stored run finds the model outside Seam's tree by its path again.
    again = subprocess.run([sys.executable, "-m", "harness.cli", "check", str(run)], cwd=REPO, env=env,
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f'"{MODULE}.model:MiniRegister"' in (run / "results.json").read_text()
    # The nodes' run directories and processes are gone.
    for info in test["nodes"].values():
        assert not Path(info["workdir"]).exists()
