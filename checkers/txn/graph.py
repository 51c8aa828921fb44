"""The dependency graph: edges kept as integer arrays, cut down to its SCCs.

A history of 100,000 transactions has about a million dependency edges; a
Python object per edge (or a networkx graph of the whole thing) costs
seconds and hundreds of MiB. So analyzers append edges to three flat
integer arrays (``Edges``), ``freeze`` merges parallel edges with numpy
(one bit per relation, OR-ed), and the strongly connected components are
found by an iterative Tarjan over a CSR adjacency. Only a component with
more than one transaction can hold a cycle, so only those become networkx
graphs for the cycle search (``component_graph``).

Every edge also gets one *type*, the first relation it carries in a
priority order: that is how a cycle through it is classified, and the type
an explanation names. Data relations come before process and realtime ones
(a cycle is named for what the data shows). Among data relations Elle's
explainers differ by workload, and so do ours, to name cycles alike:
list-append says ww before wr, rw-register says wr before ww.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass

import networkx as nx
import numpy as np

WW, WR, RW, PROCESS, REALTIME = 1, 2, 4, 8, 16
NAMES = {WW: "ww", WR: "wr", RW: "rw", PROCESS: "process", REALTIME: "realtime"}


class Edges:
    """A growing list of edges ``a -> b`` with a relation bit, in flat arrays."""

    def __init__(self) -> None:
        self.src = array("q")
        self.dst = array("q")
        self.rel = array("b")

    def add(self, a: int, b: int, rel: int) -> None:
        if a != b:  # a transaction never depends on itself
            self.src.append(a)
            self.dst.append(b)
            self.rel.append(rel)

    def add_all(self, sources: list[int], b: int, rel: int) -> None:
        """Every ``a -> b`` for ``a`` in ``sources`` (rw edges come many to one)."""
        for a in sources:
            if a != b:
                self.src.append(a)
                self.dst.append(b)
                self.rel.append(rel)

    def __len__(self) -> int:
        return len(self.src)


@dataclass
class Graph:
    """Merged edges: ``src``/``dst`` sorted by source, ``rel`` the OR of relation
    bits, ``type`` the one relation a cycle classification uses (see module)."""

    n: int
    src: np.ndarray
    dst: np.ndarray
    rel: np.ndarray
    type: np.ndarray

    def __len__(self) -> int:
        return int(self.src.size)


#: The default priority of relations for an edge's type (list-append's).
PRIORITY = (WW, WR, RW, PROCESS, REALTIME)


def freeze(edges: Edges, n: int, priority: tuple[int, ...] = PRIORITY) -> Graph:
    """Merge parallel edges of ``edges`` over ``n`` vertices into a Graph."""
    src = np.frombuffer(edges.src, dtype=np.int64) if len(edges) else np.zeros(0, np.int64)
    dst = np.frombuffer(edges.dst, dtype=np.int64) if len(edges) else np.zeros(0, np.int64)
    rel = np.frombuffer(edges.rel, dtype=np.int8).astype(np.int64) if len(edges) else np.zeros(0, np.int64)
    key = src * max(n, 1) + dst
    order = np.argsort(key, kind="stable")
    key = key[order]
    rel = rel[order]
    if key.size:
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        rel = np.bitwise_or.reduceat(rel, starts)
        key = key[starts]
    src, dst = np.divmod(key, max(n, 1))
    typ = np.zeros_like(rel)
    for bit in reversed(priority):
        typ[(rel & bit) != 0] = bit
    return Graph(n, src, dst, rel, typ)


def sccs(graph: Graph) -> list[list[int]]:
    """The strongly connected components with more than one vertex, each sorted.

    Iterative Tarjan over the CSR form of ``graph``: vertices with no edge out
    or no edge in cannot be on a cycle, so they are never visited at all.
    """
    n = graph.n
    if not len(graph):
        return []
    has_in = np.zeros(n, dtype=bool)
    has_in[graph.dst] = True
    starts = np.searchsorted(graph.src, np.arange(n + 1)).tolist()
    dst = graph.dst.tolist()
    candidates = np.flatnonzero(has_in & (np.diff(np.asarray(starts)) > 0)).tolist()
    return _tarjan(candidates, starts, dst, n)


def _tarjan(roots: list[int], starts: list[int], dst: list[int], n: int) -> list[list[int]]:
    index = [-1] * n
    low = [0] * n
    on_stack = [False] * n
    stack: list[int] = []
    found: list[list[int]] = []
    counter = 0
    for root in roots:
        if index[root] >= 0:
            continue
        work = [(root, starts[root])]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack[root] = True
        while work:
            v, i = work[-1]
            end = starts[v + 1]
            while i < end:
                w = dst[i]
                i += 1
                if index[w] < 0:
                    work[-1] = (v, i)
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack[w] = True
                    work.append((w, starts[w]))
                    break
                if on_stack[w] and index[w] < low[v]:
                    low[v] = index[w]
            else:
                work.pop()
                if work:
                    u = work[-1][0]
                    if low[v] < low[u]:
                        low[u] = low[v]
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack[w] = False
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        found.append(sorted(comp))
    return found


def component_graph(graph: Graph, members: list[int]) -> nx.DiGraph:
    """The edges of ``graph`` inside one component, as a networkx DiGraph whose
    edges carry ``type`` (the classifying relation) and ``rel`` (all bits)."""
    inside = np.zeros(graph.n, dtype=bool)
    inside[members] = True
    keep = inside[graph.src] & inside[graph.dst]
    g = nx.DiGraph()
    g.add_nodes_from(members)
    g.add_edges_from(
        (int(a), int(b), {"type": int(t), "rel": int(r)})
        for a, b, t, r in zip(
            graph.src[keep], graph.dst[keep], graph.type[keep], graph.rel[keep], strict=True
        )
    )
    return g
