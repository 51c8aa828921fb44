"""How commands reach nodes (Remotes) and how the namespace cluster is built.

- ``LocalRemote`` (local.py): subprocesses on this host; node names are labels.
- ``NetnsRemote`` (netns.py): ``ip netns exec <ns>``; same filesystem and pids.
- ``SshRemote`` (ssh.py): paramiko, one pooled connection per node, SFTP.
- ``RetryingRemote`` (retry.py): retries only ``UnreachableError``.
- ``NetnsCluster`` (cluster.py): ``seam-n1..``, ``seam-br0``, default subnet
  ``10.77.0.0/24`` that exists only inside Seam's namespaces and bridge.

Modules are imported on use, so importing this package does not load paramiko.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "LocalRemote",
    "NetnsRemote",
    "SshRemote",
    "SshHost",
    "RetryingRemote",
    "NetnsCluster",
    "NodeInfo",
]

_WHERE = {
    "LocalRemote": "local",
    "NetnsRemote": "netns",
    "SshRemote": "ssh",
    "SshHost": "ssh",
    "RetryingRemote": "retry",
    "NetnsCluster": "cluster",
    "NodeInfo": "cluster",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(f"harness.control.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'harness.control' has no attribute {name!r}")
