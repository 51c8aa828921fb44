"""The netns Remote: each node is a network namespace on this host.

Commands run as ``ip netns exec <ns> argv...``. ``ip netns exec`` execs the
command after entering the namespace (it does not fork), so the pid that
``spawn`` returns is the service's own pid. Files are shared with the control
node, so upload and download are local copies.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from harness.control.local import LocalRemote, unreachable
from harness.core.errors import RemoteError

IP = "ip"


class NetnsRemote(LocalRemote):
    """Runs argv inside the namespace of each node.

    ``namespace_of`` maps a node name to its namespace: a dict (an unknown
    node is an UnreachableError naming the known ones) or a callable.
    """

    kind = "netns"

    def __init__(self, namespace_of: Callable[[str], str] | Mapping[str, str]):
        super().__init__()
        self._namespace_of = namespace_of

    def namespace(self, node: str, argv: tuple[str, ...] = ()) -> str:
        if callable(self._namespace_of):
            return self._namespace_of(node)
        try:
            return self._namespace_of[node]
        except KeyError:
            known = ", ".join(sorted(self._namespace_of)) or "none"
            raise unreachable(
                node,
                list(argv),
                f"no namespace for node {node!r} (known: {known})",
                "use one of the known node names, or `seam cluster up --nodes N` for more nodes",
            ) from None

    def _wrap(self, node: str, argv: tuple[str, ...]) -> list[str]:
        return [IP, "netns", "exec", self.namespace(node, argv), *argv]

    def _diagnose(
        self, node: str, argv: tuple[str, ...], status: int, stderr: str
    ) -> RemoteError | None:
        # ip's own failure to enter the namespace: the node does not exist, the command never ran.
        if status == 255 and "Cannot open network namespace" in stderr:
            return unreachable(
                node,
                argv,
                stderr.strip().splitlines()[-1],
                "the namespace is gone; run `seam cluster up` (or `seam cluster status` to see what exists)",
            )
        return None
