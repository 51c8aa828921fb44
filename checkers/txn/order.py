"""Session and real-time order between transactions: process and realtime edges.

Process edges link each ``ok`` transaction of a process to its next ``ok``
one (a process runs one transaction at a time, so its order is a chain).
Realtime edges say "a had completed before b was invoked". There are
O(n^2) such pairs; a cycle search needs only a transitive reduction, which
Elle builds in one pass: keep the set of completed transactions that no
later completed one already follows; link each of them to every
transaction invoked next; when a transaction completes, drop from the set
those that lead to it and add it.

Only ``ok`` transactions lead anywhere in real time (an ``info`` never
completed); an ``info`` may be led to (if it happened, it happened after
its invoke). A completion-only transaction has no invoke, so nothing leads
to it; it leads on from where its completion was seen.
"""

from __future__ import annotations

from collections.abc import Sequence

from checkers.txn.graph import PROCESS, REALTIME, Edges
from checkers.txn.txns import NEVER, Txn


def process_edges(txns: Sequence[Txn], edges: Edges) -> None:
    """ok -> next ok of the same process, in completion order."""
    last: dict[object, int] = {}
    for t in txns:  # transactions come in completion order
        if t.type != "ok":
            continue
        prev = last.get(t.process)
        if prev is not None:
            edges.add(prev, t.id, PROCESS)
        last[t.process] = t.id


def realtime_edges(txns: Sequence[Txn], edges: Edges) -> None:
    """A transitive reduction of "completed before invoked"; see the module."""
    events: list[tuple[int, int, int]] = []  # (position, 0 invoke | 1 completion, txn id)
    for t in txns:
        if t.type == "fail":
            continue
        if t.invoked != NEVER:
            events.append((t.invoked, 0, t.id))
        if t.type == "ok" and t.completed != NEVER:
            events.append((t.completed, 1, t.id))
    events.sort()
    frontier: set[int] = set()
    preds: dict[int, list[int]] = {}  # txn -> the frontier when it was invoked
    for _, kind, tid in events:
        if kind == 0:
            preds[tid] = list(frontier)
            edges.add_all(preds[tid], tid, REALTIME)
        else:
            frontier.difference_update(preds.pop(tid, ()))
            frontier.add(tid)
