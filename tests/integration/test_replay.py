"""`seam test --replay RUN_DIR` on real local nodes: the stored faults come back at their offsets.

The comparison is made here from the two histories alone (``fault_spans`` of
each), not taken from what the replay says about itself, and then checked
against what it said (results.json ``run.replay`` and the command's line).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.core.faults import fault_spans
from tests.integration.test_run_local import (
    assert_well_formed,
    outcome_files,
    run_dirs,
    seam,
    stop_nodes,
)

TOLERANCE_S = 1.0


@pytest.fixture
def results(tmp_path: Path):
    out = tmp_path / "results"
    yield out
    left = stop_nodes(out)
    assert not left, f"node processes still running after the run: {left}"


def _spans(run_dir: Path) -> list:
    return [s for s in fault_spans(assert_well_formed(run_dir)) if not s.failed]


@pytest.mark.slow
def test_a_replay_starts_every_stored_fault_within_a_second_of_its_offset(results: Path, tmp_path: Path) -> None:
    first = seam("test", "--time-limit", "12", "--concurrency", "4", "--nemesis", "pause,kill",
                 "--nemesis-interval", "1.5", "--nemesis-concurrency", "2", "--op-timeout", "2", "--seed", "17",
                 "--results", str(results), "--no-progress", cwd=tmp_path)
    assert first.returncode in (0, 1, 2), first.stderr
    (original,) = run_dirs(results)
    stored = _spans(original)
    assert len(stored) >= 4 and {s.fault for s in stored} == {"pause", "kill"}, stored

    # A different --seed would draw other faults; the replay must not draw at all.
    again = seam("test", "--replay", str(original), "--no-progress", cwd=tmp_path)
    assert again.returncode in (0, 1, 2), again.stderr
    replay = next(d for d in run_dirs(results) if d != original)
    assert replay.parent == original.parent  # next to the stored run
    test = json.loads((replay / "test.json").read_text())
    assert test["seed"] == 17 and test["options"]["nemesis"] == ["pause", "kill"]
    assert test["replay"]["of"] == str(original) and test["replay"]["faults"] == len(stored)

    replayed = _spans(replay)
    pairs = list(zip(stored, replayed, strict=False))
    assert len(replayed) >= len(stored), (len(stored), len(replayed))
    for before, after in pairs:
        assert (before.fault, before.f) == (after.fault, after.f)
        assert abs(after.began - before.began) <= TOLERANCE_S, (before, after)
        if before.fault == "kill":  # a kill names its node in the invoke: the same node again
            assert after.value == before.value

    said = outcome_files(replay)["run"]["replay"]
    assert said["within"] is True and said["missing"] == 0 and said["matched"] == len(stored)
    worst = max(abs(a.began - b.began) for b, a in pairs)
    assert abs(said["max_difference"] - worst) < 0.002
    assert f"replay: {len(stored)}/{len(stored)} faults started again" in again.stdout
    page = (replay / "report.html").read_text()
    assert f"Replay of {original}" in page and f"{len(stored)} of {len(stored)} stored faults started again" in page


def test_replay_refuses_options_that_would_change_the_schedule(results: Path, tmp_path: Path) -> None:
    run = results / "register" / "20260101T000000"
    run.mkdir(parents=True)
    (run / "test.json").write_text(json.dumps({"options": {"workload": "register", "nemesis": ["pause"], "seed": 3}}))
    (run / "history.jsonl").write_text("")
    r = seam("test", "--replay", str(run), "--nemesis", "kill", "--no-progress", cwd=tmp_path, timeout=60)
    assert r.returncode == 3 and "drop --nemesis" in r.stderr, (r.stdout, r.stderr)
    r = seam("test", "--replay", str(run), "--no-progress", cwd=tmp_path, timeout=60)
    assert r.returncode == 3 and "history.jsonl" in r.stderr, (r.stdout, r.stderr)
    assert sorted(p.name for p in (results / "register").iterdir()) == ["20260101T000000"]  # nothing started
