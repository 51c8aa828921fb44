"""A `seam test` killed with SIGKILL keeps every op it recorded, and `seam check` reads it."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from tests.integration.test_run_local import (
    assert_prefix_lines,
    run_dirs,
    seam,
    seam_popen,
    stop_nodes,
)


@pytest.fixture
def results(tmp_path: Path):
    out = tmp_path / "results"
    yield out
    # SIGKILL leaves the nodes running: this is the cleanup the dead run never did.
    stop_nodes(out)


def _wait_for_history(results: Path, min_bytes: int, seconds: float) -> Path:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = list(results.glob("register/*/history.jsonl"))
        if found and found[0].stat().st_size >= min_bytes:
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"no history of {min_bytes} bytes under {results} after {seconds}s")


@pytest.mark.slow
def test_sigkill_keeps_every_recorded_op_and_seam_check_reads_it(results: Path, tmp_path: Path) -> None:
    proc = seam_popen("test", "--time-limit", "120", "--rate", "0", "--concurrency", "8", "--seed", "3",
                      "--results", str(results), "--no-progress", cwd=tmp_path)
    try:
        history = _wait_for_history(results, 40_000, 60)
        before = history.read_bytes()  # what was on disk while the run was alive
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    after = history.read_bytes()
    assert after.startswith(before), "ops on disk before the kill were lost or rewritten"
    rows = assert_prefix_lines(after)
    assert len(rows) >= before.count(b"\n") > 100
    (run_dir,) = run_dirs(results)
    assert not (run_dir / "results.json").exists()  # the run never got to a verdict

    r = seam("check", str(run_dir), cwd=tmp_path, timeout=120)
    assert r.returncode in (0, 1, 2), (r.stdout, r.stderr)


def test_a_history_cut_mid_line_is_one_line_and_exit_3(tmp_path: Path) -> None:
    # A torn line in the middle can only come from outside Seam (an editor, a bad copy):
    # `seam check` names the file and line instead of guessing.
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    ops = [{"index": 0, "time": 1, "process": 0, "type": "invoke", "f": "write", "value": ["k", 1]},
           {"index": 1, "time": 2, "process": 0, "type": "ok", "f": "write", "value": ["k", 1]},
           {"index": 2, "time": 3, "process": 1, "type": "invoke", "f": "read", "value": ["k", None]},
           {"index": 3, "time": 4, "process": 1, "type": "ok", "f": "read", "value": ["k", 1]}]
    lines = [json.dumps(o) for o in ops]
    lines[1] = lines[1][:25]
    (run_dir / "history.jsonl").write_text("\n".join(lines) + "\n")
    r = seam("check", str(run_dir), cwd=tmp_path, timeout=60)
    assert r.returncode == 3, (r.stdout, r.stderr)
    errors = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and "history.jsonl:2" in errors[0], errors


def _state(pid: int) -> str:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rfind(")") + 2]


@pytest.mark.slow
def test_the_next_run_heals_a_pause_left_by_a_killed_run(results: Path, tmp_path: Path) -> None:
    from nemesis.state import outstanding

    proc = seam_popen("test", "--time-limit", "60", "--nemesis", "pause", "--nemesis-interval", "1", "--seed", "4",
                      "--results", str(results), "--no-progress", cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        paused: list = []
        while time.monotonic() < deadline and not paused:
            for ledger in results.glob("register/*/nemesis.jsonl"):
                # Applied: the row is written before the act and refined with the pids after it;
                # a kill between the two leaves a row that names no process yet.
                paused = [f for f in outstanding(ledger) if f.kind == "pause" and f.detail.get("pids")]
            time.sleep(0.05)
        assert paused, "no pause was applied within 60 s"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    (first,) = run_dirs(results)
    pids = [p for f in outstanding(first / "nemesis.jsonl") for p in f.detail["pids"]]
    assert pids and all(_state(p) == "T" for p in pids)  # left stopped by the dead run

    r = seam("test", "--time-limit", "2", "--results", str(results), "--no-progress", cwd=tmp_path)
    assert r.returncode in (0, 1, 2), r.stderr
    assert outstanding(first / "nemesis.jsonl") == []
    # healed (continued), then stopped by pid because they held this run's ports
    assert all(not Path(f"/proc/{p}").exists() or _state(p) != "T" for p in pids)
    second = [d for d in run_dirs(results) if d != first][0]
    assert "previous run: healed pause" in (second / "seam.log").read_text()
