"""Grudges: who drops traffic from whom, as pure functions of the node list.

A grudge maps each node to the set of nodes whose packets it drops. Every
partition the nemesis applies is computed here first, recorded in the history,
and only then turned into iptables rules, so the shapes can be tested without
a cluster. Randomness comes from an explicit ``random.Random`` so that a seeded
schedule gives the same partitions every time.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence

Grudge = dict[str, frozenset[str]]


def complete(components: Iterable[Iterable[str]]) -> Grudge:
    """Each node drops traffic from every node outside its own component."""
    comps = [frozenset(c) for c in components]
    everyone = frozenset().union(*comps) if comps else frozenset()
    return {n: everyone - c for c in comps for n in c}


def halves(nodes: Sequence[str], rng: random.Random | None = None) -> Grudge:
    """Split into two halves; the first (smaller) half is the minority.

    With an rng the nodes are shuffled first, otherwise the order is kept.
    """
    order = list(nodes)
    if rng is not None:
        rng.shuffle(order)
    cut = len(order) // 2
    return complete([order[:cut], order[cut:]])


def isolate(nodes: Sequence[str], node: str) -> Grudge:
    """Cut one node off from all the others (both directions)."""
    if node not in nodes:
        raise ValueError(f"cannot isolate {node!r}: not one of {', '.join(nodes)}")
    return complete([[node], [n for n in nodes if n != node]])


def leader_minority(nodes: Sequence[str], leader: str, rng: random.Random) -> Grudge:
    """The leader and the fewest others that still make a minority (with 5 nodes: the leader
    and one follower) against the rest: the shape of Jepsen's 2013 Redis test, where the
    cut-off primary keeps a replica, so ``min-replicas-to-write 1`` does not stop it."""
    if leader not in nodes:
        raise ValueError(f"cannot cut off {leader!r}: not one of {', '.join(nodes)}")
    others = [n for n in nodes if n != leader]
    rng.shuffle(others)
    cut = max(0, (len(nodes) - 1) // 2 - 1)  # followers beside the leader in a strict minority
    return complete([[leader, *others[:cut]], others[cut:]])


def isolate_one(nodes: Sequence[str], rng: random.Random) -> Grudge:
    return isolate(nodes, rng.choice(list(nodes)))


def bridge(nodes: Sequence[str], rng: random.Random | None = None) -> Grudge:
    """Two halves joined by one node that sees both (Jepsen's bridge).

    Each side is a minority on its own, but the bridge node is in a majority
    with either side, which confuses leader elections that assume
    connectivity is transitive.
    """
    order = list(nodes)
    if rng is not None:
        rng.shuffle(order)
    if len(order) < 3:
        raise ValueError("a bridge needs at least 3 nodes")
    mid = len(order) // 2
    left, hub, right = order[:mid], order[mid], order[mid + 1 :]
    grudge = complete([left, right])
    grudge.pop(hub, None)
    for n in left:
        grudge[n] = frozenset(right)
    for n in right:
        grudge[n] = frozenset(left)
    grudge[hub] = frozenset()
    return grudge


def majorities_ring(nodes: Sequence[str], rng: random.Random | None = None) -> Grudge:
    """Every node sees a majority, but no two nodes see the same majority.

    Nodes are placed on a ring; each one keeps its nearest neighbours on both
    sides (enough to make a majority including itself) and drops the rest.
    With an even count the one extra neighbour is the next node clockwise,
    so a few links are one-way; with an odd count every link is symmetric.
    """
    order = list(nodes)
    if rng is not None:
        rng.shuffle(order)
    n = len(order)
    if n < 3:
        raise ValueError("a majorities ring needs at least 3 nodes")
    majority = n // 2 + 1
    reach = (majority - 1) // 2
    extra = (majority - 1) - 2 * reach
    grudge: Grudge = {}
    for i, node in enumerate(order):
        seen = {order[(i + d) % n] for d in range(-reach, reach + 1 + extra)}
        grudge[node] = frozenset(set(order) - seen)
    return grudge


def random_partition(nodes: Sequence[str], rng: random.Random) -> Grudge:
    """A random split into two non-empty components."""
    order = list(nodes)
    rng.shuffle(order)
    cut = rng.randint(1, len(order) - 1)
    return complete([order[:cut], order[cut:]])


def edges(grudge: Grudge) -> set[tuple[str, str]]:
    """The (dst, src) pairs whose packets are dropped: dst drops traffic from src."""
    return {(dst, src) for dst, srcs in grudge.items() for src in srcs}


def components(nodes: Sequence[str], grudge: Grudge) -> list[frozenset[str]]:
    """Groups of nodes that can talk both ways, directly (for checking and reports)."""
    groups: list[frozenset[str]] = []
    seen: set[str] = set()
    for node in nodes:
        if node in seen:
            continue
        group = frozenset(
            m for m in nodes if m not in grudge.get(node, ()) and node not in grudge.get(m, ())
        )
        groups.append(group)
        seen |= group
    return groups
