"""iptables faults inside Seam's own chains: drop, random loss, heal.

Each node gets one chain, ``seam-<node>``, jumped to from INPUT and OUTPUT.
Seam only ever appends rules to its own chains and removes them whole, so it
never touches a rule it did not write. Every rule names both the source and
the destination address, which makes the same rules correct inside a node's
network namespace (where the destination is always the node) and on a shared
host whose nodes are 127.0.0.x addresses (where several nodes share one
iptables table).

Rules are applied through a Remote, so the same code works for namespaces,
SSH hosts and the local host.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from harness.core.errors import NemesisError
from harness.core.protocols import Remote, Test
from nemesis.state import Fault, FaultLedger

HOOKS = ("INPUT",)  # not OUTPUT: on a shared host a random-loss rule would match twice


def chain_name(node: str, tag: str = "") -> str:
    """``seam-<node>`` (or ``seam-<tag>-<node>``), safe for iptables (at most 28 characters).

    Each kind of fault gets its own tag, so healing a partition leaves a
    packet-loss fault that is active at the same time in place.
    """
    prefix = f"seam-{tag}-" if tag else "seam-"
    return prefix + re.sub(r"[^A-Za-z0-9_.-]", "_", node)[: 28 - len(prefix)]


@dataclass(frozen=True)
class Drop:
    """Drop packets from ``src`` to ``dst`` (addresses), optionally at random."""

    src: str
    dst: str
    probability: float | None = None

    def argv(self, chain: str) -> list[str]:
        rule = ["iptables", "-w", "-A", chain, "-s", self.src, "-d", self.dst]
        if self.probability is not None:
            if not 0.0 < self.probability <= 1.0:
                raise ValueError(f"loss probability must be in (0, 1], got {self.probability}")
            rule += ["-m", "statistic", "--mode", "random", "--probability", f"{self.probability:.4f}"]
        return rule + ["-j", "DROP"]


def remove_chain(remote: Remote, node: str, chain: str) -> None:
    """Unhook and delete one of Seam's chains on ``node``; what is already gone is fine."""
    for hook in HOOKS:
        while remote.run(node, ["iptables", "-w", "-D", hook, "-j", chain], check=False).status == 0:
            pass
    remote.run(node, ["iptables", "-w", "-F", chain], check=False)
    remote.run(node, ["iptables", "-w", "-X", chain], check=False)


def undo_chain(fault: Fault, remote: Remote, target: Any = None, test: Test | None = None) -> None:
    """Undo an iptables fault from its ledger row: the chain it names goes, whole."""
    remove_chain(remote, fault.node, fault.detail["chain"])


class Net:
    """Installs and removes Seam's iptables rules on the nodes through a Remote."""

    def __init__(self, remote: Remote, addresses: Mapping[str, str], *, tag: str = ""):
        self.remote = remote
        self.addresses = dict(addresses)
        self.tag = tag

    def chain(self, node: str) -> str:
        return chain_name(node, self.tag)

    def _ensure_chain(self, node: str) -> str:
        chain = self.chain(node)
        self.remote.run(node, ["iptables", "-w", "-N", chain], check=False)
        for hook in HOOKS:
            present = self.remote.run(node, ["iptables", "-w", "-C", hook, "-j", chain], check=False)
            if present.status != 0:
                self.remote.run(node, ["iptables", "-w", "-I", hook, "1", "-j", chain])
        return chain

    def apply(self, node: str, drops: Iterable[Drop]) -> list[list[str]]:
        """Append drop rules on ``node``; returns the argv of every rule added."""
        chain = self._ensure_chain(node)
        added = []
        for drop in drops:
            argv = drop.argv(chain)
            self.remote.run(node, argv)
            added.append(argv)
        return added

    def drop_from(self, node: str, sources: Iterable[str], probability: float | None = None) -> list[list[str]]:
        """``node`` stops hearing from ``sources`` (node names); used for grudges."""
        dst = self.addresses[node]
        drops = [Drop(self.addresses[s], dst, probability) for s in sources if s != node]
        return self.apply(node, drops)

    def heal(self, node: str) -> None:
        """Remove this Net's chain on ``node`` entirely. Idempotent: missing pieces are fine."""
        remove_chain(self.remote, node, self.chain(node))

    def heal_all(self, nodes: Iterable[str], kind: str, ledger: FaultLedger) -> None:
        """Heal every node, even when one fails, marking each healed in the ledger;
        then report every failure at once."""
        errors = []
        for node in nodes:
            try:
                self.heal(node)
                ledger.healed(Fault(kind, node, {"chain": self.chain(node)}))
            except Exception as e:
                errors.append(f"{node}: {e}")
        if errors:
            raise NemesisError(f"{kind} heal failed on " + "; ".join(errors))

    def rules(self, node: str) -> list[str]:
        """Every ``seam`` line of ``iptables -S`` on ``node``, whichever fault wrote it."""
        out = self.remote.run(node, ["iptables", "-w", "-S"], check=False).stdout
        return [line for line in out.splitlines() if "seam-" in line]

    def drops(self, node: str) -> list[str]:
        """The drop rules inside Seam's chain on ``node``."""
        prefix = f"-A {self.chain(node)} "
        return [line for line in self.rules(node) if line.startswith(prefix)]
