"""The adapter for etcd: one member per node, from the Debian package's ``etcd`` binary.

Each run gets a fresh cluster: every member's data directory is under the
node's run directory and the cluster token names the run, so two runs never
share a member. A member started again after a kill finds its data
directory and joins as ``existing``. Members run through the daemon helper
(``harness.control.daemon``): pid file and log beside the data directory.

Layout on a node::

    <workdir>/data/       the member's data directory (WAL, snapshots)
    <workdir>/etcd.pid    its pid
    <workdir>/stdout.log  what etcd prints (zap JSON lines)

Ports: clients on the node's port, peers on the node's port + PEER_OFFSET.
"""

from __future__ import annotations

import base64
import functools
import http.client
import json
import logging
import shutil
from pathlib import Path
from typing import Any

from harness.control import daemon
from harness.core.errors import RemoteError, TargetError, UnsupportedError
from harness.core.placement import NodeAddr
from harness.core.protocols import Remote, Test

log = logging.getLogger("seam.targets.etcd")

#: Peer port = client port + this.
PEER_OFFSET = 10000
#: etcd's own timing: heartbeat and election timeout in ms (etcd's defaults).
HEARTBEAT_MS, ELECTION_MS = 100, 1000
ROLES = ("leader",)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def unb64(text: str) -> str:
    return base64.b64decode(text).decode()


def gateway(addr: NodeAddr, path: str, body: dict[str, Any], timeout: float,
            conn: http.client.HTTPConnection | None = None) -> dict[str, Any]:
    """POST to etcd's v3 JSON gateway; raises OSError (refused, timeout, reset) or ValueError.

    With ``conn`` (a kept-alive connection the caller owns) the request goes on it and
    the caller closes it after an error; without, a fresh connection is used and closed."""
    own = conn is None
    if conn is None:
        conn = http.client.HTTPConnection(addr.address, addr.port, timeout=timeout)
    try:
        conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        data = resp.read()
    finally:
        if own:
            conn.close()
    payload = json.loads(data or b"{}")
    if resp.status != 200:
        raise ValueError(f"{path} answered {resp.status}: {payload.get('error') or payload.get('message') or payload}")
    return payload if isinstance(payload, dict) else {}


class EtcdTarget(daemon.SignalPause):
    """Target + Killable + Pausable + HasLeader + HasRoles + WaitsReady + StopsAll + HasLogs for etcd."""

    def __init__(self, remote: Remote, addrs: dict[str, NodeAddr], *, run_id: str = "seam",
                 binary: str = "etcd", ready_timeout: float = 30.0):
        self.remote = remote
        self.addrs = dict(addrs)
        self.run_id = run_id
        self.binary = binary
        self.ready_timeout = ready_timeout

    # -- layout ---------------------------------------------------------------

    def _addr(self, node: str) -> NodeAddr:
        try:
            return self.addrs[node]
        except KeyError:
            raise TargetError(f"unknown node {node!r}; this run has {', '.join(self.addrs)}") from None

    def peer_url(self, a: NodeAddr) -> str:
        return f"http://{a.address}:{a.port + PEER_OFFSET}"

    def daemon(self, node: str, state: str = "new") -> daemon.Daemon:
        a = self._addr(node)
        cluster = ",".join(f"{n}={self.peer_url(p)}" for n, p in self.addrs.items())
        argv = (
            self.binary, "--name", node, "--data-dir", a.data_dir,
            "--listen-client-urls", f"http://{a.host}:{a.port}",
            "--advertise-client-urls", a.url,
            "--listen-peer-urls", f"http://{a.host}:{a.port + PEER_OFFSET}",
            "--initial-advertise-peer-urls", self.peer_url(a),
            "--initial-cluster", cluster, "--initial-cluster-state", state,
            "--initial-cluster-token", f"seam-{self.run_id}",
            "--heartbeat-interval", str(HEARTBEAT_MS), "--election-timeout", str(ELECTION_MS),
            "--logger", "zap", "--log-outputs", "stderr",
        )
        return daemon.Daemon(node, argv, f"{a.workdir}/etcd.pid", a.stdout_log, cwd=a.workdir, marker=a.data_dir)

    # -- Target ---------------------------------------------------------------

    def setup(self, test: Test | None, node: str) -> None:
        """Create the node's run directory and start its member (not waiting: wait_ready)."""
        a = self._addr(node)
        self.remote.run(node, ["mkdir", "-p", a.workdir], timeout=30)
        self.start(test, node)

    def teardown(self, test: Test | None, node: str) -> None:
        """Stop the member and remove its run directory (only one Seam named)."""
        a = self._addr(node)
        daemon.stop(self.remote, self.daemon(node))
        daemon.remove_workdir(self.remote, node, a.workdir)

    # -- Killable -------------------------------------------------------------

    def start(self, test: Test | None, node: str, role: str | None = None) -> None:
        """Start the member unless it runs; one with a data directory rejoins as existing."""
        self._check_role(role)
        a = self._addr(node)
        existing = self.remote.run(node, ["test", "-d", f"{a.data_dir}/member"], timeout=30, check=False)
        try:
            pid = daemon.start(self.remote, self.daemon(node, "existing" if existing.status == 0 else "new"))
        except RemoteError as e:
            raise TargetError(f"{node}: cannot start etcd ({e}); is the Debian package etcd-server "
                              "installed (`make install`)?") from None
        log.info("started %s: pid %d, %s", node, pid, a.url)

    def kill(self, test: Test | None, node: str, role: str | None = None) -> list[int]:
        pids = self.pids(test, node, role)
        return daemon.kill(self.remote, self.daemon(node)) if pids else []

    def stop_all(self) -> None:
        """SIGTERM every member at once, then wait for each (daemon.stop_all)."""
        daemon.stop_all(self.remote, [self.daemon(node) for node in self.addrs])

    # -- Pausable, roles ------------------------------------------------------

    def pids(self, test: Test | None, node: str, role: str | None = None) -> list[int]:
        role = self._check_role(role)
        found = daemon.pid(self.remote, self.daemon(node))
        if found is None or (role == "leader" and self.leader(test) != node):
            return []
        return [found]

    def roles(self) -> tuple[str, ...]:
        return ROLES

    def _check_role(self, role: str | None) -> str | None:
        if role is not None and role not in ROLES:
            raise UnsupportedError(f"etcd has no role {role!r}; roles: {', '.join(ROLES)}")
        return role

    def leader(self, test: Test | None) -> str | None:
        """The member that etcd's own status says leads, asked of each member in turn."""
        names: dict[str, str] = {}
        for node, a in self.addrs.items():
            try:
                status = gateway(a, "/v3/maintenance/status", {}, timeout=1.0)
                names[str(status["header"]["member_id"])] = node
                leader_id = str(status.get("leader", ""))
            except (OSError, ValueError, KeyError):
                continue
            if leader_id in names:
                return names[leader_id]
            members = self._members(a)
            if leader_id in members:
                return members[leader_id]
        return None

    def _members(self, a: NodeAddr) -> dict[str, str]:
        try:
            listed = gateway(a, "/v3/cluster/member/list", {}, timeout=1.0)
        except (OSError, ValueError):
            return {}
        return {str(m.get("ID")): str(m.get("name")) for m in listed.get("members", [])}

    # -- WaitsReady, HasLogs --------------------------------------------------

    def wait_ready(self, nodes: list[str] | None = None, timeout: float | None = None) -> None:
        """Every member answers a linearizable read (so a leader is elected)."""
        for node in nodes or list(self.addrs):
            a = self._addr(node)
            probe = functools.partial(gateway, a, "/v3/kv/range", {"key": b64("seam-ready")}, 1.0)
            daemon.wait_serving(self.remote, self.daemon(node), f"etcd on {a.url}", probe,
                                timeout or self.ready_timeout)

    def collect(self, test: Test | None, node: str, dst: Path) -> list[Path]:
        """The member's log (stdout.log); the data directory (WAL) stays behind."""
        return daemon.collect_log(self.remote, self.daemon(node), dst, "etcd.log")


def etcd_binary() -> str | None:
    """Where this host's etcd is (for a check before a local run), or None."""
    return shutil.which("etcd")
