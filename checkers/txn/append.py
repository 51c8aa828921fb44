"""List-append: version orders from reads, the anomalies they expose, and edges.

Every append is unique per key, and a read returns the whole list, so a
read of ``[1, 2, 3]`` tells the order in which 1, 2 and 3 were appended.
If the database keeps one order per key, every read is a prefix of the
longest; the longest read is then the version order of the key (Elle's
inference). An append nobody read came after everything read.

From the orders: ``wr`` (T2's read ends with T1's append), ``ww`` (T2's
append directly follows T1's), ``rw`` (T1 read the state just before T2's
append). Only ``ok`` and ``info`` transactions are vertices; a failed one
did not happen. An ``info`` append nobody read gets edges *into* it only,
never out of it, so it can close no cycle: whether it happened or not, no
false alarm comes from it. Reads of ``info`` transactions are not known and
are never used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from checkers.txn.graph import RW, WR, WW, Edges
from checkers.txn.txns import Txn, hashable


class _Init:
    """The empty list before the first append of a key."""

    def __repr__(self) -> str:
        return "INIT"


INIT: Any = _Init()
Case = dict[str, Any]


@dataclass
class AppendIndex:
    """What the analysis of a list-append history knows, for edges and explanations.

    ``writer[(k, v)]``: the transaction that appended ``v`` to ``k`` (any type);
    ``order[k]``: the version order; ``pos[k][v]``: where ``v`` sits in it;
    ``readers[(k, last)]``: ok transactions whose read of ``k`` ended with
    ``last`` (``INIT`` for an empty read); ``reads[k]``: the distinct reads;
    ``strays[k]``: those that are not a prefix of the longest.
    """

    txns: Sequence[Txn]
    writer: dict[tuple[Any, Any], int] = field(default_factory=dict)
    order: dict[Any, tuple[Any, ...]] = field(default_factory=dict)
    pos: dict[Any, dict[Any, int]] = field(default_factory=dict)
    readers: dict[tuple[Any, Any], list[int]] = field(default_factory=dict)
    reads: dict[Any, set[tuple[Any, ...]]] = field(default_factory=dict)
    strays: dict[Any, list[tuple[Any, ...]]] = field(default_factory=dict)

    def prev(self, k: Any, v: Any) -> Any:
        """The element appended just before ``v`` (``INIT`` if none)."""
        order = self.order.get(k, ())
        i = self.pos.get(k, {}).get(v)
        if i is None:  # never read: it came after every element read
            return order[-1] if order else INIT
        return order[i - 1] if i else INIT


def index(txns: Sequence[Txn]) -> tuple[AppendIndex, dict[str, list[Case]]]:
    """The index and the anomalies found while building it (duplicate appends
    raise ``DuplicateWrite``: the inference needs unique values)."""
    idx = AppendIndex(txns)
    found: dict[str, list[Case]] = {}
    appends: dict[Any, list[Any]] = {}
    for t in txns:
        for f, k, v in t.mops:
            if f == "append":
                key = (k, v)
                if key in idx.writer and idx.writer[key] != t.id:
                    raise DuplicateWrite(k, v, [txns[idx.writer[key]].index, t.index])
                idx.writer[key] = t.id
                if t.type != "fail":
                    appends.setdefault(k, []).append(v)
            elif t.type == "ok":
                r = () if v is None else tuple(v) if v.__class__ is list else v
                if r.__class__ is not tuple:
                    found.setdefault("garbage", []).append(_garbage_shape(t, k, v))
                    continue
                idx.reads.setdefault(k, set()).add(r)
                idx.readers.setdefault((k, r[-1] if r else INIT), []).append(t.id)
    _orders(idx, appends, found)
    return idx, found


class DuplicateWrite(ValueError):
    """One value written twice to a key: no version order can be inferred."""

    def __init__(self, key: Any, value: Any, ops: list[int]):
        super().__init__(
            f"value {value!r} written to key {key!r} more than once (ops {ops[0]} and {ops[1]}): "
            "the checker needs unique writes per key"
        )
        self.ops = ops


def _garbage_shape(t: Txn, k: Any, v: Any) -> Case:
    return {"kind": "garbage", "ops": [t.index], "key": k, "read": v, "why": "not a list"}


def _orders(idx: AppendIndex, appends: dict[Any, list[Any]], found: dict[str, list[Case]]) -> None:
    """Each key's version order: its longest read, checked against every other read."""
    for k, reads in idx.reads.items():
        longest = max(reads, key=len)
        bad = [r for r in reads if longest[: len(r)] != r]
        if bad:
            idx.strays[k] = bad
            found.setdefault("incompatible-order", []).append(_incompatible(idx, k, reads))
        order = tuple(dict.fromkeys(longest))
        if len(order) != len(longest) or any(len(set(r)) != len(r) for r in reads):
            found.setdefault("duplicate-elements", []).extend(_duplicates(idx, k))
        idx.order[k] = order
    for k, vs in appends.items():
        if k not in idx.order and len(vs) == 1:
            idx.order[k] = (vs[0],)  # one append and no read: its order is known
    for k, order in idx.order.items():
        idx.pos[k] = {v: i for i, v in enumerate(order)}


def _incompatible(idx: AppendIndex, k: Any, reads: set[tuple[Any, ...]]) -> Case:
    """The first two reads, shortest first, where one is not a prefix of the next."""
    ordered = sorted(reads, key=lambda r: (len(r), repr(r)))
    for a, b in zip(ordered, ordered[1:], strict=False):
        if b[: len(a)] != a:
            ops = sorted(
                idx.txns[t].index
                for r in (a, b)
                for t in idx.readers.get((k, r[-1] if r else INIT), ())
                if _read_of(idx.txns[t], k) == r
            )
            return {"kind": "incompatible-order", "key": k, "values": [list(a), list(b)], "ops": ops}
    raise AssertionError("no incompatible pair")  # pragma: no cover - caller checked


def _read_of(t: Txn, k: Any) -> tuple[Any, ...] | None:
    for f, key, v in t.mops:
        if f == "r" and key == k:
            return () if v is None else tuple(v)
    return None


def _duplicates(idx: AppendIndex, k: Any) -> list[Case]:
    cases = []
    for (key, _), ids in idx.readers.items():
        if key != k:
            continue
        for t in ids:
            for f, kk, v in idx.txns[t].mops:
                if f == "r" and kk == k and v and len(set(map(hashable, v))) != len(v):
                    counts: dict[Any, int] = {}
                    for e in v:
                        counts[e] = counts.get(e, 0) + 1
                    dups = {e: c for e, c in counts.items() if c > 1}
                    cases.append({"kind": "duplicate-elements", "ops": [idx.txns[t].index],
                                  "key": k, "read": v, "duplicates": dups})
    return cases


def edges(idx: AppendIndex, out: Edges) -> None:
    """ww, wr and rw edges between ok/info transactions, per the module docstring."""
    txns = idx.txns
    writer = idx.writer
    readers = idx.readers
    for t in txns:
        if t.type == "fail":
            continue
        me = t.id
        for f, k, v in t.mops:
            if f == "append":
                prev = idx.prev(k, v)
                if prev is not INIT:
                    w = writer.get((k, prev))
                    if w is not None and txns[w].type != "fail":
                        out.add(w, me, WW)
                out.add_all(readers.get((k, prev), ()), me, RW)  # type: ignore[arg-type]
            elif t.type == "ok" and v:
                w = writer.get((k, v[-1]))
                if w is not None and txns[w].type != "fail":
                    out.add(w, me, WR)
