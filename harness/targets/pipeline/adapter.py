"""The adapter for target/, the reference pipeline.

``PipelineTarget`` installs target/ on every node of a run, writes each
node's ``node.json``, starts one ``python3 -m target.node`` process per node
and answers the optional abilities nemeses ask for: ``Killable`` (start,
kill), ``Pausable`` (pids), ``HasLeader`` (GET /leader), ``HasLiveState``
(each node's final metrics, while it still runs) and ``HasLogs`` (logs and
ledgers into ``nodes/<node>/``, once every node is stopped).

Layout on a node (one directory per run, so runs never share state)::

    <root>/<node>/target/       the code, copied (local, netns) or sent by SFTP (ssh)
    <root>/<node>/node.json     this node's config
    <root>/<node>/data/         data_dir: node.log, replicas, ledgers, terms
    <root>/<node>/stdout.log    the process's stdout and stderr

Where nodes listen: ``local`` puts node i on 127.0.0.(10+i) (distinct
loopback addresses, so a partition nemesis can tell nodes apart) and port
base+i; ``netns`` uses each namespace's address; ``ssh`` binds 0.0.0.0
and peers reach each other by the host names the user gave.

The clients for the register and orders workloads are in ``clients.py``.
"""

from __future__ import annotations

import http.client
import json
import logging
import secrets
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from harness.control import daemon
from harness.core.errors import RemoteError, TargetError, UnsupportedError
from harness.core.placement import NodeAddr
from harness.core.protocols import Remote, Test
from target.client import exchange

log = logging.getLogger("seam.target.pipeline")

#: target/ in this checkout: what gets installed on the nodes.
TARGET_SOURCE = Path(__file__).resolve().parents[3] / "target"
#: Roles a nemesis may aim at (``HasRoles``): "leader" is the orchestrator leader.
ROLES = ("leader", "home")
#: How many of the latest client ops role ``home`` looks at for the keys in use.
RECENT_OPS = 200


def recent_keys(history: list[Any], last: int = RECENT_OPS) -> list[str]:
    """The store keys of the latest client ops, newest first: a register op's key
    (value ``[key, v]``), an orders op's ``order:<id>``."""
    keys: dict[str, None] = {}
    for op in history[-last:][::-1]:
        value = getattr(op, "value", None)
        if getattr(op, "process", None) == "nemesis":
            continue
        if isinstance(value, (list, tuple)) and len(value) == 2:
            keys.setdefault(str(value[0]))
        elif isinstance(value, dict) and isinstance(value.get("order_id"), str):
            keys.setdefault(f"order:{value['order_id']}")
    return list(keys)
#: Older fault ledgers name the leader role by its long name.
_ROLE_ALIASES = {"orchestrator-leader": "leader"}
#: How a skewed node learns its offset: by itself (target/clockshim.py) or through libfaketime.
CLOCKS = ("shim", "libfaketime")
#: Where Debian and others install libfaketime (the -MT variant is for threaded programs).
FAKETIME_LIBS = (
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
    "/usr/lib/faketime/libfaketimeMT.so.1",
    "/usr/local/lib/faketime/libfaketimeMT.so.1",
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/faketime/libfaketime.so.1",
)


class PipelineTarget(daemon.SignalPause):
    """Target + Killable + Pausable + HasLeader + HasLogs + HasLiveState + HasAppFaults (+ Skewable) for target/.

    With ``skew=True`` every node reads its wall-clock offset from
    ``<workdir>/faketime`` (``clock_file``), which ``skew_clock``
    rewrites; monotonic clocks are left alone, so leases and timeouts keep
    real time while HLC and wall-clock stamps drift. ``clock="shim"`` (the
    default) has the node apply the offset itself (``target/clockshim.py``:
    free while the offset is 0); ``clock="libfaketime"`` preloads
    libfaketime instead, as for a system Seam cannot change (it slows every
    timed wait: /health 0.5 ms -> 35 ms, measured).

    Invariants: ``setup`` and ``teardown`` are idempotent per node; every
    pid this adapter started is remembered until it is seen dead, so
    ``teardown`` (and ``stop_all``) can always stop what was started, by pid.
    """

    def __init__(
        self,
        remote: Remote,
        addrs: dict[str, NodeAddr],
        *,
        replication: tuple[int, int, int] = (3, 2, 2),
        bugs: list[str] | tuple[str, ...] = (),
        seed: int = 1,
        python: str = "python3",
        source: Path = TARGET_SOURCE,
        grace: float = 3.0,
        ready_timeout: float = 20.0,
        extra_config: dict[str, Any] | None = None,
        skew: bool = False,
        clock: str = "shim",
    ):
        self.remote = remote
        self.addrs = dict(addrs)
        self.replication = tuple(replication)
        self.bugs = list(bugs)
        self.seed = seed
        self.python = python
        self.source = Path(source)
        self.grace = grace
        self.ready_timeout = ready_timeout
        self.extra_config = dict(extra_config or {})
        self.skew = skew
        if clock not in CLOCKS:
            raise TargetError(f"clock {clock!r}: choose {' or '.join(CLOCKS)}")
        self.clock = clock
        self.admin_secret = secrets.token_hex(12)
        self._clock_ready: dict[str, str] = {}  # node -> libfaketime path ("" for the shim)

    @property
    def nodes(self) -> list[str]:
        return list(self.addrs)

    # -- config ---------------------------------------------------------------

    def node_config(self, node: str) -> dict[str, Any]:
        """The node.json for ``node`` (see target/config.py for every key)."""
        a = self._addr(node)
        n, w, r = self.replication
        cfg: dict[str, Any] = {
            "node": node,
            "host": a.host,
            "port": a.port,
            "data_dir": a.data_dir,
            "peers": {p.name: p.url for p in self.addrs.values()},
            "replication": {"n": n, "w": w, "r": r},
            "bugs": list(self.bugs),
            "admin_secret": self.admin_secret,
            "log": "node.log",
            "seed": self.seed,
            # Nodes sharing this host's loopback must send from their own 127.0.0.x, or a
            # partition between two of them (rules naming addresses) would never match.
            "bind_source": a.host.startswith("127.") and a.host != "127.0.0.1",
        }
        cfg.update(self.extra_config)
        return cfg

    def _addr(self, node: str) -> NodeAddr:
        try:
            return self.addrs[node]
        except KeyError:
            raise TargetError(f"unknown node {node!r}; this run has {', '.join(self.addrs)}") from None

    # -- Target ---------------------------------------------------------------

    def setup(self, test: Test | None, node: str) -> None:
        """Install target/ and node.json on ``node`` and start it (not waiting: see wait_ready)."""
        self.install(node)
        self.start(test, node)

    def install(self, node: str) -> None:
        a = self._addr(node)
        self.remote.run(node, ["mkdir", "-p", a.workdir, a.data_dir], timeout=30)
        with tempfile.TemporaryDirectory(prefix="seam-stage-") as tmp:
            stage = Path(tmp)
            shutil.copytree(self.source, stage / "target", ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "tests"))
            (stage / "node.json").write_text(json.dumps(self.node_config(node), indent=2) + "\n")
            self.remote.upload(node, stage / "target", f"{a.workdir}/target")
            self.remote.upload(node, stage / "node.json", f"{a.workdir}/node.json")

    def teardown(self, test: Test | None, node: str) -> None:
        """Stop the node's process and remove its run directory."""
        self.stop(node)
        a = self._addr(node)
        daemon.remove_workdir(self.remote, node, a.workdir)

    # -- Killable -------------------------------------------------------------

    def daemon(self, node: str, env: dict[str, str] | None = None) -> daemon.Daemon:
        """The node's process as the daemon helper runs it: pid file beside node.json,
        found again by its run directory in the command line. ``env`` matters only to start."""
        a = self._addr(node)
        argv = (self.python, "-m", "target.node", "--config", f"{a.workdir}/node.json")
        return daemon.Daemon(node, argv, f"{a.workdir}/node.pid", a.stdout_log, cwd=a.workdir, env=env or {},
                             marker=a.workdir)

    def start(self, test: Test | None, node: str, role: str | None = None) -> None:
        """Start the node's process unless it is already running."""
        self._check_role(role)
        if daemon.pid(self.remote, self.daemon(node)) is not None:
            return
        env = {"PYTHONUNBUFFERED": "1", **self._faketime_env(node)}
        pid = daemon.start(self.remote, self.daemon(node, env))
        log.info("started %s: pid %d, %s", node, pid, self._addr(node).url)

    def kill(self, test: Test | None, node: str, role: str | None = None) -> list[int]:
        """SIGKILL the node's process (for role "leader", only if it leads now)."""
        if not self.pids(test, node, role):
            return []
        return daemon.kill(self.remote, self.daemon(node))

    def stop(self, node: str) -> None:
        """SIGTERM (resuming a paused node first), SIGKILL after the grace period. Idempotent."""
        daemon.stop(self.remote, self.daemon(node), self.grace)

    def stop_all(self) -> None:
        """Stop every node at once (SIGTERM to all, then wait for each), so no node
        goes on acting on the others' state while one after another is stopped."""
        daemon.stop_all(self.remote, [self.daemon(node) for node in self.addrs], self.grace)

    # -- Pausable -------------------------------------------------------------

    def pids(self, test: Test | None, node: str, role: str | None = None) -> list[int]:
        """The running pid of the node's process; for role "leader", only if it leads."""
        role = self._check_role(role)
        found = daemon.pid(self.remote, self.daemon(node))
        if found is None:
            return []
        if role == "leader" and self.leader(test) != node:
            return []
        return [found]

    def _check_role(self, role: str | None) -> str | None:
        """The role's current name; an unknown role is refused (node, or one of ROLES)."""
        role = _ROLE_ALIASES.get(role or "", role)
        if role not in (None, "node", *ROLES):
            raise UnsupportedError(f"the pipeline has no role {role!r}; roles: node, {', '.join(ROLES)}")
        return role

    # -- HasRoles -------------------------------------------------------------

    def roles(self) -> tuple[str, ...]:
        """Roles a nemesis may aim at besides a plain node."""
        return ROLES

    def holder(self, test: Test | None, role: str, rng: Any) -> str | None:
        """Who holds a role now. ``home``: the home replica (the coordinator of writes) of
        a key the clients used lately, drawn by ``rng`` (a random node before any)."""
        if role == "leader":
            return self.leader(test)
        if role != "home":
            raise UnsupportedError(f"the pipeline has no role {role!r}; roles: node, {', '.join(ROLES)}")
        keys = recent_keys(getattr(test, "history", None) or [])
        if not keys:
            return str(rng.choice(sorted(self.addrs)))
        from target.store import placement

        return placement(rng.choice(keys), sorted(self.addrs), 1)[0]

    # -- HasLeader ------------------------------------------------------------

    def leader(self, test: Test | None) -> str | None:
        """The node that says it leads, with the highest term; None if nobody does."""
        best: tuple[int, str] | None = None
        for node, a in self.addrs.items():
            try:
                status, body = http_json(a.address, a.port, "GET", "/leader", timeout=0.5)
            except OSError:
                continue
            if status == 200 and body.get("is_leader"):
                term = int(body.get("term") or 0)
                if best is None or term > best[0]:
                    best = (term, node)
        return best[1] if best else None

    # -- readiness ------------------------------------------------------------

    def wait_ready(self, nodes: list[str] | None = None, timeout: float | None = None) -> None:
        """Wait until every node answers GET /health; name the first that does not, with its log."""
        deadline = time.monotonic() + (timeout or self.ready_timeout)
        pending = list(nodes or self.nodes)
        while pending:
            node = pending[0]
            a = self._addr(node)
            pid = daemon.pid(self.remote, self.daemon(node))
            try:
                status, body = http_json(a.address, a.port, "GET", "/health", timeout=1.0)
                if status == 200 and body.get("pid") in (None, pid):
                    pending.pop(0)
                    continue
                if status == 200:
                    raise TargetError(
                        f"{node}: another process (pid {body.get('pid')}) answers on {a.url}, not the one "
                        f"this run started (pid {pid}); a crashed run left it: `seam heal --stop-nodes`"
                    )
            except OSError:
                pass
            if pid is None:
                raise TargetError(f"{node}: target.node exited during start-up; {self._log_tail(node)}")
            if time.monotonic() > deadline:
                raise TargetError(
                    f"{node}: no answer on {a.url}/health after {timeout or self.ready_timeout:g}s; {self._log_tail(node)}"
                )
            time.sleep(0.1)

    def _log_tail(self, node: str) -> str:
        a = self._addr(node)
        try:
            r = self.remote.run(node, ["tail", "-n", "3", a.stdout_log], timeout=10, check=False)
            tail = " | ".join(line.strip() for line in r.stdout.splitlines() if line.strip())
        except RemoteError:
            tail = ""
        return f"its log {a.stdout_log} says: {tail}" if tail else f"see {a.stdout_log} on {node}"

    # -- Skewable --------------------------------------------------------------

    def skew_clock(self, test: Test | None, node: str, seconds: float) -> None:
        """Offset the node's wall clock by ``seconds`` (0: the real clock) by rewriting the
        file its shim or libfaketime reads, in libfaketime's syntax (``+5s``, ``-3s``)."""
        self._write_clock_file(node, seconds)

    def clock_file(self, node: str) -> str:
        """The file the node reads its offset from."""
        if not self.skew:
            raise UnsupportedError(
                "this run started its nodes without a skewable clock; the clock nemesis needs the target started "
                "with skew=True (seam test --nemesis clock does that)"
            )
        return f"{self._addr(node).workdir}/faketime"

    def _faketime_env(self, node: str) -> dict[str, str]:
        if not self.skew:
            return {}
        if node not in self._clock_ready:  # first start: libfaketime found, the offset file at +0s
            self._clock_ready[node] = self._find_faketime(node) if self.clock == "libfaketime" else ""
            self._write_clock_file(node)
        if self.clock == "shim":
            return {"SEAM_CLOCK_FILE": self.clock_file(node)}
        return {
            "LD_PRELOAD": self._clock_ready[node],
            "FAKETIME_TIMESTAMP_FILE": self.clock_file(node),
            "FAKETIME_NO_CACHE": "1",
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        }

    def _find_faketime(self, node: str) -> str:
        """libfaketime's path on the node."""
        script = "for f in " + " ".join(FAKETIME_LIBS) + '; do [ -e "$f" ] && { echo "$f"; exit 0; }; done; exit 1'
        r = self.remote.run(node, ["sh", "-c", script], timeout=30, check=False)
        if r.status != 0 or not r.stdout.strip():
            raise TargetError(f"{node}: libfaketime not found (looked in {', '.join(FAKETIME_LIBS)}); "
                              "fix: apt-get install libfaketime, or run without the clock nemesis")
        return r.stdout.strip().splitlines()[0]

    def _write_clock_file(self, node: str, seconds: float = 0) -> None:
        """The node's offset file: +0s until the clock nemesis skews it."""
        with tempfile.TemporaryDirectory(prefix="seam-faketime-") as tmp:
            f = Path(tmp) / "faketime"
            f.write_text(f"{seconds:+g}s\n")
            self.remote.upload(node, f, self.clock_file(node))

    # -- HasAppFaults ---------------------------------------------------------

    def inject_fault(self, test: Test | None, node: str, fault: dict[str, Any]) -> None:
        """Arm an application fault (lost-response, slow-response, down, stall, crash) on a node."""
        body = {"secret": self.admin_secret, "count": 1, "seconds": 0.0, **fault}
        self._admin(node, "/admin/fault", body)

    def clear_faults(self, test: Test | None, node: str) -> None:
        self._admin(node, "/admin/fault/clear", {"secret": self.admin_secret})

    def _admin(self, node: str, path: str, body: dict[str, Any]) -> None:
        a = self._addr(node)
        try:
            status, reply = http_json(a.address, a.port, "POST", path, body, timeout=2.0)
        except OSError as e:
            raise TargetError(f"{node}: POST {path} failed: {e}; is the node up?") from None
        if status != 200:
            raise TargetError(f"{node}: POST {path} answered {status}: {reply.get('error') or reply}")

    # -- HasLogs --------------------------------------------------------------

    def snapshot(self, test: Test | None, node: str, dst: Path) -> list[Path]:
        """HasLiveState: the node's final metrics into dst/metrics.json (none from a dead node)."""
        a = self._addr(node)
        dst = Path(dst)
        dst.mkdir(parents=True, exist_ok=True)
        try:
            status, body = http_json(a.address, a.port, "GET", "/metrics", timeout=2.0)
        except OSError as e:
            log.info("snapshot %s: no metrics (%s); the node is down", node, e)
            return []
        if status != 200:
            return []
        out = dst / "metrics.json"
        out.write_text(json.dumps(body, indent=2) + "\n")
        return [out]

    def collect(self, test: Test | None, node: str, dst: Path) -> list[Path]:
        """Copy data_dir (logs, ledgers, fence logs), stdout.log and node.json into dst.

        Files only, so it works on a stopped node (the runner stops every node
        first); each part that fails is logged and skipped, so one missing file
        never hides the others.
        """
        a = self._addr(node)
        dst = Path(dst)
        dst.mkdir(parents=True, exist_ok=True)
        for src, target in ((a.data_dir, dst), (a.stdout_log, dst / "stdout.log"), (f"{a.workdir}/node.json", dst / "node.json")):
            try:
                self.remote.download(node, src, target)
            except RemoteError as e:
                log.warning("collect %s: %s", node, e)
        return sorted(p for p in dst.rglob("*") if p.is_file())


# ---------------------------------------------------------------------------
# HTTP: one short-lived helper and one per-client connection holder.


def http_json(host: str, port: int, method: str, path: str, body: Any = None, *, timeout: float) -> tuple[int, dict[str, Any]]:
    """One request on a fresh connection; raises OSError (timeout, refused, reset) for the
    caller to classify. A half-read or malformed reply may have been applied: a reset."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        return exchange(conn, method, path, body)
    except http.client.HTTPException as e:
        raise ConnectionResetError(f"bad HTTP reply: {e!r}") from None
    finally:
        conn.close()
