"""Where each node of a run lives: the address it binds, the one peers dial,
its port and its run directory on the node.

Provisioning (the composition root) decides the placement; targets, nemeses
and the results store only read it. It is plain data, so a stored run's
``test.json`` is enough to rebuild it (``seam heal``, a re-check).

Why ports are per node even on separate hosts: ``local`` nodes share this
host, so node i gets port base+i on its own loopback address 127.0.0.(10+i)
(a partition nemesis can then tell nodes apart by address); namespaces and
SSH hosts keep the same numbering so a run's layout reads the same anywhere.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from typing import Any

from harness.core.errors import TargetError


@dataclass(frozen=True)
class NodeAddr:
    """Where one node lives: ``host`` is what it binds, ``address`` what others dial."""

    name: str
    host: str
    address: str
    port: int
    workdir: str

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}"

    @property
    def data_dir(self) -> str:
        return f"{self.workdir}/data"

    @property
    def stdout_log(self) -> str:
        return f"{self.workdir}/stdout.log"

    def to_json(self) -> dict[str, Any]:
        return {"url": self.url, "workdir": self.workdir, "host": self.host,
                "address": self.address, "port": self.port}

    @classmethod
    def from_json(cls, name: str, data: dict[str, Any]) -> NodeAddr:
        """From test.json's ``nodes`` entry; older runs stored only ``url`` and ``workdir``."""
        hostport = str(data["url"]).split("://", 1)[-1]
        address, _, port = hostport.rpartition(":")
        return cls(name, str(data.get("host") or address), str(data.get("address") or address),
                   int(data.get("port") or port), str(data["workdir"]))


def local_addrs(nodes: list[str], root: str, base_port: int = 7100) -> dict[str, NodeAddr]:
    """Node i on 127.0.0.(10+i):base+i, so every node has its own loopback address."""
    if len(nodes) > 200:
        raise TargetError(f"--cluster local supports up to 200 nodes, got {len(nodes)}")
    return {
        n: NodeAddr(n, f"127.0.0.{10 + i}", f"127.0.0.{10 + i}", base_port + i, f"{root}/{n}")
        for i, n in enumerate(nodes, 1)
    }


def mapped_addrs(addresses: dict[str, str], root: str, base_port: int = 7100, *, bind_all: bool = False) -> dict[str, NodeAddr]:
    """Nodes with addresses of their own (namespaces, ssh hosts)."""
    return {
        n: NodeAddr(n, "0.0.0.0" if bind_all else a, a, base_port + i, f"{root}/{n}")
        for i, (n, a) in enumerate(addresses.items(), 1)
    }


def run_root(kind: str, run_id: str) -> str:
    """The per-run directory on the nodes: under this host's temp dir, or /tmp on ssh hosts."""
    base = "/tmp" if kind == "ssh" else tempfile.gettempdir()
    return f"{base}/seam-{run_id}"
