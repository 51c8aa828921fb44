"""The adapter for PostgreSQL: one independent server per node, from Debian's package.

Each node runs its own server (no replication): ``initdb`` makes a fresh
cluster under the node's run directory, and the postmaster runs through the
daemon helper (``harness.control.daemon``), so a kill, a pause, ``seam heal``
and the leftover sweep all find it by its pid file. The workload's clients
all talk to one of them, the ``primary`` (the first node), as Jepsen's
single-node PostgreSQL test does: two servers that share nothing would make
one history of two databases.

PostgreSQL refuses to run as root (``initdb: error: cannot be run as
root``). When Seam runs as root on a node, every PostgreSQL command runs as
the unprivileged ``postgres`` user that Debian's package creates (through
``setpriv``), and the data directory belongs to that user; where no such user
exists, setup fails with the command that creates one.

Layout on a node::

    <workdir>/data/        the cluster (PG_VERSION, base/, pg_wal/, ...), owned by postgres
    <workdir>/postgres.pid the postmaster's pid (the daemon helper's pid file)
    <workdir>/stdout.log   what the postmaster and initdb print

The server listens on the node's address and port, with no Unix socket, and
trusts every connection: the run's own network is the only way in. It runs
with ``fsync=off``: a kill stops processes, not the machine, so what a
committed transaction wrote is in the page cache and survives; syncing would
only slow every commit and ``initdb``.
"""

from __future__ import annotations

import logging
import signal
from pathlib import Path
from typing import Any

from harness.control import daemon
from harness.core.errors import RemoteError, TargetError, UnsupportedError
from harness.core.placement import NodeAddr
from harness.core.protocols import Remote, Test

log = logging.getLogger("seam.targets.postgres")

#: The role the clients' server holds.
PRIMARY = "primary"
ROLES = (PRIMARY,)
#: Where Debian's package puts the server binaries (not on PATH), newest first.
DEBIAN_BINDIRS = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin")
#: The unprivileged user a root Seam runs PostgreSQL as (Debian's package creates it).
USER = "postgres"
#: The superuser and database the clients use.
DBUSER, DBNAME = "postgres", "postgres"
#: A setting of our own on each postmaster's command line: its data directory, so a client
#: can tell this run's server from another's on the same address and port (client.connect).
MARKER = "seam.data_dir"
#: What the postmaster is told on its command line (besides directory, address and port).
SETTINGS = (
    "unix_socket_directories=",
    "fsync=off",
    "shared_buffers=32MB",
    "max_connections=200",
    "log_min_messages=warning",
)
NO_USER = (f"PostgreSQL cannot run as root, and node {{node}} has no user {USER!r} to run it as; "
           f"install Debian's postgresql package (it creates the user), or create one with "
           f"`useradd --system --user-group --home-dir /var/lib/postgresql {USER}`")
NO_BINARIES = ("node {node} has no PostgreSQL server binaries (initdb, postgres) in "
               + " or ".join(DEBIAN_BINDIRS) + " or on PATH; install Debian's postgresql package "
               "(`make install` does)")


def table(k: int, tables: int) -> str:
    """The table that holds key ``k`` (Jepsen's ``table-for``: one table per key group)."""
    return f"txn{k % tables}"


class PostgresTarget(daemon.SignalPause):
    """Target + Killable + Pausable + HasRoles + HasRoleHolders + WaitsReady + StopsAll + HasLogs."""

    def __init__(self, remote: Remote, addrs: dict[str, NodeAddr], *, tables: int = 3,
                 ready_timeout: float = 60.0):
        self.remote = remote
        self.addrs = dict(addrs)
        self.tables = tables
        self.ready_timeout = ready_timeout
        self._bindir: dict[str, str] = {}
        self._as_user: dict[str, tuple[str, ...]] = {}

    # -- layout ---------------------------------------------------------------

    def _addr(self, node: str) -> NodeAddr:
        try:
            return self.addrs[node]
        except KeyError:
            raise TargetError(f"unknown node {node!r}; this run has {', '.join(self.addrs)}") from None

    @property
    def primary(self) -> str:
        """The node whose server the clients use: the first node."""
        return next(iter(self.addrs))

    def bindir(self, node: str) -> str:
        """Where this node's ``initdb`` and ``postgres`` are (Debian's directory, else PATH)."""
        if node not in self._bindir:
            script = ('for d in "$@"; do [ -x "$d/postgres" ] && [ -x "$d/initdb" ] && { echo "$d"; exit 0; }; done; '
                      'p=$(command -v initdb) && dirname "$(readlink -f "$p")"')
            r = self.remote.run(node, ["sh", "-c", script, "sh", *DEBIAN_BINDIRS], timeout=30, check=False)
            found = r.stdout.strip().splitlines()
            if r.status != 0 or not found:
                raise TargetError(NO_BINARIES.format(node=node))
            self._bindir[node] = found[0]
        return self._bindir[node]

    def as_user(self, node: str) -> tuple[str, ...]:
        """The prefix that runs a command as PostgreSQL's user: nothing unless Seam is root there."""
        if node not in self._as_user:
            me = self.remote.run(node, ["id", "-u"], timeout=30, check=False).stdout.strip()
            if me != "0":
                self._as_user[node] = ()
            else:
                if self.remote.run(node, ["id", "-u", USER], timeout=30, check=False).status != 0:
                    raise TargetError(NO_USER.format(node=node))
                self._as_user[node] = ("setpriv", f"--reuid={USER}", f"--regid={USER}", "--init-groups", "--")
        return self._as_user[node]

    def daemon(self, node: str) -> daemon.Daemon:
        a = self._addr(node)
        argv = (*self.as_user(node), f"{self.bindir(node)}/postgres", "-D", a.data_dir,
                "-p", str(a.port), "-c", f"listen_addresses={a.host}", "-c", f"{MARKER}={a.data_dir}",
                *(x for s in SETTINGS for x in ("-c", s)))
        return daemon.Daemon(node, argv, f"{a.workdir}/postgres.pid", a.stdout_log, cwd=a.workdir,
                             marker=a.data_dir)

    # -- Target ---------------------------------------------------------------

    def setup(self, test: Test | None, node: str) -> None:
        """A fresh cluster in the node's run directory (initdb), then its postmaster (not
        waiting: wait_ready)."""
        a = self._addr(node)
        as_user = self.as_user(node)
        bindir = self.bindir(node)
        self.remote.run(node, ["mkdir", "-p", a.workdir], timeout=30)
        if self.remote.run(node, ["test", "-f", f"{a.data_dir}/PG_VERSION"], timeout=30, check=False).status != 0:
            self.remote.run(node, ["mkdir", "-p", "-m", "0700", a.data_dir], timeout=30)
            if as_user:
                self.remote.run(node, ["chown", f"{USER}:{USER}", a.data_dir], timeout=30)
            r = self.remote.run(node, [*as_user, "env", "-C", a.workdir, f"{bindir}/initdb", "-D", a.data_dir,
                                       "-U", DBUSER, "--auth=trust", "--no-sync", "--locale=C",
                                       "--encoding=UTF8"], timeout=120, check=False)
            if r.status != 0:
                raise TargetError(f"{node}: initdb failed ({r.status}): {(r.stderr or r.stdout).strip()[-500:]}")
            hba = "host all all 0.0.0.0/0 trust\nhost all all ::/0 trust\n"
            self.remote.run(node, ["sh", "-c", 'printf "%s" "$1" >> "$2"', "sh", hba, f"{a.data_dir}/pg_hba.conf"],
                            timeout=30)
        self.start(test, node)

    def teardown(self, test: Test | None, node: str) -> None:
        """Stop the server and remove its run directory (only one Seam named)."""
        a = self._addr(node)
        self._stop(node)
        daemon.remove_workdir(self.remote, node, a.workdir)

    def _stop(self, node: str) -> None:
        """SIGTERM is PostgreSQL's smart shutdown (waits for clients); SIGINT is fast shutdown."""
        d = self.daemon(node)
        found = daemon.pid(self.remote, d)
        if found is not None:
            daemon.signal_all(self.remote, d, signal.SIGCONT)
            self._signal_children(node, found, signal.SIGCONT)
            daemon.signal_all(self.remote, d, signal.SIGINT)
        daemon.stop(self.remote, d)

    # -- Killable -------------------------------------------------------------

    def start(self, test: Test | None, node: str, role: str | None = None) -> None:
        """Start the postmaster unless it runs (after a kill: crash recovery from its WAL)."""
        node = self._node_for(node, role)
        a = self._addr(node)
        try:
            pid = daemon.start(self.remote, self.daemon(node))
        except RemoteError as e:
            raise TargetError(f"{node}: cannot start postgres ({e}); is Debian's postgresql package installed "
                              "(`make install`)?") from None
        log.info("started %s: pid %d, %s:%d", node, pid, a.address, a.port)

    def kill(self, test: Test | None, node: str, role: str | None = None) -> list[int]:
        """SIGKILL the postmaster, then its backends (as a crash of the machine's
        PostgreSQL would: nothing gets to shut down cleanly)."""
        node = self._node_for(node, role)
        d = self.daemon(node)
        found = daemon.pid(self.remote, d)
        if found is None:
            return []
        children = self.children(node, found)
        killed = daemon.kill(self.remote, d)
        for child in children:
            self._signal(node, child, signal.SIGKILL)
        return killed + children

    def stop_all(self) -> None:
        for node in self.addrs:
            self._stop(node)

    # -- Pausable, roles ------------------------------------------------------

    def pids(self, test: Test | None, node: str, role: str | None = None) -> list[int]:
        """The postmaster and every backend: pausing the postmaster alone would leave the
        backends serving their clients."""
        node = self._node_for(node, role)
        found = daemon.pid(self.remote, self.daemon(node))
        if found is None:
            return []
        return [found, *self.children(node, found)]

    def children(self, node: str, pid: int) -> list[int]:
        r = self.remote.run(node, ["pgrep", "-P", str(pid)], timeout=30, check=False)
        return sorted(int(x) for x in r.stdout.split() if x.isdigit())

    def _signal_children(self, node: str, pid: int, sig: int) -> None:
        for child in self.children(node, pid):
            self._signal(node, child, sig)

    def _signal(self, node: str, pid: int, sig: int) -> None:
        try:
            self.remote.signal(node, pid, sig)
        except RemoteError:
            pass  # it exited already

    def roles(self) -> tuple[str, ...]:
        return ROLES

    def holder(self, test: Test | None, role: str, rng: Any) -> str | None:
        if role != PRIMARY:
            raise UnsupportedError(f"postgres has no role {role!r}; roles: {', '.join(ROLES)}")
        return self.primary

    def _node_for(self, node: str, role: str | None) -> str:
        if role is None:
            return node
        if role not in ROLES:
            raise UnsupportedError(f"postgres has no role {role!r}; roles: {', '.join(ROLES)}")
        return self.primary

    # -- WaitsReady, HasLogs --------------------------------------------------

    def wait_ready(self, nodes: list[str] | None = None, timeout: float | None = None) -> None:
        """Every server accepts a connection; then the workload's tables exist on each."""
        from harness.targets.postgres.client import connect, create_tables

        for node in nodes or list(self.addrs):
            a = self._addr(node)

            def ready(a: NodeAddr = a) -> None:
                with connect(a, timeout=1.0) as conn:
                    create_tables(conn, self.tables)

            daemon.wait_serving(self.remote, self.daemon(node), f"postgres on {a.address}:{a.port}", ready,
                                timeout or self.ready_timeout)

    def collect(self, test: Test | None, node: str, dst: Path) -> list[Path]:
        """The server's log (stdout.log); the data directory stays behind."""
        return daemon.collect_log(self.remote, self.daemon(node), dst, "postgres.log")
