"""Redis with Sentinel for real: servers and Sentinels from Debian's packages, on namespaces.

* The control case: one primary, no Sentinel, every write fsynced; the
  primary itself is killed and restarted again and again, and no
  acknowledged add is lost (VALID), while the kills really happened to the
  primary's server (the history names n1 and the pids killed).
* Jepsen's 2013 result: the primary and one replica cut off from the
  majority; the majority's Sentinels promote another replica while the old
  primary goes on acknowledging adds, and those adds are gone after the
  heal: lost-write, found from what the clients read, with the failover
  named from what the nodes said.
* ``seam heal`` after the `seam test` process was SIGKILLed mid-partition
  leaves no redis-server or redis-sentinel of the run and no Seam rule.

Short runs: together about a minute and a half.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import require_root, require_tool
from tests.integration.test_run_local import run_dirs, seam, seam_popen

pytestmark = [pytest.mark.root, pytest.mark.netns, pytest.mark.slow]


def require_redis() -> None:
    """CI installs Redis (`make install`); there a missing binary is a failure, not a skip."""
    if os.environ.get("CI") == "true":
        import shutil

        assert shutil.which("redis-server") and shutil.which("redis-sentinel"), \
            "redis is missing on CI: `make install` should have installed redis-server and redis-sentinel"
    require_tool("redis-server")
    require_tool("redis-sentinel")


@pytest.fixture
def netns(tmp_path):
    """(prefix, subnet) of a namespace cluster of this test; whatever is left of it is removed."""
    require_root()
    require_tool("ip")
    require_redis()
    from tests.integration.cluster_fixture import free_subnet, leftovers, unique_prefix

    prefix = unique_prefix()
    subnet = free_subnet(prefix)
    yield prefix, subnet
    if leftovers(prefix):
        from harness.control.cluster import NetnsCluster

        NetnsCluster(nodes=5, subnet=subnet, prefix=prefix, state_dir=tmp_path / "cluster").down()


def run(tmp_path: Path, netns: tuple[str, str], *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    prefix, subnet = netns
    return seam("test", "--target", "redis", "--workload", "set", "--cluster", "netns", "--cluster-prefix", prefix,
                "--subnet", subnet, "--cluster-state", str(tmp_path / "cluster"), "--results",
                str(tmp_path / "results"), "--no-progress", *args, cwd=tmp_path, timeout=timeout)


def results_of(tmp_path: Path) -> tuple[Path, dict]:
    (run_dir,) = run_dirs(tmp_path / "results")
    return run_dir, json.loads((run_dir / "results.json").read_text())


def nemesis_ops(run_dir: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]
    return [r for r in rows if r["process"] == "nemesis" and r["type"] != "invoke"]


def test_a_single_primary_killed_again_and_again_loses_no_acknowledged_add(tmp_path, netns):
    r = run(tmp_path, netns, "--target-opt", "failover=none", "--target-opt", "appendfsync=always",
            "--nemesis", "kill", "--nemesis-opt", "kill.target=primary", "--nemesis-interval", "1.5",
            "--time-limit", "8", "--recovery-time", "2", "--node-count", "3", "--seed", "5")
    run_dir, data = results_of(tmp_path)
    assert r.returncode == 0, (r.stdout, r.stderr[-2000:], [a["summary"] for a in data["anomalies"]])
    kills = [o for o in nemesis_ops(run_dir) if o["f"] == "kill"]
    assert kills and all(k["value"]["node"] == "n1" and k["value"]["pids"] for k in kills), kills
    stats = data["checkers"]["set"]["stats"]
    assert stats["lost"] == 0 and stats["acknowledged"] > 100 and stats["final_reads"] >= 1
    assert stats["failed"] + stats["info"] > 0, "no add met a killed primary: the kills did nothing"


def test_the_isolated_primary_acknowledges_adds_that_are_lost_after_the_failover(tmp_path, netns):
    # Cut off at 6 s (lead-in 5 s), failover about 3 s later, or 10 s after that when the first
    # election split its votes; the partition's 15 s end by 22 s; then the final reads ask a
    # majority of Sentinels, so they read the new primary.
    r = run(tmp_path, netns, "--scenario", "primary-isolated", "--time-limit", "22", "--recovery-time", "5",
            "--seed", "11")
    run_dir, data = results_of(tmp_path)
    assert r.returncode == 1, (r.stdout, r.stderr[-2000:])
    lost = [a for a in data["anomalies"] if a["kind"] == "lost-write"]
    assert lost and all(a["severity"] == "error" for a in lost)
    stats = data["checkers"]["set"]["stats"]
    assert stats["lost_acknowledged"] > 0 and stats["final_reads"] >= 1
    (cut,) = [o for o in nemesis_ops(run_dir) if o["f"] == "start-partition"]
    minority = [n for n, dropped in cut["value"]["grudge"].items() if len(dropped) == 3]
    assert len(minority) == 2 and "n1" in minority  # the primary and one replica, from the majority
    failover = data["checkers"]["failover"]["stats"]
    assert failover["failovers"] >= 1 and failover["events"][0]["old"] == "n1"
    assert failover["events"][0]["new"] not in minority


def redis_processes(marker: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if marker in cmd and ("redis-server" in cmd or "redis-sentinel" in cmd):
                found.append(int(proc.name))
    return found


def seam_chains(prefix: str) -> list[str]:
    from tests.integration.cluster_fixture import leftovers

    rules = []
    for ns in [n for n in leftovers(prefix) if not n.endswith("br0")]:
        out = subprocess.run(["ip", "netns", "exec", ns, "iptables", "-S"], capture_output=True, text=True)
        rules += [f"{ns}: {line}" for line in out.stdout.splitlines() if "seam" in line.lower()]
    return rules


def test_seam_heal_after_a_sigkilled_run_leaves_no_redis_and_no_rule(tmp_path, netns):
    from nemesis.state import outstanding

    prefix, subnet = netns
    results = tmp_path / "results"
    proc = seam_popen("test", "--target", "redis", "--workload", "set", "--scenario", "primary-isolated",
                      "--cluster", "netns", "--cluster-prefix", prefix, "--subnet", subnet,
                      "--cluster-state", str(tmp_path / "cluster"), "--results", str(results),
                      "--no-progress", "--seed", "12", cwd=tmp_path)
    try:
        deadline = time.monotonic() + 90
        cut: list = []
        while time.monotonic() < deadline and not cut:
            for ledger in results.glob("*/*/nemesis.jsonl"):
                cut = [f for f in outstanding(ledger) if f.kind == "partition"]
            time.sleep(0.1)
        assert cut, "no partition was applied within 90 s"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    (run_dir,) = run_dirs(results)
    marker = json.loads((run_dir / "test.json").read_text())["nodes"]["n1"]["workdir"].rsplit("/", 1)[0]
    assert len(redis_processes(marker)) == 10 and seam_chains(prefix)  # what the dead run left

    r = seam("heal", "--stop-nodes", str(run_dir), cwd=tmp_path, timeout=120)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert outstanding(run_dir / "nemesis.jsonl") == []
    assert seam_chains(prefix) == []
    deadline = time.monotonic() + 10
    while redis_processes(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert redis_processes(marker) == [], "seam heal --stop-nodes left redis processes of the run"
