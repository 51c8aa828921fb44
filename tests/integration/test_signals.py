"""`seam test` stopped from outside: SIGTERM (as `timeout` and CI send it), SIGHUP, and a
second signal that aborts. Real node processes, real signals, real iptables.

Each case checks what a stopped run must leave: no node process, no stopped
(T-state) process, no iptables rule of Seam's, every fault of the ledger
undone, and a results.json that says how the run ended.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.integration.test_run_local import (
    _is_node,
    assert_well_formed,
    node_pids,
    outcome_files,
    run_dirs,
    seam_popen,
    stop_nodes,
)


def _stopped_processes(marker: str) -> list[str]:
    """Processes in state T (stopped) whose command line mentions ``marker``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if stat[stat.rfind(")") + 2] in "Tt" and marker in cmd:
            found.append(f"{proc.name}: {cmd}")
    return found


def _run_marker(run_dir: Path) -> str:
    """What every node command line of this run contains: its node directory root."""
    nodes = json.loads((run_dir / "test.json").read_text())["nodes"]
    return str(Path(next(iter(nodes.values()))["workdir"]).parent)


def assert_left_nothing(run_dir: Path) -> None:
    from nemesis.state import outstanding

    pids = node_pids(run_dir)
    assert pids, "the run started no node"
    assert not [p for p in pids if _is_node(p)], "node processes still running"
    assert not _stopped_processes(_run_marker(run_dir)), "a node process is left stopped (T state)"
    if (run_dir / "nemesis.jsonl").exists():
        assert outstanding(run_dir / "nemesis.jsonl") == [], "the fault ledger has faults nobody undid"


def _wait_for_fault(run_dir_glob: Path, fault: str, timeout: float = 60) -> Path:
    """Wait until a run's history shows ``fault`` applied and not yet stopped; return the run dir.

    Reads only what each poll added (whole lines): re-reading the whole history ten
    times a second took CPU from the run it waits for on a loaded machine."""
    deadline = time.monotonic() + timeout
    read: dict[Path, int] = {}
    last: dict[Path, dict] = {}
    while time.monotonic() < deadline:
        for hist in run_dir_glob.glob("*/*/history.jsonl"):
            with hist.open("rb") as fh:
                fh.seek(read.get(hist, 0))
                chunk = fh.read()
            whole = chunk[: chunk.rfind(b"\n") + 1]
            read[hist] = read.get(hist, 0) + len(whole)
            for line in whole.splitlines():
                if b'"nemesis"' in line and line.strip().endswith(b"}"):
                    row = json.loads(line)
                    if row.get("process") == "nemesis" and row.get("fault") == fault:
                        last[hist] = row
            mine = last.get(hist)
            if mine and mine["type"] != "invoke" and mine.get("phase") == "start":
                return hist.parent
        time.sleep(0.1)
    raise AssertionError(f"no {fault} fault became active within {timeout}s")


@pytest.fixture
def results(tmp_path: Path):
    out = tmp_path / "results"
    yield out
    left = stop_nodes(out)
    assert not left, f"node processes still running after the run: {left}"


@pytest.mark.root
@pytest.mark.netns
@pytest.mark.slow
def test_timeout_sigterm_on_namespaces_heals_collects_checks_and_leaves_nothing(tmp_path: Path) -> None:
    """`timeout -s TERM 20 seam test --cluster netns ...`: SIGTERM while partitions and pauses
    come and go. The cluster is made beforehand, so its namespaces outlive the run and
    their iptables tables can be read afterwards."""
    if shutil.which("timeout") is None or shutil.which("iptables") is None:
        pytest.skip("needs timeout (coreutils) and iptables")
    from tests.integration.cluster_fixture import running_cluster

    results = tmp_path / "results"
    with running_cluster(tmp_path / "cluster", nodes=5) as cluster:
        try:
            argv = ["timeout", "-s", "TERM", "--preserve-status", "20", sys.executable, "-m", "harness.cli", "test",
                    "--cluster", "netns", "--cluster-prefix", cluster.prefix, "--subnet", str(cluster.network),
                    "--cluster-state", str(cluster.state_dir), "--nemesis", "partition,pause",
                    "--nemesis-interval", "2", "--nemesis-concurrency", "2", "--op-timeout", "2",
                    "--time-limit", "120", "--seed", "4", "--results", str(results), "--no-progress"]
            started = time.monotonic()
            r = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=120,
                               env={**os.environ, "PYTHONPATH": str(REPO)})
            took = time.monotonic() - started
            assert "SIGTERM: stopping the run" in r.stderr, (r.stdout, r.stderr)
            (run_dir,) = run_dirs(results)
            data = outcome_files(run_dir)
            # --preserve-status: timeout exits with seam's own code, the verdict's
            assert r.returncode == data["exit_code"], (r.returncode, data, r.stderr)
            assert data["valid"] in (True, False, "unknown"), data
            assert data["run"]["stopped_by"] == "SIGTERM" and data["run"]["seconds"] < 40  # stopped near 20 s, far from its 120 s limit
            assert took < 60, f"stopping took {took:.0f}s"
            ops = assert_well_formed(run_dir)
            assert {o.f for o in ops if o.process == "nemesis"} & {"start-partition", "start-pause"}
            assert_left_nothing(run_dir)
            for info in cluster.node_infos():
                rules = subprocess.run(["ip", "netns", "exec", info.namespace, "iptables", "-w", "-S"],
                                       capture_output=True, text=True, check=True).stdout
                assert "seam-" not in rules, f"{info.namespace} still has Seam's iptables rules:\n{rules}"
        finally:
            stop_nodes(results)


def _communicate_or_dump(proc: subprocess.Popen, timeout: float) -> tuple[str, str]:
    """``communicate``; a run that does not end in time fails the test with its threads' stacks."""
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGUSR1)  # seam prints every thread's stack
        time.sleep(1)
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"the run did not end within {timeout:g}s; its stderr:\n{err}") from None


@pytest.mark.slow
def test_sighup_stops_the_run_and_still_checks(results: Path, tmp_path: Path) -> None:
    """SIGUSR1 first (stacks to stderr, the run goes on), then SIGHUP."""
    proc = seam_popen("test", "--time-limit", "60", "--concurrency", "4", "--seed", "6", "--results", str(results),
                      "--no-progress", cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(
                h.stat().st_size > 3000 for h in results.glob("register/*/history.jsonl")):
            time.sleep(0.2)
        proc.send_signal(signal.SIGUSR1)
        time.sleep(0.5)
        proc.send_signal(signal.SIGHUP)
        out, err = _communicate_or_dump(proc, timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "most recent call first" in err and "harness/interpreter.py" in err, err  # the SIGUSR1 dump
    assert "SIGHUP: stopping the run" in err, err
    (run_dir,) = run_dirs(results)
    data = outcome_files(run_dir)
    assert proc.returncode == data["exit_code"] and data["valid"] in (True, False, "unknown"), (proc.returncode, data)
    assert data["run"]["stopped_by"] == "SIGHUP" and data["run"]["seconds"] < 30
    assert f"results: {run_dir}" in out
    assert_well_formed(run_dir)
    assert_left_nothing(run_dir)


def _wait_for_teardown(results: Path, timeout: float = 60) -> None:
    """Until the first node process is gone: the teardown loop is stopping the others now."""
    (run_dir,) = run_dirs(results)
    pids = node_pids(run_dir)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(not _is_node(p) for p in pids):
            return
        time.sleep(0.005)
    raise AssertionError("no node was stopped")


@pytest.mark.slow
@pytest.mark.parametrize("when", ["ops in flight", "nodes being torn down"])
def test_a_second_sigterm_aborts_but_still_resumes_and_stops_every_node(when: str, results: Path,
                                                                        tmp_path: Path) -> None:
    """The first SIGTERM lands while a node is paused; the second either while ops to it are
    still in flight or while the scopes unwind (collect, teardown). Either way the run aborts
    without a verdict (exit 3), the heal resumes the paused node, and every node is stopped."""
    proc = seam_popen("test", "--time-limit", "60", "--concurrency", "4", "--seed", "2", "--nemesis", "pause",
                      "--nemesis-interval", "6", "--op-timeout", "4", "--results", str(results), "--no-progress",
                      cwd=tmp_path)
    try:
        _wait_for_fault(results, "pause")
        time.sleep(0.5)  # clients are now waiting on the paused node
        proc.send_signal(signal.SIGTERM)
        first = time.monotonic()
        if when == "nodes being torn down":
            _wait_for_teardown(results)
        time.sleep(max(0.0, first + 0.4 - time.monotonic()))  # past the repeat window: a second request
        proc.send_signal(signal.SIGTERM)
        out, err = _communicate_or_dump(proc, timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 3, (out, err)
    assert "aborted by a second SIGTERM" in err, err
    (run_dir,) = run_dirs(results)
    data = outcome_files(run_dir)
    assert data["valid"] is None and data["exit_code"] == 3 and "second SIGTERM" in data["error"], data
    assert_left_nothing(run_dir)  # the ledger's pause was undone: the heal ran after the abort


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_the_check_cuts_it_short_and_the_log_says_where_it_was(sig: signal.Signals,
                                                                               results: Path, tmp_path: Path) -> None:
    """The nodes are down and the history is saved: one signal ends a check that would run for
    minutes (the folder target's endless checker), without a verdict, and the run log keeps
    the check's innermost frames, the lead to why it was slow."""
    proc = seam_popen("test", "--target", "tests.integration.minitarget", "--workload", "endless-check",
                      "--time-limit", "2", "--node-count", "3", "--rate", "50", "--seed", "3",
                      "--results", str(results), "--no-progress", cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(
                "phase: check" in log.read_text() for log in results.glob("*/*/seam.log")):
            time.sleep(0.2)
        time.sleep(0.5)  # well inside the checker now
        sent = time.monotonic()
        proc.send_signal(sig)
        out, err = _communicate_or_dump(proc, timeout=30)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 3 and took < 10, (proc.returncode, took, err)
    assert f"{sig.name} while checking: the check was cut short" in err, err
    (run_dir,) = run_dirs(results)
    data = outcome_files(run_dir)
    assert data["valid"] is None and "while checking" in data["error"], data
    log = (run_dir / "seam.log").read_text()
    assert "the check was cut short in:" in log and "in check" in log and "minitarget" in log, log[-2000:]
    assert any(json.loads(line)["type"] == "ok" for line in (run_dir / "history.jsonl").read_text().splitlines())
