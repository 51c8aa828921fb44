"""A 20 s register run on five namespace nodes, provisioned and removed by the runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import require_root, require_tool
from tests.integration.test_run_local import (
    _is_node,
    assert_well_formed,
    node_pids,
    outcome_files,
    run_dirs,
    seam,
    stop_nodes,
)


@pytest.mark.root
@pytest.mark.netns
@pytest.mark.slow
def test_register_on_five_namespaces_records_a_verdict_and_leaves_nothing(tmp_path: Path) -> None:
    require_root()
    require_tool("ip")
    from tests.integration.cluster_fixture import free_subnet, leftovers, unique_prefix

    prefix = unique_prefix()
    subnet = free_subnet(prefix)
    results = tmp_path / "results"
    try:
        r = seam("test", "--cluster", "netns", "--node-count", "5", "--time-limit", "20", "--concurrency", "10",
                 "--rate", "200", "--seed", "21", "--cluster-prefix", prefix, "--subnet", subnet,
                 "--cluster-state", str(tmp_path / "cluster"), "--results", str(results), "--no-progress",
                 cwd=tmp_path, timeout=240)
        assert r.returncode in (0, 1, 2), (r.stdout, r.stderr)
        (run_dir,) = run_dirs(results)
        data = outcome_files(run_dir)
        assert data["valid"] in (True, False, "unknown")
        ops = assert_well_formed(run_dir)
        assert sum(1 for o in ops if o.type == "ok") > 1000  # 20 s at 200/s, most of them ok
        test = json.loads((run_dir / "test.json").read_text())
        net = subnet.rsplit(".", 1)[0]
        assert all(i["url"].startswith(f"http://{net}.") for i in test["nodes"].values()), test["nodes"]
        assert {o.extra.get("node") for o in ops if o.type != "invoke"} == {"n1", "n2", "n3", "n4", "n5"}
        for n in ("n1", "n2", "n3", "n4", "n5"):
            assert (run_dir / "nodes" / n / "node.log").is_file()
        assert not any(_is_node(p) for p in node_pids(run_dir))
    finally:
        left_pids = stop_nodes(results)
        left = leftovers(prefix)
        if left:
            from harness.control.cluster import NetnsCluster

            NetnsCluster(nodes=5, subnet=subnet, prefix=prefix, state_dir=tmp_path / "cluster").down()
    assert not left_pids, f"node processes left running: {left_pids}"
    assert not left, f"the run left {left}"


@pytest.mark.root
@pytest.mark.netns
@pytest.mark.ssh
@pytest.mark.slow
def test_register_over_ssh_installs_by_sftp_and_leaves_nothing(tmp_path: Path) -> None:
    """--cluster ssh for real: three namespaces each running sshd, host keys verified."""
    from tests.integration.cluster_fixture import running_cluster

    results = tmp_path / "results"
    with running_cluster(tmp_path / "cluster", nodes=3, ssh=True) as cluster:
        hosts = [i.address for i in cluster.node_infos()]
        try:
            r = seam("test", "--cluster", "ssh", "--nodes", ",".join(hosts), "--username", "root",
                     "--ssh-key", str(cluster.client_key), "--known-hosts", str(cluster.known_hosts),
                     "--time-limit", "8", "--concurrency", "6", "--seed", "8", "--results", str(results),
                     "--no-progress", cwd=tmp_path, timeout=240)
            assert r.returncode in (0, 1, 2), (r.stdout, r.stderr)
            (run_dir,) = run_dirs(results)
            outcome_files(run_dir)
            ops = assert_well_formed(run_dir)
            assert {o.extra.get("node") for o in ops if o.type != "invoke"} == set(hosts)
            for h in hosts:
                assert (run_dir / "nodes" / h / "node.log").is_file()  # fetched over SFTP
            test = json.loads((run_dir / "test.json").read_text())
            assert all(not Path(i["workdir"]).exists() for i in test["nodes"].values())
            assert not any(_is_node(p) for p in node_pids(run_dir))
        finally:
            left_pids = stop_nodes(results)
    assert not left_pids, f"node processes left running: {left_pids}"


@pytest.mark.root
@pytest.mark.netns
@pytest.mark.slow
def test_partition_and_pause_on_namespaces_are_healed_and_removed(tmp_path: Path) -> None:
    require_root()
    require_tool("ip", "iptables")
    from tests.integration.cluster_fixture import free_subnet, leftovers, unique_prefix
    from tests.integration.test_run_local import assert_faults_healed

    prefix = unique_prefix()
    subnet = free_subnet(prefix)
    results = tmp_path / "results"
    try:
        r = seam("test", "--cluster", "netns", "--time-limit", "12", "--nemesis", "partition,pause",
                 "--nemesis-interval", "2", "--op-timeout", "2", "--seed", "5", "--cluster-prefix", prefix,
                 "--subnet", subnet, "--cluster-state", str(tmp_path / "cluster"), "--results", str(results),
                 "--no-progress", cwd=tmp_path, timeout=240)
        assert r.returncode in (0, 1, 2), (r.stdout, r.stderr)
        (run_dir,) = run_dirs(results)
        ops = assert_well_formed(run_dir)
        faults = assert_faults_healed(run_dir, ops)
        assert "start-partition" in {o.f for o in faults} or "start-pause" in {o.f for o in faults}
    finally:
        left_pids = stop_nodes(results)
        left = leftovers(prefix)
        if left:
            from harness.control.cluster import NetnsCluster

            NetnsCluster(nodes=5, subnet=subnet, prefix=prefix, state_dir=tmp_path / "cluster").down()
    assert not left_pids and not left, (left_pids, left)
