"""Nodes for a run: the Remote and each node's placement, by cluster kind.

Part of the composition root: the only code that names the concrete Remotes
(``LocalRemote``, ``NetnsRemote`` through ``NetnsCluster``, ``SshRemote``).
``provision`` builds them for a new run; ``remote_for_run`` rebuilds the
same Remote from a stored run's ``test.json`` (``seam heal``, the next run's
heal of a dead one); ``gone_nodes`` says which of a stored run's nodes no
longer exist.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from harness.core.errors import InputError, TargetError
from harness.core.placement import NodeAddr, local_addrs, mapped_addrs, run_root
from harness.core.protocols import Remote
from harness.spec import TestSpec
from harness.targets.base import HostCheck

log = logging.getLogger("seam.runner")


def running_as_root() -> bool:
    """Namespaces and iptables need root; asked before anything starts."""
    return hasattr(os, "geteuid") and os.geteuid() == 0


def provision(spec: TestSpec, run_name: str, scopes: contextlib.ExitStack,
              host_check: HostCheck | None = None) -> tuple[Remote, dict[str, NodeAddr]]:
    """A Remote and each node's address for ``spec.cluster``; cleanup goes on ``scopes``.
    SSH hosts must pass the target's ``host_check`` before anything is installed."""
    run_id = f"{spec.name}-{run_name}-{os.getpid()}"
    root = run_root(spec.cluster, run_id)
    if spec.cluster == "local":
        from harness.control.local import LocalRemote

        remote: Any = LocalRemote()
        scopes.callback(remote.close)
        if spec.base_port:
            addrs = local_addrs(spec.node_names(), root, spec.base_port)
            check_ports_free(addrs)
            return remote, addrs
        return remote, free_local_addrs(spec, root)
    if spec.cluster == "netns":
        from harness.control.cluster import NetnsCluster

        wanted = spec.node_names()
        count = max([spec.node_count] + [int(n[1:]) for n in wanted if n[1:].isdigit()])
        cluster = NetnsCluster(nodes=count, subnet=spec.subnet, prefix=spec.cluster_prefix,
                               state_dir=Path(spec.cluster_state) if spec.cluster_state else None)
        existed = bool(cluster.status().get("recorded"))
        infos = cluster.up()
        if not existed:
            # We made it, so we remove it; a cluster made by `seam cluster up` stays.
            scopes.callback(_down_quietly, cluster)
        remote = cluster.remote()
        scopes.callback(remote.close)
        log.info("netns cluster: %s", ", ".join(f"{i.name}={i.address}" for i in infos))
        return remote, mapped_addrs({i.name: i.address for i in infos if i.name in wanted}, root, spec.base_port or 7100)
    return _provision_ssh(spec, root, scopes, host_check)


def _provision_ssh(spec: TestSpec, root: str, scopes: contextlib.ExitStack,
                   host_check: HostCheck | None) -> tuple[Remote, dict[str, NodeAddr]]:
    from harness.control.ssh import SshHost, SshRemote

    hosts = {
        n: SshHost(host=n, port=spec.ssh_port, username=spec.username or "root", key_file=spec.ssh_key,
                   known_hosts=spec.known_hosts, sudo=spec.ssh_sudo, insecure=spec.ssh_insecure)
        for n in spec.nodes
    }
    remote = SshRemote(hosts)
    scopes.callback(remote.close)
    if spec.ssh_insecure:
        log.warning("--ssh-insecure: accepting unknown host keys of %s", ", ".join(spec.nodes))
    # Reach every node before touching any: an unreachable node, or one without what the
    # target runs, is exit 3 with nothing started.
    with ThreadPoolExecutor(max_workers=min(8, len(spec.nodes))) as pool:
        for f in [pool.submit(_check_host, remote, n, host_check) for n in spec.nodes]:
            f.result()
    return remote, mapped_addrs({n: n for n in spec.nodes}, root, spec.base_port or 7100, bind_all=True)


def _check_host(remote: Remote, node: str, check: HostCheck | None) -> None:
    remote.run(node, ["true"], timeout=30)
    if check is None:
        return
    r = remote.run(node, list(check.argv), timeout=30, check=False)
    if r.status != 0:
        raise TargetError(f"{node}: this target needs {check.what} on every host; `{' '.join(check.argv)}` "
                          f"failed there ({(r.stderr or r.stdout).strip() or f'exit {r.status}'}); "
                          "fix: install it on the host, or test another target")


def free_local_addrs(spec: TestSpec, root: str) -> dict[str, NodeAddr]:
    """--base-port auto: the first of 7100, 7200, ... 9900 whose ports are all free."""

    for base in range(7100, 10000, 100):
        addrs = local_addrs(spec.node_names(), root, base)
        try:
            check_ports_free(addrs)
        except TargetError:
            continue
        return addrs
    raise TargetError("no free ports for local nodes in 7101..9999 on 127.0.0.11+; fix: stop other runs or pass --base-port")


def check_ports_free(addrs: dict[str, NodeAddr]) -> None:
    """A port in use means another run (or anything) is there: say which, before starting.
    Bound as the nodes bind (SO_REUSEADDR), so the sockets of a run that just ended, in
    TIME_WAIT for a minute, do not refuse the next run of the same --base-port."""
    for a in addrs.values():
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((a.host, a.port))
            except OSError as e:
                raise TargetError(
                    f"{a.name}: cannot listen on {a.host}:{a.port} ({e.strerror}); another run may be using it; "
                    "fix: stop it or pass --base-port"
                ) from None


def _down_quietly(cluster: Any) -> None:
    try:
        cluster.down()
    except Exception as e:
        log.error("cluster down failed: %s; run `seam cluster down`", e)


# ---------------------------------------------------------------------------
# stored runs


def remote_for_run(options: dict[str, Any], nodes: list[str], source: Path) -> Remote:
    """The Remote a stored run used, from its test.json ``options`` (``provision``'s twin)."""
    kind = str(options.get("cluster", "local"))
    if kind == "local":
        from harness.control.local import LocalRemote

        return LocalRemote()
    if kind == "netns":
        from harness.control.netns import NetnsRemote

        return NetnsRemote({n: namespace_of(options, n) for n in nodes if _index(n)})
    if kind == "ssh":
        from harness.control.ssh import SshHost, SshRemote

        o = options
        hosts = {
            n: SshHost(
                host=n,
                port=int(o.get("ssh_port") or 22),
                username=o.get("username") or "root",
                key_file=o.get("ssh_key"),
                known_hosts=o.get("known_hosts"),
                sudo=bool(o.get("ssh_sudo")),
                insecure=bool(o.get("ssh_insecure")),
            )
            for n in (o.get("nodes") or nodes)
        }
        return SshRemote(hosts)
    raise InputError(f"{source}: unknown cluster kind {kind!r}; expected local, netns or ssh")


def namespace_of(options: dict[str, Any], node: str) -> str:
    from harness.control.cluster import NetnsCluster

    prefix = str(options.get("cluster_prefix") or "seam")
    cluster = NetnsCluster(nodes=max(1, _index(node)), subnet=str(options.get("subnet") or "10.77.0.0/24"), prefix=prefix)
    return str(cluster.namespace(_index(node)))


def _index(node: str) -> int:
    return int(node[1:]) if node[:1] == "n" and node[1:].isdigit() else 0


def gone_nodes(options: dict[str, Any], nodes: list[str]) -> dict[str, str]:
    """Nodes that no longer exist, with why: for netns, a namespace that was removed."""
    if options.get("cluster") != "netns":
        return {}
    from harness.control.cluster import namespaces

    present = set(namespaces())
    gone = {}
    for node in nodes:
        if not _index(node):
            continue
        ns = namespace_of(options, node)
        if ns not in present:
            gone[node] = f"namespace {ns} is gone"
    return gone
