"""The adapter for Redis with Sentinel: one redis-server and one Sentinel per node, from Debian's packages.

Node 1 starts as the primary and every other node as its replica; each
node also runs a Sentinel (quorum: a majority of them) that watches the
primary and promotes a replica when a majority cannot reach it. With
``failover=none`` there are no Sentinels: node 1 is the primary for good,
the control case. Everything lives in the node's run directory, with
config files Seam writes; no system service is touched. Both processes run
through the daemon helper; Redis rewrites its process title, so the title
template puts the config file's path in it, which is the marker the helper
checks before it signals a pid.

Layout on a node::

    <workdir>/redis.conf     the server's config (Sentinel rewrites it on a failover)
    <workdir>/sentinel.conf  the Sentinel's config (it rewrites it as it learns)
    <workdir>/data/          the server's AOF
    <workdir>/redis.pid, sentinel.pid, redis.log, sentinel.log

Ports: the server on the node's port, its Sentinel on port + SENTINEL_OFFSET.
"""

from __future__ import annotations

import functools
import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.control import daemon
from harness.control.daemon import Daemon
from harness.core.errors import RemoteError, TargetError, UnsupportedError
from harness.core.placement import NodeAddr
from harness.core.protocols import Remote, Test

log = logging.getLogger("seam.targets.redis")

SENTINEL_OFFSET = 10000
#: The name Sentinel knows the primary by.
SERVICE = "seam"
PRIMARY = "primary"
ROLES = (PRIMARY,)
#: How long a Sentinel waits before it calls an unreachable primary down (ms); Redis's default is 30 s.
DOWN_AFTER_MS = 2000
#: Also how long a Sentinel waits to try again after an election nobody won (twice this):
#: three Sentinels on the majority side split their votes now and then (seen on CI: 2-1),
#: and at 10 s the retry came 20 s later, after a 15 s partition had healed.
FAILOVER_TIMEOUT_MS = 5000
#: Redis rewrites its process title; this keeps the config path (the daemon marker) in it.
TITLE = '"{title} {listen-addr} {server-mode} {config-file}"'


@dataclass(frozen=True)
class Settings:
    """What the target options set on the servers (see ``harness.targets.redis``)."""

    sentinel: bool = True
    min_replicas_to_write: int = 0
    appendfsync: str = "everysec"


def quorum(nodes: int) -> int:
    return nodes // 2 + 1


class RedisTarget(daemon.SignalPause):
    """Target + Killable + Pausable (SIGSTOP/SIGCONT of ``pids``) + HasLeader + HasRoles + HasRoleHolders
    + WaitsReady + StopsAll + HasLogs."""

    def __init__(self, remote: Remote, addrs: dict[str, NodeAddr], settings: Settings | None = None, *,
                 ready_timeout: float = 60.0):
        self.remote = remote
        self.addrs = dict(addrs)
        self.settings = settings or Settings()
        self.ready_timeout = ready_timeout

    # -- layout ---------------------------------------------------------------

    def _addr(self, node: str) -> NodeAddr:
        try:
            return self.addrs[node]
        except KeyError:
            raise TargetError(f"unknown node {node!r}; this run has {', '.join(self.addrs)}") from None

    @property
    def first(self) -> str:
        """The node that starts as the primary."""
        return next(iter(self.addrs))

    def redis_conf(self, node: str) -> str:
        a, s = self._addr(node), self.settings
        lines = [
            f"bind {a.host}", f"port {a.port}", "protected-mode no", "daemonize no", 'logfile ""',
            f"dir {a.data_dir}", f"proc-title-template {TITLE}", 'save ""',
            "appendonly yes", f"appendfsync {s.appendfsync}",
            f"min-replicas-to-write {s.min_replicas_to_write}", "min-replicas-max-lag 10",
            f"replica-announce-ip {a.address}", "repl-diskless-sync-delay 0", "repl-timeout 10",
        ]
        if a.host not in ("0.0.0.0", "::"):
            lines.append(f"bind-source-addr {a.host}")  # on 127.0.0.x, partitions tell nodes apart by source
        if node != self.first:
            p = self._addr(self.first)
            lines.append(f"replicaof {p.address} {p.port}")
        return "\n".join(lines) + "\n"

    def sentinel_conf(self, node: str) -> str:
        a, p = self._addr(node), self._addr(self.first)
        lines = [
            f"bind {a.host}", f"port {a.port + SENTINEL_OFFSET}", "protected-mode no", "daemonize no",
            'logfile ""', f"dir {a.workdir}", f"proc-title-template {TITLE}",
            f"sentinel announce-ip {a.address}", f"sentinel announce-port {a.port + SENTINEL_OFFSET}",
            "sentinel resolve-hostnames no",
            f"sentinel monitor {SERVICE} {p.address} {p.port} {quorum(len(self.addrs))}",
            f"sentinel down-after-milliseconds {SERVICE} {DOWN_AFTER_MS}",
            f"sentinel failover-timeout {SERVICE} {FAILOVER_TIMEOUT_MS}",
            f"sentinel parallel-syncs {SERVICE} 1",
        ]
        if a.host not in ("0.0.0.0", "::"):
            lines.append(f"bind-source-addr {a.host}")
        return "\n".join(lines) + "\n"

    def daemon(self, node: str, which: str = "redis") -> Daemon:
        a = self._addr(node)
        conf = f"{a.workdir}/{which}.conf"
        argv = ("redis-server", conf) if which == "redis" else ("redis-sentinel", conf)
        return Daemon(node, argv, f"{a.workdir}/{which}.pid", f"{a.workdir}/{which}.log", cwd=a.workdir,
                             marker=conf)

    def daemons(self, node: str) -> list[Daemon]:
        return [self.daemon(node, "redis")] + ([self.daemon(node, "sentinel")] if self.settings.sentinel else [])

    def sentinel_addr(self, node: str) -> tuple[str, int]:
        a = self._addr(node)
        return a.address, a.port + SENTINEL_OFFSET

    def node_at(self, host: str, port: int) -> str | None:
        """The node whose server listens at ``host:port`` (how Sentinel names a primary)."""
        return next((n for n, a in self.addrs.items() if a.address == host and a.port == int(port)), None)

    # -- Target ---------------------------------------------------------------

    def setup(self, test: Test | None, node: str) -> None:
        """Write the configs into the node's run directory and start its processes (not waiting)."""
        a = self._addr(node)
        self.remote.run(node, ["mkdir", "-p", a.data_dir], timeout=30)
        self._write(node, f"{a.workdir}/redis.conf", self.redis_conf(node))
        if self.settings.sentinel:
            self._write(node, f"{a.workdir}/sentinel.conf", self.sentinel_conf(node))
        self.start(test, node)

    def _write(self, node: str, path: str, text: str) -> None:
        self.remote.run(node, ["sh", "-c", 'cat > "$1"', "sh", path], timeout=30, stdin=text.encode())

    def teardown(self, test: Test | None, node: str) -> None:
        """Stop the node's processes and remove its run directory (only one Seam named)."""
        a = self._addr(node)
        daemon.stop_all(self.remote, self.daemons(node))
        daemon.remove_workdir(self.remote, node, a.workdir)

    # -- Killable -------------------------------------------------------------

    def start(self, test: Test | None, node: str, role: str | None = None) -> None:
        """Start what a kill of ``role`` stopped: the server (role primary) or every process
        of the node (no role). A restarted server reads its config, which Sentinel rewrote on
        a failover, and its AOF."""
        self._check_role(role)
        for d in self._for_role(node, role):
            try:
                pid = daemon.start(self.remote, d)
            except RemoteError as e:
                raise TargetError(f"{node}: cannot start {d.argv[0]} ({e}); are Debian's redis-server and "
                                  "redis-sentinel installed (`make install`)?") from None
            log.info("started %s %s: pid %d", node, d.argv[0], pid)

    def kill(self, test: Test | None, node: str, role: str | None = None) -> list[int]:
        """SIGKILL the node's server and Sentinel, or only the server when aimed at the primary
        (nothing if ``node`` does not hold it now)."""
        if role is not None and not self.pids(test, node, role):
            return []
        return [p for d in self._for_role(node, role) for p in daemon.kill(self.remote, d)]

    def stop_all(self) -> None:
        """SIGTERM every process of every node at once, then wait for each (daemon.stop_all)."""
        daemon.stop_all(self.remote, [d for n in self.addrs for d in self.daemons(n)])

    def _for_role(self, node: str, role: str | None) -> list[Daemon]:
        return [self.daemon(node, "redis")] if role == PRIMARY else self.daemons(node)

    # -- Pausable, roles ------------------------------------------------------

    def pids(self, test: Test | None, node: str, role: str | None = None) -> list[int]:
        """The node's processes, or its server alone when aimed at the primary and it is the primary."""
        role = self._check_role(role)
        if role == PRIMARY and self.primary() != node:
            return []
        found = [daemon.pid(self.remote, d) for d in self._for_role(node, role)]
        return [p for p in found if p is not None]

    def roles(self) -> tuple[str, ...]:
        return ROLES

    def holder(self, test: Test | None, role: str, rng: Any) -> str | None:
        self._check_role(role)
        return self.primary()

    def leader(self, test: Test | None) -> str | None:
        """The primary: partitions aimed at the leader (isolate-leader, leader-minority) cut it off."""
        return self.primary()

    def primary(self) -> str | None:
        """The node a majority of the Sentinels names as primary now; without Sentinels, node 1.
        When no majority agrees (mid-failover), the node that says it is a primary, if one does."""
        if not self.settings.sentinel:
            return self.first
        from harness.targets.redis.client import ask_role, ask_sentinel

        named = Counter(n for n in (self._sentinel_view(node, ask_sentinel) for node in self.addrs) if n)
        if named:
            node, votes = named.most_common(1)[0]
            if votes >= quorum(len(self.addrs)):
                return node
        masters = [n for n in self.addrs if (ask_role(*self._server(n), timeout=0.5) or ("",))[0] == "master"]
        return masters[0] if len(masters) == 1 else None

    def _server(self, node: str) -> tuple[str, int]:
        a = self._addr(node)
        return a.address, a.port

    def _sentinel_view(self, node: str, ask: Any) -> str | None:
        found = ask(*self.sentinel_addr(node), timeout=0.5)
        return None if found is None else self.node_at(*found)

    def _check_role(self, role: str | None) -> str | None:
        if role is not None and role not in ROLES:
            raise UnsupportedError(f"redis has no role {role!r}; roles: {', '.join(ROLES)}")
        return role

    # -- WaitsReady, HasLogs --------------------------------------------------

    def wait_ready(self, nodes: list[str] | None = None, timeout: float | None = None) -> None:
        """Every server answers and every replica's link to the primary is up; every Sentinel
        knows the primary, its replicas and the other Sentinels (found through the primary's
        hello channel), so a failover can happen from the first fault on."""
        from harness.targets.redis.client import sentinel_ready, server_ready

        n = len(self.addrs)
        for node in nodes or list(self.addrs):
            a = self._addr(node)
            daemon.wait_serving(self.remote, self.daemon(node, "redis"), f"redis on {a.address}:{a.port}",
                                functools.partial(server_ready, a.address, a.port, node != self.first),
                                timeout or self.ready_timeout)
            if self.settings.sentinel:
                host, port = self.sentinel_addr(node)
                daemon.wait_serving(self.remote, self.daemon(node, "sentinel"), f"redis-sentinel on {host}:{port}",
                                    functools.partial(sentinel_ready, host, port, n - 1),
                                    timeout or self.ready_timeout)

    def collect(self, test: Test | None, node: str, dst: Path) -> list[Path]:
        """The server's and the Sentinel's logs; the AOF stays behind."""
        for d in self.daemons(node):
            daemon.collect_log(self.remote, d, dst, Path(d.log).name)
        return sorted(p for p in Path(dst).rglob("*") if p.is_file())
