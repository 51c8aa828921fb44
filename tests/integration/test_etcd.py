"""etcd for real: members from Debian's etcd-server, faults that really happen, the published result.

* The adapter on three local members: the leader comes from etcd's status; a
  kill really ends that process and etcd elects another leader; the member
  restarts from its data directory and serves again; a pause really stops
  the process (kernel state T) until it is resumed; teardown leaves no etcd.
* Jepsen's etcd 3.4.3 result on namespaces: with serializable reads, a member
  cut off from the leader answers from its stale state, and Seam finds the
  history nonlinearizable from what the clients saw.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from harness.control.local import LocalRemote
from harness.core.placement import NodeAddr
from harness.targets.etcd.adapter import EtcdTarget
from tests.conftest import require_root, require_tool
from tests.integration.test_run_local import run_dirs, seam


def require_etcd() -> None:
    """CI installs etcd (`make install`); there a missing binary is a failure, not a skip."""
    if os.environ.get("CI") == "true":
        import shutil

        assert shutil.which("etcd"), "etcd is missing on CI: `make install` should have installed etcd-server"
    require_tool("etcd")


def state(pid: int) -> str:
    """The kernel's state letter of a process (R, S, T, Z...)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def wait_for(what, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = what()
        if got:
            return got
        time.sleep(0.1)
    return None


@pytest.fixture
def members(tmp_path):
    require_etcd()
    root = tmp_path / "seam-etcd"
    # 127.0.0.201+ and ports 7950+: no local run of the suite names these
    addrs = {f"n{i}": NodeAddr(f"n{i}", f"127.0.0.{200 + i}", f"127.0.0.{200 + i}", 7950 + i, f"{root}/n{i}")
             for i in (1, 2, 3)}
    remote = LocalRemote()
    target = EtcdTarget(remote, addrs, run_id="itest")
    try:
        for n in addrs:
            target.setup(None, n)
        target.wait_ready()
        yield target
    finally:
        target.stop_all()
        for n in addrs:
            target.teardown(None, n)
        remote.close()


def test_kill_pause_and_restart_really_happen_to_the_etcd_leader(members):
    target = members
    leader = wait_for(lambda: target.leader(None))
    assert leader in target.addrs
    (pid,) = target.pids(None, leader, "leader")

    assert target.kill(None, leader) == [pid]
    assert not Path(f"/proc/{pid}").exists() or state(pid) == "Z"
    assert wait_for(lambda: (target.leader(None) or leader) != leader), "no new leader after the kill"
    target.start(None, leader)
    target.wait_ready([leader])
    (again,) = target.pids(None, leader)
    assert again != pid

    now = wait_for(lambda: target.leader(None))
    (paused,) = target.pids(None, now, "leader")
    os.kill(paused, signal.SIGSTOP)
    try:
        assert wait_for(lambda: state(paused) == "T", 2.0), "SIGSTOP did not stop the leader"  # delivery is async
        assert wait_for(lambda: (target.leader(None) or now) != now), "no new leader while the old one was paused"
    finally:
        os.kill(paused, signal.SIGCONT)
    assert wait_for(lambda: state(paused) != "T", 5.0)


def test_teardown_leaves_no_etcd_of_the_run(members, tmp_path):
    target = members
    pids = [p for n in target.addrs for p in target.pids(None, n)]
    assert len(pids) == 3
    target.stop_all()
    assert all(not Path(f"/proc/{p}").exists() or state(p) == "Z" for p in pids)


@pytest.mark.root
@pytest.mark.netns
@pytest.mark.slow
def test_serializable_reads_under_a_partition_are_found_nonlinearizable(tmp_path):
    require_root()
    require_tool("ip")
    require_etcd()
    from tests.integration.cluster_fixture import free_subnet, leftovers, unique_prefix

    prefix = unique_prefix()
    subnet = free_subnet(prefix)
    results = tmp_path / "results"
    try:
        # One member cut off at a time, five times, and a 1 s op timeout: a client whose write blocks on
        # the cut-off member gives up fast and reads again (a 20 s run with 5 s timeouts once missed it).
        r = seam("test", "--target", "etcd", "--target-opt", "reads=serializable", "--nemesis", "partition",
                 "--nemesis-opt", "partition.shape=isolate-one", "--op-timeout", "1",
                 "--nemesis-interval", "2.5", "--time-limit", "25", "--seed", "7", "--cluster", "netns",
                 "--node-count", "3", "--cluster-prefix", prefix, "--subnet", subnet,
                 "--cluster-state", str(tmp_path / "cluster"), "--results", str(results), "--no-progress",
                 cwd=tmp_path, timeout=240)
    finally:
        left = leftovers(prefix)
        if left:
            from harness.control.cluster import NetnsCluster

            NetnsCluster(nodes=3, subnet=subnet, prefix=prefix, state_dir=tmp_path / "cluster").down()
    assert r.returncode == 1, (r.stdout, r.stderr[-2000:])
    (run_dir,) = run_dirs(results)
    data = json.loads((run_dir / "results.json").read_text())
    kinds = {a["kind"] for a in data["anomalies"]}
    assert "nonlinearizable" in kinds
    partitions = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()
                  if '"start-partition"' in line and '"invoke"' not in line]
    assert partitions and all(p.get("error") is None for p in partitions)
    assert not left, f"the run left {left}"


def test_clock_is_refused_in_one_line_before_anything_starts(tmp_path):
    r = seam("test", "--target", "etcd", "--nemesis", "clock", "--results", str(tmp_path), cwd=tmp_path, timeout=60)
    assert r.returncode == 3
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "ignores libfaketime" in lines[0], r.stderr
    assert not any(tmp_path.iterdir())
