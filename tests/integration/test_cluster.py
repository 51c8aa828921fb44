"""The namespace cluster for real: up, reach, repair, down, and nothing left behind."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.control import cluster as cluster_mod
from harness.control.cluster import NEEDS_ROOT, NetnsCluster
from harness.control.netns import NetnsRemote
from harness.core.errors import ClusterError, RemoteError, UnreachableError
from tests.conftest import REPO, require_root, require_tool
from tests.integration import cluster_fixture
from tests.integration.cluster_fixture import free_subnet, leftovers, running_cluster, unique_prefix

netns_cluster = cluster_fixture.netns_cluster  # the fixture, under its own name

SERVER = """
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 7000)); s.listen(16); s.settimeout(20)
print("listening", flush=True)
while True:
    c, _ = s.accept(); c.sendall(sys.argv[2].encode()); c.close()
"""
CLIENT = """
import socket, sys, time
deadline = time.monotonic() + 5
while True:
    try:
        c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)
        print(c.recv(100).decode()); break
    except ConnectionRefusedError:
        if sys.argv[3] == "refused-ok": print("refused"); break
        if time.monotonic() > deadline: raise
        time.sleep(0.05)
"""


def connect(
    remote: NetnsRemote | None,
    node: str | None,
    address: str,
    port: int = 7000,
    refused_ok: bool = False,
) -> str:
    """Connect from a node (or from the control node when remote is None); bounded to a few seconds."""
    argv = [sys.executable, "-c", CLIENT, address, str(port), "refused-ok" if refused_ok else "-"]
    if remote is None:
        return subprocess.run(
            argv, capture_output=True, text=True, timeout=15, check=True
        ).stdout.strip()
    return remote.run(node, argv, timeout=15).stdout.strip()


def procs_mentioning(text: str) -> list[int]:
    """Live pids whose command line mentions text (our state dir: sshd configs live there)."""
    found = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if text.encode() in (p / "cmdline").read_bytes() and cluster_mod.pid_alive(
                    int(p.name)
                ):
                    found.append(int(p.name))
            except OSError:
                pass
    return found


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"subnet": "8.8.8.0/24"}, "private"),
        ({"subnet": "10.77.0.0/30"}, "/27"),
        ({"subnet": "10.77.0.5/24"}, "not a network"),
        ({"subnet": "fd00::/64"}, "IPv4"),
        ({"prefix": "foo"}, "'seam'"),
        ({"prefix": "seamtoolong1"}, "'seam'"),
        ({"nodes": 0}, "--nodes 0"),
        ({"nodes": 21, "subnet": "10.77.0.0/27"}, "1..20"),
    ],
)
def test_bad_options_are_refused_before_anything_is_built(kwargs, words, tmp_path):
    with pytest.raises(ClusterError, match=re.escape(words)):
        NetnsCluster(state_dir=tmp_path, **kwargs)


def test_without_root_one_line_and_exit_3(tmp_path):
    require_root()  # to drop to nobody we must be root
    require_tool("setpriv")
    proc = subprocess.run(
        [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            sys.executable,
            "-m",
            "harness.cli",
            "cluster",
            "up",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SEAM_STATE_DIR": str(tmp_path / "st")},
    )
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.strip().splitlines() == [f"seam: {NEEDS_ROOT}"]
    assert NEEDS_ROOT == "cluster needs root (network namespaces); use --cluster local"


@pytest.mark.root
@pytest.mark.netns
@pytest.mark.ssh
def test_up_down_leaves_nothing_behind(tmp_path):
    log = tmp_path / "svc.log"
    with running_cluster(tmp_path / "state", nodes=3, ssh=True) as c:
        prefix = c.prefix
        st = c.status()
        assert st["bridge"]["exists"] and [n["name"] for n in st["nodes"]] == ["n1", "n2", "n3"]
        assert all(
            n["exists"] and n["veth"] and n["eth0"] == "up" and n["lo"] == "up" for n in st["nodes"]
        )
        sshd = [n["sshd_pid"] for n in st["nodes"]]
        assert all(n["sshd_alive"] for n in st["nodes"])
        # (a probe connection's short-lived sshd child may also be there)
        assert set(sshd) <= set(procs_mentioning(str(c.state_dir)))
        # a service someone started inside a node goes with the namespace
        service = c.remote().spawn("n2", ["sleep", "60"], str(log))
        assert cluster_mod.pid_alive(service)
        assert sorted(leftovers(prefix)) == sorted(
            [f"{prefix}-n{i}" for i in (1, 2, 3)]
            + [f"{prefix}-br0"]
            + [f"{prefix}-v{i}" for i in (1, 2, 3)]
        )
    assert leftovers(prefix) == []
    assert not any(cluster_mod.pid_alive(p) for p in [*sshd, service])
    assert procs_mentioning(str(c.state_dir)) == []
    assert not c.state_file.exists()
    c.down()  # again: nothing to do, no error
    assert leftovers(prefix) == []


@pytest.mark.root
@pytest.mark.netns
def test_nodes_reach_each_other_and_the_control_node_reaches_them(netns_cluster, tmp_path):
    c = netns_cluster
    remote = c.remote()
    nodes = c.node_infos()
    assert [n.address for n in nodes] == [c.address(i) for i in range(1, 6)]
    servers = []
    try:
        for n in nodes:
            servers.append(
                (
                    n.name,
                    remote.spawn(
                        n.name,
                        [sys.executable, "-c", SERVER, n.address, f"hello from {n.name}"],
                        str(tmp_path / f"{n.name}.log"),
                    ),
                )
            )
        for n in nodes:
            assert (
                connect(None, None, n.address) == f"hello from {n.name}"
            )  # control node -> node via the bridge
        for src in nodes:
            for dst in nodes:
                if src.name != dst.name:
                    assert connect(remote, src.name, dst.address) == f"hello from {dst.name}"
    finally:
        for node, pid in servers:
            remote.signal(node, pid, 9)
    # the subnet stays inside: nodes have no default route, only the bridge subnet
    routes = remote.run("n1", ["ip", "-4", "route"]).stdout
    assert "default" not in routes and str(c.network) in routes
    assert "UP" in remote.run("n1", ["ip", "-o", "link", "show", "lo"]).stdout


@pytest.mark.root
@pytest.mark.netns
def test_netns_remote_errors_name_node_command_status(netns_cluster):
    remote = netns_cluster.remote()
    with pytest.raises(RemoteError) as e:
        remote.run("n2", ["false"])
    assert e.value.node == "n2" and e.value.status == 1 and "false" in str(e.value)
    with pytest.raises(RemoteError) as e:
        remote.run("n2", ["sh", "-c", "echo bad thing >&2; exit 4"])
    assert e.value.status == 4 and "bad thing" in str(e.value)
    with pytest.raises(UnreachableError, match="known: n1, n2"):
        remote.run("n9", ["true"])
    gone = NetnsRemote({"n1": f"{netns_cluster.prefix}-n99"})
    with pytest.raises(UnreachableError) as e:
        gone.run("n1", ["true"])
    assert "cluster up" in str(e.value) and e.value.node == "n1"


@pytest.mark.root
@pytest.mark.netns
def test_subnet_colliding_with_a_host_route_is_refused(netns_cluster, tmp_path):
    for subnet in [str(netns_cluster.network), "10.77.0.0/16"]:
        other = NetnsCluster(
            nodes=2,
            subnet=subnet,
            state_dir=tmp_path / subnet.replace("/", "_"),
            prefix=unique_prefix(),
        )
        with pytest.raises(ClusterError, match="collides with the host route") as e:
            other.up()
        assert "--subnet" in str(e.value)
        assert leftovers(other.prefix) == []


@pytest.mark.root
@pytest.mark.netns
def test_up_twice_is_fine_and_a_half_built_cluster_is_repaired(tmp_path):
    with running_cluster(tmp_path, nodes=2) as c:
        p = c.prefix
        first = c.up()
        assert c.up() == first
        assert sorted(leftovers(p)) == sorted(
            [f"{p}-n1", f"{p}-n2", f"{p}-br0", f"{p}-v1", f"{p}-v2"]
        )
        # n2 loses its veth pair; n1 is replaced by a bare namespace; a stray n3 appears
        subprocess.run(["ip", "link", "del", f"{p}-v2"], check=True)
        subprocess.run(["ip", "netns", "del", f"{p}-n1"], check=True)
        subprocess.run(["ip", "netns", "add", f"{p}-n1"], check=True)
        subprocess.run(["ip", "netns", "add", f"{p}-n3"], check=True)
        broken = {n["name"]: n for n in c.status()["nodes"]}
        assert broken["n2"]["eth0"] == "missing" and not broken["n2"]["veth"]
        assert broken["n1"]["eth0"] == "missing" and broken["n3"]["exists"]
        assert c.up() == first
        st = {n["name"]: n for n in c.status()["nodes"]}
        assert set(st) == {"n1", "n2"} and all(
            n["veth"] and n["eth0"] == "up" and n["lo"] == "up" for n in st.values()
        )
        remote = c.remote()
        assert (
            connect(remote, "n1", c.address(2), port=1, refused_ok=True) == "refused"
        )  # reachable: RST, not timeout
        assert connect(None, None, c.address(1), port=1, refused_ok=True) == "refused"
        # a smaller cluster removes the extra node
        smaller = NetnsCluster(nodes=1, subnet=str(c.network), state_dir=c.state_dir, prefix=p)
        smaller.up()
        assert sorted(leftovers(p)) == sorted([f"{p}-n1", f"{p}-br0", f"{p}-v1"])


@pytest.mark.root
@pytest.mark.netns
@pytest.mark.ssh
def test_a_failed_up_removes_what_it_built(tmp_path, monkeypatch):
    require_tool("ip")
    if not Path(cluster_mod.SSHD).exists():
        pytest.skip("needs sshd")

    def no_port(address, port, seconds, logfile, node):
        raise ClusterError(f"sshd on {node} did not listen (simulated)")

    monkeypatch.setattr(cluster_mod, "wait_port", no_port)
    prefix = unique_prefix()
    c = NetnsCluster(
        nodes=2, subnet=free_subnet(prefix), ssh=True, state_dir=tmp_path, prefix=prefix
    )
    try:
        with pytest.raises(ClusterError, match="simulated"):
            c.up()
        assert leftovers(prefix) == []
        assert procs_mentioning(str(tmp_path)) == []
        assert not c.state_file.exists()
    finally:
        c.down()


@pytest.mark.root
@pytest.mark.netns
@pytest.mark.ssh
def test_down_after_a_crash_that_lost_the_state_file(tmp_path):
    prefix = unique_prefix()
    c = NetnsCluster(
        nodes=2, subnet=free_subnet(prefix), ssh=True, state_dir=tmp_path, prefix=prefix
    )
    try:
        c.up()
        sshd = [n["sshd_pid"] for n in c.status()["nodes"]]
        c.state_file.unlink()  # the control node died before it could record anything
        NetnsCluster(state_dir=tmp_path, prefix=prefix).down()
        assert leftovers(prefix) == []
        assert not any(
            cluster_mod.pid_alive(p) for p in sshd
        )  # found inside its namespaces, by pid
    finally:
        c.down()


@pytest.mark.root
@pytest.mark.netns
def test_cli_up_status_down(tmp_path):
    require_root()
    require_tool("ip")
    prefix = unique_prefix()
    subnet = free_subnet(prefix)
    base = [sys.executable, "-m", "harness.cli", "cluster"]
    env = {**os.environ, "SEAM_STATE_DIR": str(tmp_path)}

    def seam(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*base, *args], cwd=REPO, capture_output=True, text=True, timeout=60, env=env
        )

    try:
        up = seam("up", "--nodes", "2", "--subnet", subnet, "--prefix", prefix)
        assert up.returncode == 0, up.stderr
        assert f"n2  {prefix}-n2  " in up.stdout
        assert seam("up", "--nodes", "2", "--subnet", subnet, "--prefix", prefix).returncode == 0
        st = json.loads(seam("status", "--json").stdout)
        assert (
            st["prefix"] == prefix
            and st["subnet"] == subnet
            and all(n["exists"] for n in st["nodes"])
        )
        table = seam("status")
        assert table.returncode == 0 and f"{prefix}-n1" in table.stdout
        down = seam("down")
        assert down.returncode == 0, down.stderr
        assert leftovers(prefix) == []
        assert "no nodes" in seam("status", "--prefix", prefix).stdout
    finally:
        NetnsCluster(state_dir=tmp_path, prefix=prefix).down()


def test_without_root_in_process_one_line_and_exit_3(monkeypatch, capsys, tmp_path):
    """The same refusal, for machines where we cannot switch users (runs anywhere)."""
    from harness.cli import main

    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setenv("SEAM_STATE_DIR", str(tmp_path))
    for args in (["cluster", "up", "--nodes", "2"], ["cluster", "down"]):
        with pytest.raises(SystemExit) as e:
            main(args)
        assert e.value.code == 3
        assert capsys.readouterr().err.strip().splitlines() == [f"seam: {NEEDS_ROOT}"]
    assert not (tmp_path / "state.json").exists()
