"""Crash safety: a control process SIGKILLed with a partition, a pause and a skew active.

The control process is a real run (``harness.runner.run_test`` on a
namespace cluster, nodes under libfaketime) in a child Python process; the
only test-only part is its fault schedule, which applies a partition, a
pause and a clock skew and then holds them (the real schedule never has
three faults active at once). Once all three are verifiably in place
(``iptables -S`` shows seam rules, ``/proc/PID/stat`` shows ``T``, the
faketime file is not ``+0s``) the child is SIGKILLed, so nothing of it can
heal. Then either ``seam heal`` or the next ``seam test`` of the same name
must leave no seam rule, no stopped process and no skew.

The dead run's node processes keep running (nobody stopped them); each test
stops them by pid at the end (from the run's seam.log) before the cluster
is torn down.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nemesis.state import outstanding
from tests.conftest import REPO, require_root, require_tool
from tests.integration import cluster_fixture
from tests.integration.test_nemesis_faults import proc_state, until
from tests.integration.test_run_local import run_dirs, seam, stop_nodes

pytestmark = [pytest.mark.root, pytest.mark.netns, pytest.mark.slow]

NAME = "crash"
SKEW = 300

# The child: a real run whose nemesis schedule applies three faults and holds them.
CHILD = f"""
import json, sys
import nemesis.combined as combined
from harness.generator import nemesis, sleep
from harness.runner import run_test
from harness.spec import TestSpec

HOLD = [{{"f": "start-partition", "value": "halves"}},
        {{"f": "start-pause", "value": {{"node": "n1"}}}},
        {{"f": "bump", "value": {{"node": "n2", "seconds": {SKEW}}}}}]

def hold(packages, *, interval, concurrency=1):
    return nemesis([*HOLD, sleep(600)])

combined.schedule = hold
run_test(TestSpec.from_json(json.loads(sys.argv[1])), progress=False, install_sigint=False)
"""


def spec(cluster, tmp_path: Path, **extra) -> dict:
    return {"name": NAME, "workload": "register", "cluster": "netns", "node_count": 3,
            "cluster_prefix": cluster.prefix, "subnet": str(cluster.network),
            "cluster_state": str(tmp_path / "cluster"), "results": str(tmp_path / "results"),
            "nemesis": ["partition", "pause", "clock"], "time_limit": 300, "rate": 20, "concurrency": 3,
            "op_timeout": 1, "seed": 3, "base_port": 7100, **extra}


def seam_rules(remote, nodes) -> dict[str, list[str]]:
    return {n: [line for line in remote.run(n, ["iptables", "-w", "-S"], timeout=30).stdout.splitlines()
                if "seam" in line] for n in nodes}


def completions(run_dir: Path) -> set[str]:
    path = run_dir / "history.jsonl"
    if not path.exists():
        return set()
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]
    return {r["f"] for r in rows if r.get("process") == "nemesis" and r["type"] == "info"}


def crash_with_faults_held(cluster, tmp_path: Path) -> tuple[Path, list[int], Path]:
    """Run the child until the three faults act, SIGKILL it; return (run dir, paused pids, skewed file)."""
    results = tmp_path / "results"
    log = open(tmp_path / "child.log", "wb")  # noqa: SIM115 - closed below
    child = subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(spec(cluster, tmp_path))], cwd=tmp_path,
                             stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        def held():
            dirs = run_dirs(results)
            if not dirs:
                return None
            done = {"start-partition", "start-pause", "bump"} <= completions(dirs[0])
            return dirs[0] if done and child.poll() is None else None

        run_dir = until("partition, pause and skew applied", held, 60, every=0.2)
        faults = outstanding(run_dir / "nemesis.jsonl")
        assert {f.kind for f in faults} == {"partition", "pause", "clock"}, faults
        # Each fault acts right now: rules in the namespaces, a stopped process, a skewed clock file.
        rules = seam_rules(cluster.remote(), [i.name for i in cluster.node_infos()])
        assert any(rules.values()), rules
        pids = [p for f in faults if f.kind == "pause" for p in f.detail["pids"]]
        assert pids and all(proc_state(p) == "T" for p in pids)
        (clock,) = [Path(f.detail["file"]) for f in faults if f.kind == "clock"]
        assert clock.read_text().strip() == f"+{SKEW}s"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        assert child.returncode == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
        log.close()
    assert not (run_dir / "results.json").exists()  # it died without healing or a verdict
    return run_dir, pids, clock


def assert_nothing_left(cluster, pids: list[int], clock: Path) -> None:
    nodes = [i.name for i in cluster.node_infos()]
    assert seam_rules(cluster.remote(), nodes) == {n: [] for n in nodes}
    assert all(proc_state(p) in ("R", "S") for p in pids), {p: proc_state(p) for p in pids}
    assert clock.read_text().strip() == "+0s"


@pytest.fixture
def cluster(tmp_path: Path):
    """A three-node cluster, its run's leftover node processes stopped by pid before it goes."""
    require_root()
    require_tool("ip", "iptables", "faketime")
    with cluster_fixture.running_cluster(tmp_path / "cluster", nodes=3) as c:
        try:
            yield c
        finally:
            left = stop_nodes(tmp_path / "results")
            assert all(proc_state(p) in (None, "Z") for p in left)


def test_seam_heal_undoes_partition_pause_and_skew_left_by_a_killed_run(cluster, tmp_path: Path) -> None:
    run_dir, pids, clock = crash_with_faults_held(cluster, tmp_path)
    results = tmp_path / "results"

    r = seam("heal", "--results", str(results), cwd=tmp_path, timeout=120)

    assert r.returncode == 0, (r.stdout, r.stderr)
    lines = r.stdout.splitlines()
    for kind in ("partition", "pause", "clock"):
        assert any(f"{run_dir}: healed {kind} on " in line for line in lines), lines
    assert lines[-1].startswith("seam heal: healed ")
    assert_nothing_left(cluster, pids, clock)
    assert outstanding(run_dir / "nemesis.jsonl") == []
    # The skewed node's service reads the real clock again.
    url = json.loads((run_dir / "test.json").read_text())["nodes"]["n2"]["url"]
    from harness.targets.pipeline import http_json

    host, port = url.split("://")[1].split(":")
    _, now = http_json(host, int(port), "GET", "/time", timeout=2)
    assert abs(now["wall"] - time.time()) < 1

    again = seam("heal", "--results", str(results), cwd=tmp_path, timeout=60)
    assert again.returncode == 0 and again.stdout.strip() == f"seam heal: nothing to heal under {results}"


def test_the_next_seam_test_of_the_same_name_heals_them_at_start(cluster, tmp_path: Path) -> None:
    first, pids, clock = crash_with_faults_held(cluster, tmp_path)

    # Another base port: the dead run's node processes still hold 7101..7103.
    r = seam("test", "--name", NAME, "--cluster", "netns", "--node-count", "3", "--time-limit", "2",
             "--recovery-time", "0.5", "--rate", "20", "--concurrency", "3", "--seed", "4", "--base-port", "7200",
             "--cluster-prefix", cluster.prefix, "--subnet", str(cluster.network),
             "--cluster-state", str(tmp_path / "cluster"), "--results", str(tmp_path / "results"),
             "--no-progress", cwd=tmp_path, timeout=120)

    assert r.returncode in (0, 1, 2), (r.stdout, r.stderr)
    assert outstanding(first / "nemesis.jsonl") == []
    assert_nothing_left(cluster, pids, clock)
    second = next(d for d in run_dirs(tmp_path / "results") if d != first)
    log = (second / "seam.log").read_text()
    for kind in ("partition", "pause", "clock"):
        assert f"previous run: healed {kind} on" in log, log
