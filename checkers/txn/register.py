"""rw-register: what unique writes let us infer, and the edges that follow.

A read of a register says which write it saw (writes are unique per key),
so ``wr`` edges are direct. The *version order* of a key is not visible in
a read, so ``ww`` and ``rw`` edges need inferred version orders, from the
sources Elle uses, each an assumption the user opts into except the first:

* ``initial-state``: every key starts at ``null``, before every written value;
* ``transaction-order``: a known commit order (a test's white-box knowledge);
* ``wfr-keys``: within a transaction, writes follow reads: read v, wrote v';
* ``sequential-keys``: each key is sequentially consistent, so a process's
  later transactions see later versions (process order);
* ``linearizable-keys``: each key is linearizable, so real-time order orders
  versions too.

Sources are added one at a time; a source that makes a key's version graph
cyclic is reported (``cyclic-versions``, naming the sources so far) and left
out. Transactions relate through the *external* value of a key: the first
read before any write of it, and the last write. Only ``ok`` transactions'
reads and writes make edges; an ``info`` write may order versions but relates
no transaction, so no false alarm can come from assuming it happened.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from checkers.txn.append import Case, DuplicateWrite
from checkers.txn.graph import PROCESS, REALTIME, RW, WR, WW, Edges
from checkers.txn.order import process_edges, realtime_edges
from checkers.txn.txns import Txn


class _Nil:
    """``null``, the initial version, as a graph vertex (networkx refuses None)."""

    def __repr__(self) -> str:
        return "nil"


NIL: Any = _Nil()


def node(v: Any) -> Any:
    """A value as a version-graph vertex."""
    return NIL if v is None else v


def value(n: Any) -> Any:
    """A version-graph vertex as the value it stands for."""
    return None if n is NIL else n


def ext_reads(t: Txn) -> dict[Any, Any]:
    """Key -> the value read before the transaction wrote the key, if it did."""
    out: dict[Any, Any] = {}
    written: set[Any] = set()
    for f, k, v in t.mops:
        if f == "w":
            written.add(k)
        elif k not in written and k not in out:
            out[k] = v
    return out


def ext_writes(t: Txn) -> dict[Any, Any]:
    """Key -> the last value the transaction wrote to it."""
    return {k: v for f, k, v in t.mops if f == "w"}


@dataclass
class RegisterIndex:
    """External reads and writes of every transaction, and the inferred version
    graphs: ``versions[k]`` a networkx DiGraph over the values of ``k``."""

    txns: Sequence[Txn]
    reads: list[dict[Any, Any]] = field(default_factory=list)
    writes: list[dict[Any, Any]] = field(default_factory=list)
    versions: dict[Any, nx.DiGraph] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)

    def touched(self, t: Txn) -> dict[Any, tuple[Any, Any]]:
        """Key -> (first value, last value) this transaction interacted with."""
        if t.type == "fail":
            return {}
        writes = self.writes[t.id]
        reads = self.reads[t.id] if t.type == "ok" else {}
        return {k: (reads.get(k, writes.get(k)), writes.get(k, reads.get(k)))
                for k in {**reads, **writes}}


def index(txns: Sequence[Txn], options: Any) -> tuple[RegisterIndex, dict[str, list[Case]]]:
    """External reads/writes and the version graphs, with ``cyclic-versions`` cases."""
    idx = RegisterIndex(txns, [ext_reads(t) for t in txns], [ext_writes(t) for t in txns])
    found: dict[str, list[Case]] = {}
    sources: list[tuple[str, Any]] = [("initial-state", _initial)]
    if options.transaction_order:
        sources.append(("transaction-order", lambda i: _txn_order(i, options.transaction_order)))
    if options.wfr_keys:
        sources.append(("wfr-keys", _wfr))
    if options.sequential_keys:
        sources.append(("sequential-keys", lambda i: _from_order(i, process_edges)))
    if options.linearizable_keys:
        sources.append(("linearizable-keys", lambda i: _from_order(i, realtime_edges)))
    for name, make in sources:
        merged = {k: g.copy() for k, g in idx.versions.items()}
        for k, pairs in make(idx).items():
            merged.setdefault(k, nx.DiGraph()).add_edges_from((node(a), node(b)) for a, b in pairs)
        cycles = list(_cyclic(merged, [*idx.sources, name]))
        if cycles:
            found.setdefault("cyclic-versions", []).extend(cycles)
        else:
            idx.versions, idx.sources = merged, [*idx.sources, name]
    return idx, found


def _cyclic(graphs: dict[Any, nx.DiGraph], sources: list[str]) -> Iterator[Case]:
    for k, g in graphs.items():
        for scc in nx.strongly_connected_components(g):
            if len(scc) > 1:
                yield {"kind": "cyclic-versions", "key": k, "scc": sorted(map(value, scc), key=repr),
                       "sources": sources, "ops": []}


def _initial(idx: RegisterIndex) -> dict[Any, set[tuple[Any, Any]]]:
    out: dict[Any, set[tuple[Any, Any]]] = {}
    for t in idx.txns:
        if t.type == "fail":
            continue
        values = list(idx.writes[t.id].items())
        if t.type == "ok":
            values += idx.reads[t.id].items()
        for k, v in values:
            if v is not None:
                out.setdefault(k, set()).add((None, v))
    return out


def _txn_order(idx: RegisterIndex, order: dict[int, int]) -> dict[Any, set[tuple[Any, Any]]]:
    by_key: dict[Any, list[tuple[int, Any]]] = {}
    for t in idx.txns:
        if t.type != "fail" and t.index in order:
            for k, v in idx.writes[t.id].items():
                by_key.setdefault(k, []).append((order[t.index], v))
    out: dict[Any, set[tuple[Any, Any]]] = {}
    for k, vs in by_key.items():
        vs.sort(key=lambda p: p[0])
        out[k] = {(a[1], b[1]) for a, b in zip(vs, vs[1:], strict=False)}
    return out


def _wfr(idx: RegisterIndex) -> dict[Any, set[tuple[Any, Any]]]:
    out: dict[Any, set[tuple[Any, Any]]] = {}
    for t in idx.txns:
        if t.type != "ok":
            continue
        writes = idx.writes[t.id]
        for k, v in idx.reads[t.id].items():
            if v is not None and k in writes:
                out.setdefault(k, set()).add((v, writes[k]))
    return out


def _from_order(idx: RegisterIndex, make: Any) -> dict[Any, set[tuple[Any, Any]]]:
    """Versions ordered by a transaction order (process or real time): the last
    value a transaction touched precedes the first value touched by each nearest
    later transaction that touches the same key."""
    edges = Edges()
    make(idx.txns, edges)
    succ: dict[int, list[int]] = {}
    for a, b in zip(edges.src, edges.dst, strict=True):
        succ.setdefault(a, []).append(b)
    touched = [idx.touched(t) for t in idx.txns]
    down: list[dict[Any, set[int]]] = [{} for _ in idx.txns]
    out: dict[Any, set[tuple[Any, Any]]] = {}
    for a in reversed(range(len(idx.txns))):  # completion order is a topological order
        near: dict[Any, set[int]] = {}
        for b in succ.get(a, ()):
            for k in touched[b]:
                near.setdefault(k, set()).add(b)
            for k, bs in down[b].items():
                if k not in touched[b]:
                    near.setdefault(k, set()).update(bs)
        down[a] = near
        for k, (_, last) in touched[a].items():
            for b in near.get(k, ()):
                first = touched[b][k][0]
                if first != last:
                    out.setdefault(k, set()).add((last, first))
    return out


def edges(idx: RegisterIndex, out: Edges) -> None:
    """wr edges from reads; ww and rw edges from the version graphs."""
    writers: dict[tuple[Any, Any], list[int]] = {}
    readers: dict[tuple[Any, Any], list[int]] = {}
    for t in idx.txns:
        if t.type == "ok":
            for k, v in idx.writes[t.id].items():
                writers.setdefault((k, v), []).append(t.id)
            for k, v in idx.reads[t.id].items():
                readers.setdefault((k, v), []).append(t.id)
    for kv, rs in readers.items():
        ws = writers.get(kv, ())
        if len(ws) > 1:
            raise DuplicateWrite(kv[0], kv[1], [idx.txns[w].index for w in ws[:2]])
        for w in ws:
            for r in rs:
                out.add(w, r, WR)
    for k, g in idx.versions.items():
        for n1, n2 in g.edges:
            v1, v2 = value(n1), value(n2)
            w2 = writers.get((k, v2), ())
            for b in w2:
                out.add_all(writers.get((k, v1), []), b, WW)
                out.add_all(readers.get((k, v1), []), b, RW)


def cases(idx: RegisterIndex) -> Iterator[Case]:
    """G1a, G1b, internal and lost-update for registers. A read of a value nobody
    wrote is no anomaly here: a register may start at any value (Elle's tests
    read 0 from keys never written), so only the writes seen can be judged."""
    txns = idx.txns
    failed: dict[tuple[Any, Any], int] = {}
    middle: dict[tuple[Any, Any], int] = {}
    for t in txns:
        last: dict[Any, Any] = {}
        for f, k, v in t.mops:
            if f == "w":
                if t.type == "fail":
                    failed[(k, v)] = t.id
                if k in last:
                    middle[(k, last[k])] = t.id
                last[k] = v
    for t in txns:
        if t.type != "ok":
            continue
        for f, k, v in t.mops:
            if f != "r" or v is None:
                continue
            if (k, v) in failed:
                w = txns[failed[(k, v)]].index
                yield {"kind": "G1a", "ops": [w, t.index], "key": k, "element": v, "writer": w}
            elif (k, v) in middle and middle[(k, v)] != t.id:
                w = txns[middle[(k, v)]].index
                yield {"kind": "G1b", "ops": [w, t.index], "key": k, "element": v, "writer": w}
        yield from _internal(t)
    yield from _lost_updates(idx)


def _internal(t: Txn) -> Iterator[Case]:
    state: dict[Any, Any] = {}
    for f, k, v in t.mops:
        if f == "r" and k in state and state[k] != v:
            yield {"kind": "internal", "ops": [t.index], "key": k, "read": v, "expected": state[k]}
            return
        state[k] = v


def _lost_updates(idx: RegisterIndex) -> Iterator[Case]:
    by_state: dict[tuple[Any, Any], list[int]] = {}
    for t in idx.txns:
        if t.type != "ok":
            continue
        writes = idx.writes[t.id]
        for k, v in idx.reads[t.id].items():
            if k in writes:
                by_state.setdefault((k, v), []).append(t.id)
    for (k, v), ids in by_state.items():
        if len(ids) > 1:
            yield {"kind": "lost-update", "key": k, "value": v,
                   "ops": [idx.txns[i].index for i in ids]}


__all__ = ["PROCESS", "REALTIME", "RW", "WR", "WW", "cases", "edges", "index"]
