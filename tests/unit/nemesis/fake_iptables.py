"""A Remote that understands the few iptables commands Seam uses, per node.

It keeps each node's chains and rules in memory and answers like iptables
does (status 1 for a missing chain or rule), so heal and apply can be tested
without root.
"""

from __future__ import annotations

from collections import defaultdict

from harness.core.protocols import Result


class FakeIptablesRemote:
    def __init__(self):
        self.chains: dict[str, dict[str, list[list[str]]]] = defaultdict(
            lambda: {"INPUT": [], "OUTPUT": [], "FORWARD": []}
        )
        self.calls: list[tuple[str, list[str]]] = []

    def run(self, node, argv, *, timeout=60.0, check=True, stdin=None):
        self.calls.append((node, list(argv)))
        assert argv[:2] == ["iptables", "-w"], argv
        op, chain, rest = argv[2], argv[3] if len(argv) > 3 else None, argv[4:]
        table = self.chains[node]
        status = 0
        out = ""
        if op == "-N":
            status = 1 if chain in table else 0
            table.setdefault(chain, [])
        elif op == "-X":
            status = 0 if chain in table and not table[chain] else 1
            if status == 0:
                del table[chain]
        elif op == "-F":
            status = 0 if chain in table else 1
            if status == 0:
                table[chain] = []
        elif op in ("-A", "-I"):
            if chain not in table:
                status = 1
            elif op == "-A":
                table[chain].append(rest)
            else:
                table[chain].insert(0, rest[1:])
        elif op in ("-C", "-D"):
            present = chain in table and rest in table[chain]
            status = 0 if present else 1
            if present and op == "-D":
                table[chain].remove(rest)
        elif op == "-S":
            out = "\n".join(f"-A {c} {' '.join(r)}" for c, rules in table.items() for r in rules)
        if check and status != 0:
            from harness.core.errors import RemoteError

            raise RemoteError(node, argv, status=status, stderr="iptables: No chain/target/match by that name.")
        return Result(node, tuple(argv), status, out, "")
