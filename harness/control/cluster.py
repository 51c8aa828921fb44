"""The namespace cluster: N nodes on one machine, built from network namespaces.

Layout (prefix ``seam``, default subnet ``10.77.0.0/24``)::

    root namespace                     seam-n1                 seam-n2 ...
    seam-br0 10.77.0.1/24  --- seam-v1 === eth0 10.77.0.11      eth0 10.77.0.12
                           --- seam-v2 ===========================^

The subnet exists only on ``seam-br0`` and inside the namespaces: nodes get no
default route, so their traffic never leaves the bridge. The control node
reaches every node directly through ``seam-br0``. With ``ssh=True`` each
namespace also runs its own ``/usr/sbin/sshd`` on ``<address>:22`` with its own
host key; a generated client key and a ``known_hosts`` for those host keys
live in the state directory, so the SSH Remote verifies host keys as it would
against real machines.

Everything Seam creates is named ``<prefix>-...`` and recorded in
``<state_dir>/state.json`` before it is created, so ``down`` (or the next
``up``) removes what a crashed run left. ``up`` is idempotent and repairs a
half-built cluster (a namespace without its veth, a dead sshd); ``down``
removes namespaces, veths, the bridge, and stops the sshd processes by the pid
recorded in the state file and every process still inside its namespaces
(``ip netns pids``), never by name.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.control.local import pid_alive
from harness.control.netns import NetnsRemote
from harness.core.errors import ClusterError

if TYPE_CHECKING:
    from harness.control.ssh import SshHost

log = logging.getLogger("seam.cluster")

DEFAULT_SUBNET = "10.77.0.0/24"
DEFAULT_PREFIX = "seam"
SSHD = "/usr/sbin/sshd"
NEEDS_ROOT = "cluster needs root (network namespaces); use --cluster local"
#: node i gets host number NODE_HOST_BASE + i (10.77.0.11 for n1); the bridge gets host 1
NODE_HOST_BASE = 10
_PREFIX_RE = re.compile(r"^seam[a-z0-9]{0,6}$")


def default_state_dir(prefix: str = DEFAULT_PREFIX) -> Path:
    """``$SEAM_STATE_DIR`` (as given), else ``results/.cluster`` under the current directory,
    and for another prefix a directory of its own beside it (``results/.cluster-seamx``), so
    two clusters started from one directory never read (and tear down) each other's state."""
    given = os.environ.get("SEAM_STATE_DIR")
    if given:
        return Path(given)
    base = Path("results") / ".cluster"
    return base if prefix == DEFAULT_PREFIX else base.with_name(f"{base.name}-{prefix}")


def _recorded_state_dir() -> Path:
    """For ``seam cluster status``/``down`` with no prefix: the default directory, or the one
    other prefix's directory beside it that records a cluster; several is a ClusterError."""
    default = default_state_dir()
    if os.environ.get("SEAM_STATE_DIR") or (default / "state.json").exists():
        return default
    others = sorted(p for p in default.parent.glob(f"{default.name}-seam*") if (p / "state.json").exists())
    if len(others) > 1:
        names = ", ".join(p.name.split("-", 1)[1] for p in others)
        raise ClusterError(f"several clusters are recorded beside {default} ({names}); fix: give --prefix")
    return others[0] if others else default


@dataclass(frozen=True)
class NodeInfo:
    """One node of the cluster as the rest of Seam sees it."""

    name: str  # "n1"
    namespace: str  # "seam-n1"
    address: str  # "10.77.0.11"
    ssh_port: int | None = None  # 22 when the cluster runs sshd


class NetnsCluster:
    """Provisions ``nodes`` namespaces on a bridge; a context manager (up, then down).

    ``prefix`` (default ``seam``) lets tests run several clusters side by side
    (``seamt42-n1``...); it must start with ``seam`` and be at most 10
    characters, so every interface name fits Linux's 15.
    """

    def __init__(
        self,
        nodes: int = 5,
        subnet: str = DEFAULT_SUBNET,
        ssh: bool = False,
        state_dir: Path | None = None,
        prefix: str = DEFAULT_PREFIX,
    ):
        if not _PREFIX_RE.match(prefix):
            raise ClusterError(f"cluster prefix {prefix!r} must be 'seam' plus up to 6 of [a-z0-9]")
        self.prefix = prefix
        self.network = parse_subnet(subnet)
        max_nodes = min(99, self.network.num_addresses - NODE_HOST_BASE - 2)
        if not 1 <= nodes <= max_nodes:
            raise ClusterError(
                f"--nodes {nodes}: subnet {self.network} holds 1..{max_nodes} nodes; fix: pick a count in range or a larger --subnet"
            )
        self.nodes = nodes
        self.ssh = ssh
        self.state_dir = Path(
            state_dir if state_dir is not None else default_state_dir(prefix)
        ).absolute()
        self.bridge = f"{prefix}-br0"

    @classmethod
    def from_state(cls, state_dir: Path | None = None, prefix: str | None = None) -> NetnsCluster:
        """The cluster recorded in ``state_dir`` (for down and status), or the defaults."""
        if state_dir is None:
            state_dir = default_state_dir(prefix) if prefix else _recorded_state_dir()
        state_dir = Path(state_dir)
        try:
            state = json.loads((state_dir / "state.json").read_text())
        except (OSError, ValueError):
            state = {}
        if prefix is not None and state.get("prefix", prefix) != prefix:
            state = {}
        return cls(
            nodes=int(state.get("nodes", 5)),
            subnet=state.get("subnet", DEFAULT_SUBNET),
            ssh=bool(state.get("ssh", False)),
            state_dir=state_dir,
            prefix=prefix or state.get("prefix", DEFAULT_PREFIX),
        )

    # -- naming ------------------------------------------------------------------
    @property
    def state_file(self) -> Path:
        return self.state_dir / "state.json"

    @property
    def client_key(self) -> Path:
        return self.state_dir / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.state_dir / "known_hosts"

    def namespace(self, i: int) -> str:
        return f"{self.prefix}-n{i}"

    def veth(self, i: int) -> str:
        return f"{self.prefix}-v{i}"

    def address(self, i: int) -> str:
        return str(self.network.network_address + NODE_HOST_BASE + i)

    @property
    def bridge_address(self) -> str:
        return str(self.network.network_address + 1)

    def node_infos(self) -> list[NodeInfo]:
        port = 22 if self.ssh else None
        return [
            NodeInfo(f"n{i}", self.namespace(i), self.address(i), port)
            for i in range(1, self.nodes + 1)
        ]

    def remote(self) -> NetnsRemote:
        """A NetnsRemote for these nodes (node name -> namespace)."""
        return NetnsRemote({n.name: n.namespace for n in self.node_infos()})

    def ssh_hosts(self, username: str = "root") -> dict[str, SshHost]:
        """``SshHost`` per node, with the generated client key and known_hosts."""
        from harness.control.ssh import SshHost

        return {
            n.name: SshHost(
                host=n.address,
                port=22,
                username=username,
                key_file=str(self.client_key),
                known_hosts=str(self.known_hosts),
            )
            for n in self.node_infos()
        }

    # -- context manager ---------------------------------------------------------
    def __enter__(self) -> NetnsCluster:
        self.up()
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()

    # -- up ----------------------------------------------------------------------
    def up(self) -> list[NodeInfo]:
        """Create or repair the cluster; return its nodes. Safe to call twice."""
        require_root()
        require_ip()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with self._locked():
            old = self._read_state()
            # refuse a colliding subnet before touching anything, the old cluster included
            check_subnet_free(
                self.network, {self.bridge, f"{(old or {}).get('prefix', self.prefix)}-br0"}
            )
            theirs = str((old or {}).get("prefix") or self.prefix)
            if theirs != self.prefix and any(re.fullmatch(rf"{theirs}-n\d+", ns) for ns in namespaces()):
                raise ClusterError(
                    f"{self.state_file} records the running cluster {theirs!r}, not {self.prefix!r}; "
                    f"fix: give this cluster a state directory of its own (--cluster-state), or "
                    f"`seam cluster down --cluster-prefix {theirs}` first"
                )
            if old and (old.get("prefix") != self.prefix or old.get("subnet") != str(self.network)):
                log.info(
                    "cluster config changed (%s %s); removing the old one",
                    old.get("prefix"),
                    old.get("subnet"),
                )
                self._down_from_state(old)
                old = None
            state = {
                "prefix": self.prefix,
                "subnet": str(self.network),
                "nodes": self.nodes,
                "ssh": self.ssh,
                "sshd": (old or {}).get("sshd", {}),
            }
            self._write_state(state)
            try:
                self._build(state)
            except BaseException:
                # a half-built cluster is removed, never left
                log.error("cluster up failed; removing what was built")
                with contextlib.suppress(Exception):
                    self._down_from_state(self._read_state() or state)
                raise
        return self.node_infos()

    def _build(self, state: dict) -> None:
        self._remove_extra_nodes()
        self._ensure_bridge()
        for i in range(1, self.nodes + 1):
            self._ensure_node(i)
        if self.ssh:
            self._ensure_sshd(state)
        else:
            self._stop_sshd(state)
        self._write_state(state)

    def _ensure_bridge(self) -> None:
        if self.bridge not in root_links():
            ip("link", "add", self.bridge, "type", "bridge")
            warn_if_bridge_filtered(self.bridge)
        ip("addr", "replace", f"{self.bridge_address}/{self.network.prefixlen}", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")

    def _ensure_node(self, i: int) -> None:
        ns, veth = self.namespace(i), self.veth(i)
        if ns not in namespaces():
            ip("netns", "add", ns)
        has_host_end = veth in root_links()
        has_ns_end = "eth0" in ns_links(ns)
        if has_host_end != has_ns_end or not has_host_end:
            # half-built (or never built): start this node's link over
            if has_host_end:
                ip("link", "del", veth)
            if has_ns_end:
                ip("-n", ns, "link", "del", "eth0")
            ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
        ip("link", "set", veth, "master", self.bridge, "up")
        ip(
            "-n",
            ns,
            "addr",
            "replace",
            f"{self.address(i)}/{self.network.prefixlen}",
            "dev",
            "eth0",
        )
        ip("-n", ns, "link", "set", "eth0", "up")
        ip("-n", ns, "link", "set", "lo", "up")

    def _remove_extra_nodes(self) -> None:
        """Nodes beyond ``self.nodes`` from an earlier, larger cluster."""
        for ns in namespaces():
            i = self._node_index(ns)
            if i is not None and i > self.nodes:
                kill_namespace_pids(ns)
                ip("netns", "del", ns, check=False)
        for link in root_links():
            m = re.fullmatch(rf"{self.prefix}-v(\d+)", link)
            if m and int(m.group(1)) > self.nodes:
                ip("link", "del", link, check=False)

    def _node_index(self, ns: str) -> int | None:
        m = re.fullmatch(rf"{self.prefix}-n(\d+)", ns)
        return int(m.group(1)) if m else None

    # -- sshd --------------------------------------------------------------------
    def _ensure_sshd(self, state: dict) -> None:
        if not Path(SSHD).exists():
            raise ClusterError(
                f"--ssh needs {SSHD}; fix: apt-get install openssh-server (`make install` does it as root)"
            )
        require_tool("ssh-keygen", "apt-get install openssh-client")
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation directory
        keygen(self.client_key, "seam-client")
        shutil.copyfile(self.client_key.with_suffix(".pub"), self.state_dir / "authorized_keys")
        known = []
        sshd = state.setdefault("sshd", {})
        for node in self.node_infos():
            node_dir = self.state_dir / node.name
            node_dir.mkdir(exist_ok=True)
            host_key = node_dir / "ssh_host_ed25519_key"
            keygen(host_key, f"seam-{node.name}")
            config = node_dir / "sshd_config"
            config.write_text(
                sshd_config(node.address, host_key, self.state_dir / "authorized_keys")
            )
            key_type, key_b64 = host_key.with_suffix(".pub").read_text().split()[:2]
            known.append(f"{node.address} {key_type} {key_b64}")
            entry = sshd.get(node.name)
            if (
                entry
                and _is_our_process(entry["pid"], str(config))
                and port_open(node.address, 22, 0.5)
            ):
                continue
            if entry:
                stop_pid(entry["pid"], str(config))
            pid = start_sshd(node.namespace, config, node_dir / "sshd.log")
            sshd[node.name] = {"pid": pid, "config": str(config), "namespace": node.namespace}
            self._write_state(state)  # record the pid before waiting on it
            wait_port(node.address, 22, 10.0, node_dir / "sshd.log", node.name)
        self.known_hosts.write_text("\n".join(known) + "\n")

    def _stop_sshd(self, state: dict) -> None:
        for entry in state.get("sshd", {}).values():
            stop_pid(entry["pid"], entry["config"])
        state["sshd"] = {}

    # -- down --------------------------------------------------------------------
    def down(self) -> None:
        """Remove everything this cluster's prefix names, and stop its processes. Idempotent."""
        require_root()
        require_ip()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with self._locked():
            self._down_from_state(self._read_state() or {"prefix": self.prefix})

    def _down_from_state(self, state: dict) -> None:
        prefix = state.get("prefix", self.prefix)
        problems: list[str] = []
        for entry in state.get("sshd", {}).values():
            stop_pid(entry["pid"], entry["config"])
        ours = [ns for ns in namespaces() if re.fullmatch(rf"{prefix}-n\d+", ns)]
        for ns in ours:
            kill_namespace_pids(ns)
        for ns in ours:
            r = ip("netns", "del", ns, check=False)
            if r.returncode != 0:
                problems.append(f"netns {ns}: {r.stderr.strip()}")
        for link in root_links():
            if re.fullmatch(rf"{prefix}-(v\d+|br0)", link):
                r = ip("link", "del", link, check=False)
                if r.returncode != 0 and link in root_links():
                    problems.append(f"link {link}: {r.stderr.strip()}")
        self.state_file.unlink(missing_ok=True)
        if problems:
            raise ClusterError(
                "cluster down left: "
                + "; ".join(problems)
                + "; fix: remove them with `ip netns del` / `ip link del` and rerun `seam cluster down`"
            )

    # -- status ------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """What exists now: bridge, each node's namespace, link, address and sshd."""
        require_ip()
        state = self._read_state() or {}
        links = root_links()
        all_ns = namespaces()
        nodes = []
        count = max([self.nodes if state else 0] + [self._node_index(ns) or 0 for ns in all_ns])
        for i in range(1, count + 1):
            ns = self.namespace(i)
            exists = ns in all_ns
            if not exists and not state:
                continue
            inner = ns_links(ns) if exists else {}
            sshd = state.get("sshd", {}).get(f"n{i}")
            nodes.append(
                {
                    "name": f"n{i}",
                    "namespace": ns,
                    "exists": exists,
                    "address": self.address(i),
                    "veth": self.veth(i) in links,
                    "eth0": inner.get("eth0", "missing"),
                    "lo": inner.get("lo", "missing"),
                    "sshd_pid": sshd["pid"] if sshd else None,
                    "sshd_alive": bool(sshd) and _is_our_process(sshd["pid"], sshd["config"]),
                }
            )
        return {
            "prefix": self.prefix,
            "subnet": state.get("subnet", str(self.network)),
            "state_file": str(self.state_file),
            "recorded": bool(state),
            "bridge": {
                "name": self.bridge,
                "exists": self.bridge in links,
                "address": self.bridge_address,
            },
            "nodes": nodes,
        }

    # -- state file --------------------------------------------------------------
    def _read_state(self) -> dict | None:
        try:
            return json.loads(self.state_file.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            log.warning("ignoring unreadable cluster state %s: %s", self.state_file, e)
            return None

    def _write_state(self, state: dict) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2, sort_keys=True))
        os.replace(tmp, self.state_file)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One up/down at a time per state directory."""
        with open(self.state_dir / ".lock", "w") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)


# -- checks ----------------------------------------------------------------------


def require_root() -> None:
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        raise ClusterError(NEEDS_ROOT)


def require_ip() -> None:
    require_tool("ip", "apt-get install iproute2 (`make install` does it as root)")


def require_tool(name: str, fix: str) -> None:
    if shutil.which(name) is None:
        raise ClusterError(f"cluster needs `{name}`, which is not on PATH; fix: {fix}")


def parse_subnet(subnet: str) -> ipaddress.IPv4Network:
    """A private IPv4 subnet with room for a bridge and nodes."""
    try:
        net = ipaddress.ip_network(subnet, strict=True)
    except ValueError as e:
        raise ClusterError(
            f"--subnet {subnet!r} is not a network ({e}); fix: use a form like {DEFAULT_SUBNET}"
        ) from None
    if not isinstance(net, ipaddress.IPv4Network):
        raise ClusterError(
            f"--subnet {subnet}: only IPv4 subnets are supported; fix: use a form like {DEFAULT_SUBNET}"
        )
    if not net.is_private or net.is_loopback or net.is_link_local or net.prefixlen > 27:
        raise ClusterError(
            f"--subnet {subnet} must be a private IPv4 network of /27 or larger "
            f"(not loopback or link-local); fix: use e.g. {DEFAULT_SUBNET}"
        )
    return net


def check_subnet_free(net: ipaddress.IPv4Network, bridges: set[str]) -> None:
    """Refuse a subnet that overlaps a host route or address not on our own bridge(s)."""
    for route in ip_json("-4", "route", "show"):
        dst, dev = route.get("dst", ""), route.get("dev", "")
        if dst == "default" or dev in bridges:
            continue
        other = ipaddress.ip_network(dst if "/" in dst else f"{dst}/32", strict=False)
        if other.overlaps(net):
            raise ClusterError(
                f"subnet {net} collides with the host route {dst} dev {dev}; "
                f"fix: pick a free one with --subnet (e.g. 10.78.0.0/24)"
            )
    for link in ip_json("-4", "addr", "show"):
        if link.get("ifname") in bridges:
            continue
        for a in link.get("addr_info", []):
            if ipaddress.ip_address(a["local"]) in net:
                raise ClusterError(
                    f"subnet {net} collides with address {a['local']} on {link.get('ifname')}; "
                    f"fix: pick a free one with --subnet"
                )


def warn_if_bridge_filtered(bridge: str) -> None:
    """Say so when the host firewall would drop traffic between nodes on the bridge.

    With br_netfilter loaded, bridged frames cross the root namespace's
    FORWARD chain; a DROP policy there (Docker sets one) silently cuts every
    node off from every other. Seam does not change the host firewall.
    """
    try:
        filtered = Path("/proc/sys/net/bridge/bridge-nf-call-iptables").read_text().strip() == "1"
    except OSError:
        return
    if not filtered or shutil.which("iptables") is None:
        return
    rules = subprocess.run(
        ["iptables", "-S", "FORWARD"], capture_output=True, text=True, timeout=10
    ).stdout
    if "-P FORWARD DROP" in rules and f"-i {bridge}" not in rules:
        log.warning(
            "the host's iptables FORWARD policy is DROP and bridged traffic is filtered, so nodes on %s "
            "cannot reach each other; fix: `iptables -I FORWARD -i %s -o %s -j ACCEPT` "
            "or `sysctl net.bridge.bridge-nf-call-iptables=0`",
            bridge,
            bridge,
            bridge,
        )


# -- ip(8) -----------------------------------------------------------------------


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and proc.returncode != 0:
        raise ClusterError(
            f"`ip {' '.join(args)}` exited {proc.returncode}: {proc.stderr.strip()}; "
            f"fix: run `seam cluster down` and try again"
        )
    return proc


def ip_json(*args: str) -> list[dict]:
    out = ip("-j", *args).stdout.strip()
    return json.loads(out) if out else []


def namespaces() -> list[str]:
    return [n["name"] for n in ip_json("netns", "list")]


def root_links() -> list[str]:
    return [link["ifname"] for link in ip_json("link", "show")]


def ns_links(ns: str) -> dict[str, str]:
    """Interface name -> "up"/"down" inside namespace ns (empty if it is gone)."""
    proc = ip("-j", "-n", ns, "link", "show", check=False)
    if proc.returncode != 0 or not proc.stdout.strip():
        return {}
    return {
        link["ifname"]: ("up" if "UP" in link.get("flags", []) else "down")
        for link in json.loads(proc.stdout)
    }


# -- processes -------------------------------------------------------------------


def _cmdline(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


def _is_our_process(pid: int, marker: str) -> bool:
    """pid is alive and is the process we started (its argv names our config), not a reused pid."""
    return pid_alive(pid) and marker in _cmdline(pid)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def wait_gone(pids: list[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    left = list(pids)
    while left and time.monotonic() < deadline:
        for pid in left:
            _reap(pid)
        left = [p for p in left if pid_alive(p)]
        if left:
            time.sleep(0.02)
    return left


def stop_pid(pid: int, marker: str) -> None:
    """SIGTERM, then SIGKILL, a process we started; skip a pid that now belongs to someone else."""
    if not _is_our_process(pid, marker):
        _reap(pid)
        return
    _kill_all([pid])


def _kill_all(pids: list[int]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        pids = wait_gone(pids, 3.0)
        if not pids:
            return
    log.warning("processes %s did not exit after SIGKILL", pids)


def kill_namespace_pids(ns: str) -> None:
    """Stop every process inside one of our namespaces, so the namespace really goes away."""
    proc = ip("netns", "pids", ns, check=False)
    pids = [int(p) for p in proc.stdout.split() if p.isdigit() and int(p) != os.getpid()]
    if pids:
        _kill_all(pids)


def keygen(path: Path, comment: str) -> None:
    """An ed25519 key pair at path (kept if it already exists, so known_hosts stays valid)."""
    if path.exists() and path.with_suffix(".pub").exists():
        return
    path.unlink(missing_ok=True)
    proc = subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if proc.returncode != 0:
        raise ClusterError(f"ssh-keygen for {path} exited {proc.returncode}: {proc.stderr.strip()}")


def sshd_config(address: str, host_key: Path, authorized_keys: Path) -> str:
    return "\n".join(
        [
            "# written by seam cluster up; one sshd per namespace",
            f"ListenAddress {address}:22",
            f"HostKey {host_key}",
            "PidFile none",
            f"AuthorizedKeysFile {authorized_keys}",
            "PermitRootLogin prohibit-password",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "StrictModes no",
            "UseDNS no",
            "PrintMotd no",
            "Subsystem sftp internal-sftp",
            "",
        ]
    )


def start_sshd(ns: str, config: Path, logfile: Path) -> int:
    """sshd -D inside ns, detached; the pid is sshd's own (ip netns exec execs it)."""
    proc = subprocess.Popen(
        ["ip", "netns", "exec", ns, SSHD, "-D", "-f", str(config), "-E", str(logfile)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    # Popen would warn when collected while sshd still runs; sshd is a service, reaped in down()
    proc.returncode = 0
    return proc.pid


def port_open(address: str, port: int, timeout: float) -> bool:
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_port(address: str, port: int, seconds: float, logfile: Path, node: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if port_open(address, port, 0.5):
            return
        time.sleep(0.05)
    tail = logfile.read_text(errors="replace").strip().splitlines()[-1:] if logfile.exists() else []
    raise ClusterError(
        f"sshd on {node} did not listen on {address}:{port} within {seconds:g}s"
        f"{': ' + tail[0] if tail else ''}; fix: read {logfile}"
    )


def nodes_as_dicts(nodes: list[NodeInfo]) -> list[dict]:
    return [asdict(n) for n in nodes]
