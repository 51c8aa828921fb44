"""Partition and packet loss on a real namespace cluster, with real iptables.

Each test proves the fault acts (connections time out, a share of them fail)
and then that heal leaves no ``seam`` rule in any node. The probe is a
client that does not bind its source address, like most systems: in a
namespace every packet leaves from the node's own address, so the rules cut
it whatever the system under test does (on ``--cluster local`` such a target
is refused instead: tests/integration/minitarget).
"""

from __future__ import annotations

import json
import signal
import time

import pytest

from harness.core.op import Op
from nemesis.loss import LossNemesis
from nemesis.net import Net
from nemesis.partition import PartitionNemesis
from tests.conftest import require_root, require_tool
from tests.integration import cluster_fixture

pytestmark = [pytest.mark.root, pytest.mark.netns]

netns_cluster = cluster_fixture.netns_cluster
PORT = 7700

SERVER = f"""
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", {PORT})); s.listen(512)
while True:
    c, _ = s.accept(); c.close()
"""

# Bounded: `count` connects, `timeout` each, at most 20 at a time.
PROBE = """
import json, socket, sys
from concurrent.futures import ThreadPoolExecutor
host, port, count, timeout = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
def one(_):
    try:
        socket.create_connection((host, port), timeout=timeout).close()
        return True
    except OSError:
        return False
with ThreadPoolExecutor(20) as pool:
    ok = sum(pool.map(one, range(count)))
print(json.dumps({"ok": ok, "failed": count - ok}))
"""


@pytest.fixture(scope="module")
def cluster(netns_cluster, tmp_path_factory):
    require_root()
    require_tool("iptables")
    infos = netns_cluster.node_infos()
    remote = netns_cluster.remote()
    log = str(tmp_path_factory.mktemp("servers"))
    pids = {i.name: remote.spawn(i.name, ["python3", "-c", SERVER], f"{log}/{i.name}.log") for i in infos}
    time.sleep(0.5)
    try:
        yield netns_cluster, remote, {i.name: i.address for i in infos}
    finally:
        for name, pid in pids.items():
            remote.signal(name, pid, signal.SIGKILL)


def probe(remote, src, dst_addr, count=1, timeout=0.5):
    out = remote.run(src, ["python3", "-c", PROBE, dst_addr, str(PORT), str(count), str(timeout)], timeout=60)
    return json.loads(out.stdout)


def nemesis_op(f, value=None):
    return Op(index=0, time=0, process="nemesis", type="invoke", f=f, value=value)


def no_seam_rules(remote, nodes):
    return {n: [line for line in remote.run(n, ["iptables", "-w", "-S"]).stdout.splitlines() if "seam" in line] for n in nodes}


def test_partition_cuts_across_sides_keeps_within_and_heals(cluster):
    _, remote, addr = cluster
    nodes = sorted(addr)
    nem = PartitionNemesis(Net(remote, addr, tag="p"), nodes, seed=1)
    done = nem.invoke(None, nemesis_op("start-partition", "halves"))
    try:
        grudge = done.value["grudge"]
        a = next(n for n in nodes if grudge.get(n))
        other_side = grudge[a][0]
        same_side = next(n for n in nodes if n != a and n not in grudge[a])
        assert probe(remote, a, addr[other_side])["failed"] == 1
        assert probe(remote, a, addr[same_side])["ok"] == 1
    finally:
        nem.heal(None)
    assert probe(remote, a, addr[other_side])["ok"] == 1
    assert probe(remote, other_side, addr[a])["ok"] == 1
    assert no_seam_rules(remote, nodes) == {n: [] for n in nodes}


def test_loss_half_of_requests_fail_then_none_after_heal(cluster):
    _, remote, addr = cluster
    nodes = sorted(addr)
    nem = LossNemesis(Net(remote, addr, tag="l"), nodes)
    # Loss on the receiving node only: each connect then needs one SYN through, p = 0.5.
    nem.invoke(None, nemesis_op("start-loss", {"probability": 0.5, "nodes": ["n2"]}))
    try:
        lossy = probe(remote, "n1", addr["n2"], count=200, timeout=0.5)
    finally:
        nem.heal(None)
    assert 60 <= lossy["failed"] <= 140, lossy
    healed = probe(remote, "n1", addr["n2"], count=200, timeout=2.0)
    assert healed["failed"] == 0
    assert no_seam_rules(remote, nodes) == {n: [] for n in nodes}
