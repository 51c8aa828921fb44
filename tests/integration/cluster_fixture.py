"""A running NetnsCluster for integration tests, torn down at the end.

Each cluster gets a name prefix and a subnet of its own (``seamt<pid>``,
``10.77.<x>.0/24``, checked free), so several test processes can run
clusters side by side without touching ``seam cluster up``'s default one.

Usage::

    from tests.integration import cluster_fixture

    netns_cluster = cluster_fixture.netns_cluster  # expose the fixtures in your module
    ssh_cluster = cluster_fixture.ssh_cluster

    @pytest.mark.root
    @pytest.mark.netns
    def test_x(netns_cluster):
        remote = netns_cluster.remote()             # NetnsRemote: node name -> namespace
        nodes = netns_cluster.node_infos()          # NodeInfo(name, namespace, address, ssh_port)

    def test_y(ssh_cluster):
        remote = SshRemote(ssh_cluster.ssh_hosts())  # verified host keys, generated client key

or, for a cluster of another shape: ``with running_cluster(tmp_dir, nodes=3, ssh=True) as c: ...``.
The fixtures skip (with the reason) when not root or when `ip` / `sshd` are missing.
"""

from __future__ import annotations

import ipaddress
import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from harness.control.cluster import SSHD, NetnsCluster, check_subnet_free, namespaces, root_links
from harness.core.errors import ClusterError
from tests.conftest import require_root, require_tool

_counter = itertools.count()


def unique_prefix() -> str:
    """``seamt`` + 5 digits: unique per process (pid) and per call (a counter)."""
    return f"seamt{os.getpid() % 10000:04d}{next(_counter) % 10}"


def _worker_range() -> tuple[int, int]:
    """(first third octet, how many) this process may use of 10.77.100..249: split between
    xdist workers (gw0, gw1, ...), so two never pick the same free subnet at the same moment."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    if not worker.startswith("gw") or not worker[2:].isdigit() or count < 1:
        return 100, 150
    size = 150 // count
    return 100 + int(worker[2:]) % count * size, size


def free_subnet(prefix: str) -> str:
    """A 10.77.x.0/24 that no route or address on this host uses right now."""
    first, size = _worker_range()
    start = (os.getpid() + next(_counter) * 17) % size
    for k in range(size):
        net = ipaddress.ip_network(f"10.77.{first + (start + k) % size}.0/24")
        try:
            check_subnet_free(net, {f"{prefix}-br0"})
        except ClusterError:
            continue
        return str(net)
    raise RuntimeError("no free 10.77.x.0/24 subnet for a test cluster")


def leftovers(prefix: str) -> list[str]:
    """Namespaces and links with this cluster's prefix that still exist."""
    return [n for n in namespaces() if n.startswith(prefix + "-")] + [
        link for link in root_links() if link.startswith(prefix + "-")
    ]


@contextmanager
def running_cluster(state_dir: Path, nodes: int = 5, ssh: bool = False) -> Iterator[NetnsCluster]:
    """Up a uniquely named cluster; always down it (and check it is gone) at the end."""
    require_root()
    require_tool("ip")
    if ssh and not Path(SSHD).exists():
        pytest.skip(f"needs {SSHD}; `make install` installs openssh-server as root")
    prefix = unique_prefix()
    cluster = NetnsCluster(
        nodes=nodes, subnet=free_subnet(prefix), ssh=ssh, state_dir=state_dir, prefix=prefix
    )
    try:
        cluster.up()
        yield cluster
    finally:
        cluster.down()
    left = leftovers(prefix)
    assert not left, f"cluster teardown left {left}"


@pytest.fixture(scope="module")
def netns_cluster(tmp_path_factory) -> Iterator[NetnsCluster]:
    """Five namespace nodes n1..n5 on their own bridge and subnet."""
    with running_cluster(tmp_path_factory.mktemp("cluster"), nodes=5) as c:
        yield c


@pytest.fixture(scope="module")
def ssh_cluster(tmp_path_factory) -> Iterator[NetnsCluster]:
    """Three namespace nodes, each running its own sshd on <address>:22."""
    with running_cluster(tmp_path_factory.mktemp("sshcluster"), nodes=3, ssh=True) as c:
        yield c
