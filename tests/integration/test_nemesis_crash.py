"""Crash safety: a control process SIGKILLed with a partition, a pause and a skew active.

The control process is a real run (``harness.runner.run_test`` on a
namespace cluster, nodes with the clock shim) in a child Python process; the
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
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nemesis.state import outstanding
from tests.conftest import REPO, require_root, require_tool
from tests.integration import cluster_fixture
from tests.integration.test_nemesis_faults import proc_state, running, until
from tests.integration.test_run_local import _is_node, node_pids, run_dirs, seam, stop_nodes

pytestmark = [pytest.mark.root, pytest.mark.netns, pytest.mark.slow]

NAME = "crash"
SKEW = 300

# The child: a real run whose nemesis schedule applies the faults in argv[2] and holds them.
CHILD = """
import json, sys
import harness.generator.nemesis_schedule as nemesis_schedule
from harness.generator import nemesis, sleep
from harness.assemble import build_plan
from harness.runner import run_test
from harness.spec import TestSpec

def hold(packages, *, interval, concurrency=1):
    return nemesis([*json.loads(sys.argv[2]), sleep(600)])

nemesis_schedule.schedule = hold
run_test(build_plan(TestSpec.from_json(json.loads(sys.argv[1]))), progress=False, install_sigint=False)
"""

NET_PROC_CLOCK = [{"f": "start-partition", "value": "halves", "fault": "partition", "phase": "start"},
                  {"f": "start-pause", "value": {"node": "n1"}, "fault": "pause", "phase": "start"},
                  {"f": "bump", "value": {"node": "n2", "seconds": SKEW}, "fault": "clock", "phase": "start"}]
KILL_APP = [{"f": "kill", "value": {"node": "n3"}, "fault": "kill", "phase": "start"},
            {"f": "start-app-fault", "value": {"kind": "lost-response", "service": "payment", "op": "refund",
                                               "node": "n1", "count": 0},
             "fault": "lost-response", "phase": "start"}]


def spec(cluster, tmp_path: Path, nemeses: list[str]) -> dict:
    # lost-response acts on payment, which only the orders workload calls (check_applicable)
    workload = "orders" if "lost-response" in nemeses else "register"
    return {"name": NAME, "workload": workload, "cluster": "netns", "node_count": 3,
            "cluster_prefix": cluster.prefix, "subnet": str(cluster.network),
            "cluster_state": str(tmp_path / "cluster"), "results": str(tmp_path / "results"),
            "nemesis": nemeses, "time_limit": 300, "rate": 20, "concurrency": 3,
            "op_timeout": 1, "seed": 3, "base_port": 7100}


def seam_rules(remote, nodes) -> dict[str, list[str]]:
    return {n: [line for line in remote.run(n, ["iptables", "-w", "-S"], timeout=30).stdout.splitlines()
                if "seam" in line] for n in nodes}


def nemesis_completions(run_dir: Path) -> list[dict]:
    path = run_dir / "history.jsonl"
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]
    return [r for r in rows if r.get("process") == "nemesis" and r["type"] == "info"]


def completions(run_dir: Path) -> set[str]:
    return {r["f"] for r in nemesis_completions(run_dir)}


def crash_holding(cluster, tmp_path: Path, nemeses: list[str], hold: list[dict], check) -> Path:
    """Run the child until every op of ``hold`` completed, ``check(run_dir, faults)``, SIGKILL it."""
    results = tmp_path / "results"
    log = open(tmp_path / "child.log", "wb")  # noqa: SIM115 - closed below
    child = subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(spec(cluster, tmp_path, nemeses)),
                              json.dumps(hold)], cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
                             env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        def held():
            assert child.poll() is None, (tmp_path / "child.log").read_text()[-2000:]
            dirs = run_dirs(results)
            return dirs[0] if dirs and {t["f"] for t in hold} <= completions(dirs[0]) else None

        run_dir = until(f"{', '.join(t['f'] for t in hold)} applied", held, 60, every=0.2)
        check(run_dir, outstanding(run_dir / "nemesis.jsonl"))
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        assert child.returncode == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
        log.close()
    assert not (run_dir / "results.json").exists()  # it died without healing or a verdict
    return run_dir


def crash_with_faults_held(cluster, tmp_path: Path) -> tuple[Path, list[int], Path]:
    """A partition, a pause and a skew, each verified in place when the child dies."""
    found: dict = {}

    def check(run_dir: Path, faults) -> None:
        assert {f.kind for f in faults} == {"partition", "pause", "clock"}, faults
        rules = seam_rules(cluster.remote(), [i.name for i in cluster.node_infos()])
        assert any(rules.values()), rules
        # The ledger says which node; what the target paused is in the history's completion,
        # and the skew is in the node's offset file (how the pipeline skews a clock).
        found["pids"] = [p for r in nemesis_completions(run_dir) if r["f"] == "start-pause" for p in r["value"]["pids"]]
        assert found["pids"]
        until("the paused pids stopped (state T)", lambda: all(proc_state(p) == "T" for p in found["pids"]), 2)
        (node,) = [f.node for f in faults if f.kind == "clock"]
        found["clock"] = Path(json.loads((run_dir / "test.json").read_text())["nodes"][node]["workdir"]) / "faketime"
        assert found["clock"].read_text().strip() == f"+{SKEW}s"

    run_dir = crash_holding(cluster, tmp_path, ["partition", "pause", "clock"], NET_PROC_CLOCK, check)
    return run_dir, found["pids"], found["clock"]


def assert_nothing_left(cluster, pids: list[int], clock: Path, *, stopped_by_pid: bool = False) -> None:
    """No rule, no skew, and no paused process: continued, or (``stopped_by_pid``) gone."""
    nodes = [i.name for i in cluster.node_infos()]
    assert seam_rules(cluster.remote(), nodes) == {n: [] for n in nodes}
    if stopped_by_pid:
        until("the paused pids gone", lambda: not any(Path(f"/proc/{p}").exists() for p in pids), 5, every=0.05)
    else:
        until("the paused pids running again", lambda: all(running(p) for p in pids), 2, every=0.01)
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
            stop_nodes(tmp_path / "results")


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
    from harness.targets.pipeline.adapter import http_json

    host, port = url.split("://")[1].split(":")
    _, now = http_json(host, int(port), "GET", "/time", timeout=2)
    assert abs(now["wall"] - time.time()) < 1

    # Idempotent; --stop-nodes then stops the node processes the dead run left, by pid.
    again = seam("heal", "--stop-nodes", "--results", str(results), cwd=tmp_path, timeout=60)
    assert again.returncode == 0, (again.stdout, again.stderr)
    *stops, summary = again.stdout.splitlines()
    assert summary == f"seam heal: nothing to heal under {results}; stopped 3 node process(es)"
    assert len(stops) == 3 and all("left running by the dead run" in line for line in stops)
    assert not [p for p in node_pids(run_dir) if _is_node(p)]


def test_the_next_seam_test_of_the_same_name_heals_them_at_start(cluster, tmp_path: Path) -> None:
    first, pids, clock = crash_with_faults_held(cluster, tmp_path)

    # The same ports: the next run heals, then stops the dead run's nodes that hold them.
    r = seam("test", "--name", NAME, "--cluster", "netns", "--node-count", "3", "--time-limit", "2",
             "--recovery-time", "0.5", "--rate", "20", "--concurrency", "3", "--seed", "4",
             "--cluster-prefix", cluster.prefix, "--subnet", str(cluster.network),
             "--cluster-state", str(tmp_path / "cluster"), "--results", str(tmp_path / "results"),
             "--no-progress", cwd=tmp_path, timeout=120)

    assert r.returncode in (0, 1, 2), (r.stdout, r.stderr)
    assert outstanding(first / "nemesis.jsonl") == []
    assert_nothing_left(cluster, pids, clock, stopped_by_pid=True)
    second = next(d for d in run_dirs(tmp_path / "results") if d != first)
    log = (second / "seam.log").read_text()
    for kind in ("partition", "pause", "clock"):
        assert f"previous run: healed {kind} on" in log, log


def test_seam_heal_restarts_a_killed_node_and_clears_app_faults_of_a_killed_run(cluster, tmp_path: Path) -> None:
    """The faults heal needs the target for: a restart (same run directory) and the admin secret."""
    from harness.targets.pipeline.adapter import http_json

    def node_url(run_dir: Path, node: str) -> tuple[str, int]:
        url = json.loads((run_dir / "test.json").read_text())["nodes"][node]["url"]
        host, port = url.split("://")[1].split(":")
        return host, int(port)

    def check(run_dir: Path, faults) -> None:
        assert {f.kind for f in faults} == {"kill", "app"}, faults
        with pytest.raises(OSError):
            http_json(*node_url(run_dir, "n3"), "GET", "/health", timeout=1)
        _, armed = http_json(*node_url(run_dir, "n1"), "GET", "/admin/faults", timeout=2)
        assert [f["kind"] for f in armed["faults"]] == ["lost-response"]

    run_dir = crash_holding(cluster, tmp_path, ["kill", "lost-response"], KILL_APP, check)
    results = tmp_path / "results"
    killed = {p for n, p in started(run_dir) if n == "n3"}

    r = seam("heal", "--results", str(results), cwd=tmp_path, timeout=120)

    assert r.returncode == 0, (r.stdout, r.stderr)
    assert any(": started n3: pid " in line for line in r.stdout.splitlines()), r.stdout
    status, body = http_json(*node_url(run_dir, "n3"), "GET", "/health", timeout=2)
    assert status == 200 and body["pid"] not in killed  # a new process serves n3
    assert pid_file(run_dir, "n3") == body["pid"]  # so `seam heal --stop-nodes` can find and stop it
    _, armed = http_json(*node_url(run_dir, "n1"), "GET", "/admin/faults", timeout=2)
    assert armed["faults"] == []
    assert outstanding(run_dir / "nemesis.jsonl") == []


def started(run_dir: Path) -> list[tuple[str, int]]:
    """(node, pid) of every node process the run's seam.log says was started."""
    text = (run_dir / "seam.log").read_text(encoding="utf-8", errors="replace")
    return [(m.group(1), int(m.group(2))) for m in re.finditer(r"started (\S+): pid (\d+)", text)]


def pid_file(run_dir: Path, node: str) -> int:
    """The pid the node's pid file names (the first of its two lines: pid, marker)."""
    workdir = json.loads((run_dir / "test.json").read_text())["nodes"][node]["workdir"]
    return int((Path(workdir) / "node.pid").read_text().splitlines()[0])


def test_seam_heal_after_the_cluster_was_removed_settles_what_went_with_it(cluster, tmp_path: Path) -> None:
    """`seam cluster down` after the crash: the rules went with the namespaces; heal says so and exits 0."""
    run_dir, pids, clock = crash_with_faults_held(cluster, tmp_path)
    cluster.down()  # also kills every process in the namespaces, the paused one included

    r = seam("heal", "--results", str(tmp_path / "results"), cwd=tmp_path, timeout=60)

    assert r.returncode == 0, (r.stdout, r.stderr)
    lines = r.stdout.splitlines()
    assert any("nothing to undo for partition on" in line and "is gone" in line for line in lines), lines
    # The skew and the pause went with the node too: no process is left to read the
    # offset file or to stay stopped.
    assert any("nothing to undo for clock on n2" in line and "is gone" in line for line in lines), lines
    assert all(proc_state(p) in (None, "Z") for p in pids)
    assert outstanding(run_dir / "nemesis.jsonl") == []
