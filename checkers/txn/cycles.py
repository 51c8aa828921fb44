"""Cycle search and classification inside one strongly connected component.

A cycle's kind follows from its edge types alone (Adya; Elle's names):
no ``rw`` edge is ``G0`` (only ``ww``) or ``G1c`` (some ``wr``); exactly one
``rw`` is ``G-single-item``; two or more are ``G2-item`` when two ``rw``
edges are adjacent, else ``G-nonadjacent-item``. A ``realtime`` edge adds
``-realtime``; else a ``process`` edge adds ``-process``.

For each kind, most severe first (``models.depth``), and skipping kinds that
one already found implies, the search looks for one cycle of exactly that
kind: it picks an *anchor* edge the kind must contain (a ``rw`` edge, a
``wr`` edge, ...), then runs a breadth-first search back to the anchor's
source over (vertex, state) pairs, where the state counts what the kind
constrains (``rw`` edges so far, whether the last edge was ``rw``, whether a
``wr`` or a process/realtime edge was used). The search stays inside the
component of the subgraph of allowed edges that holds the anchor: a cycle
of allowed edges can be nowhere else. A walk found that repeats a vertex is
split into simple cycles, and one of the wanted kind is kept.

A search for one kind that runs past its share of the time stops, and the
search goes on with the next kind; the caller reports
``cycle-search-timeout`` (the verdict is then unknown unless a cycle found
makes it invalid). A cycle with exactly one ``rw`` edge u -> w needs w to
reach u without ``rw``; reachability between the components of that
subgraph (bitsets, bottom-up) rules out hopeless anchors at once.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

import networkx as nx

from checkers.txn import models
from checkers.txn.graph import PROCESS, REALTIME, RW, WR, WW

BASE = ("G0", "G1c", "G-single-item", "G-nonadjacent-item", "G2-item")
VARIANTS = {"": 0, "-process": PROCESS, "-realtime": REALTIME}
KINDS = tuple(b + s for b in BASE for s in VARIANTS)


def search_order() -> list[str]:
    """Every cycle kind, most severe first: the order in which kinds are searched."""
    depth = models.depth()
    return sorted(KINDS, key=lambda k: (depth.get(k, 99), k))


@dataclass
class Cycle:
    """A simple cycle: ``nodes[i] -> nodes[i+1]`` (and last -> first) by ``types[i]``."""

    kind: str
    nodes: list[int]
    types: list[int]


class SearchTimeout(Exception):
    """The deadline passed while looking for ``searched``; ``found`` holds the
    cycles found in the component before."""

    def __init__(self, searched: str, found: list[Cycle] | None = None):
        super().__init__(searched)
        self.searched = searched
        self.found = found or []


def classify(types: list[int]) -> str:
    """The kind of a cycle with these edge types, in order (see module)."""
    rw = types.count(RW)
    if rw == 0:
        base = "G1c" if WR in types else "G0"
    elif rw == 1:
        base = "G-single-item"
    else:
        n = len(types)
        adjacent = any(types[i] == RW and types[(i + 1) % n] == RW for i in range(n))
        base = "G2-item" if adjacent else "G-nonadjacent-item"
    if REALTIME in types:
        return base + "-realtime"
    if PROCESS in types:
        return base + "-process"
    return base


class Spec(NamedTuple):
    kind: str
    base: str
    variant: int  # 0, PROCESS or REALTIME
    allowed: frozenset[int]
    anchor: int


def spec(kind: str) -> Spec:
    """What a search for ``kind`` may use, and the edge it anchors on."""
    base, variant = kind, 0
    for suffix in ("-process", "-realtime"):
        if kind.endswith(suffix):
            base, variant = kind.removesuffix(suffix), VARIANTS[suffix]
    data = {"G0": {WW}, "G1c": {WW, WR}}.get(base, {WW, WR, RW})
    allowed = frozenset(data | ({variant} if variant else set()))
    anchor = {"G0": variant or WW, "G1c": WR}.get(base, RW)
    return Spec(kind, base, variant, allowed, anchor)


def search(g: nx.DiGraph, budget: float) -> tuple[list[Cycle], list[str]]:
    """One cycle of each kind found in component ``g`` but those implied by
    kinds found before, and the kinds whose search ran out of time: each kind
    gets a share of ``budget`` seconds, so one hard kind does not starve the
    others."""
    found: list[Cycle] = []
    gave_up: list[str] = []
    skip: set[str] = set()
    parts: dict[frozenset[int], dict[int, int]] = {}
    end = time.monotonic() + budget
    for kind in search_order():
        if kind in skip:
            continue
        now = time.monotonic()
        try:
            cycle = find(g, spec(kind), min(end, now + budget / 4), parts)
        except SearchTimeout:
            gave_up.append(kind)
            continue
        if cycle is not None:
            found.append(cycle)
            skip |= models.implied([kind])
    return found, gave_up


def _components(g: nx.DiGraph, allowed: frozenset[int], cache: dict[frozenset[int], dict[int, int]]) -> dict[int, int]:
    """Vertex -> its component in the subgraph of ``allowed`` edge types."""
    if allowed not in cache:
        sub = nx.DiGraph()
        sub.add_edges_from((a, b) for a, b, t in g.edges(data="type") if t in allowed)
        cache[allowed] = {v: i for i, comp in enumerate(nx.strongly_connected_components(sub)) for v in comp}
    return cache[allowed]


def find(g: nx.DiGraph, s: Spec, deadline: float, cache: dict[frozenset[int], dict[int, int]]) -> Cycle | None:
    """A simple cycle of kind ``s.kind`` in ``g``, or None."""
    comp = _components(g, s.allowed, cache)
    anchors = sorted(
        (a, b) for a, b, t in g.edges(data="type")
        if t == s.anchor and a in comp and comp.get(a) == comp.get(b)
    )
    if s.base == "G-single-item" and anchors:
        reaches = _reach(g, s.allowed - {RW})
        anchors = [(u, w) for u, w in anchors if reaches(w, u)]
    for u, w in anchors:
        if time.monotonic() > deadline:
            raise SearchTimeout(s.kind)
        walk = _bfs(g, s, u, w, comp)
        if walk is None:
            continue
        for cycle in _simple_cycles(*walk):
            if classify(cycle.types) == s.kind:
                cycle.kind = s.kind
                return cycle
    return None


def _reach(g: nx.DiGraph, allowed: frozenset[int]) -> Callable[[int, int], bool]:
    """``reaches(a, b)``: is there a path a -> b over ``allowed`` edges? One bitset of
    reachable components per component of that subgraph, built bottom-up: a
    cycle with one rw edge u -> w needs w to reach u without rw."""
    sub = nx.DiGraph()
    sub.add_nodes_from(g)
    sub.add_edges_from((a, b) for a, b, t in g.edges(data="type") if t in allowed)
    dag = nx.condensation(sub)
    member = dag.graph["mapping"]
    below: dict[int, int] = {}
    for c in reversed(list(nx.topological_sort(dag))):
        bits = 1 << c
        for d in dag.successors(c):
            bits |= below[d]
        below[c] = bits
    return lambda a, b: bool(below[member[a]] >> member[b] & 1)


class _State(NamedTuple):
    last_rw: bool
    rw: int  # rw edges so far, at most 2
    adjacent: bool
    wr: bool
    variant: bool


def _step(s: Spec, st: _State, t: int) -> _State | None:
    """The state after taking an edge of type ``t``, or None if the kind forbids it."""
    if t not in s.allowed:
        return None
    is_rw = t == RW
    if is_rw and ((s.base == "G-single-item" and st.rw) or (s.base == "G-nonadjacent-item" and st.last_rw)):
        return None
    return _State(is_rw, min(2, st.rw + is_rw), st.adjacent or (is_rw and st.last_rw),
                  st.wr or t == WR, st.variant or (s.variant != 0 and t == s.variant))


def _accepts(s: Spec, st: _State) -> bool:
    """Whether a walk that ends in state ``st`` back at the anchor's source closes a cycle
    of the kind (the anchor follows the last edge: adjacency wraps around)."""
    wrap = st.last_rw and s.anchor == RW
    if s.variant and not st.variant:
        return False
    if s.base == "G-nonadjacent-item":
        return st.rw >= 2 and not wrap
    if s.base == "G2-item":
        return st.rw >= 2 and (st.adjacent or wrap)
    if s.base == "G1c":
        return st.wr
    return True


def _bfs(g: nx.DiGraph, s: Spec, u: int, w: int, comp: dict[int, int]) -> tuple[list[int], list[int]] | None:
    """The shortest walk u -> w (the anchor) -> ... -> u that ``s`` accepts."""
    first = _step(s, _State(False, 0, False, False, False), s.anchor)
    assert first is not None
    home = comp[u]
    start = (w, first)
    parent: dict[tuple[int, _State], tuple[tuple[int, _State], int] | None] = {start: None}
    queue = deque([start])
    adj = g.adj
    while queue:
        here = queue.popleft()
        v, st = here
        for x, data in adj[v].items():
            if comp.get(x) != home:
                continue
            t = data["type"]
            nxt = _step(s, st, t)
            if nxt is None:
                continue
            if x == u:
                if _accepts(s, nxt):
                    return _walk(parent, here, u, w, s.anchor, t)
                continue  # never pass through the anchor's source
            key = (x, nxt)
            if key not in parent:
                parent[key] = (here, t)
                queue.append(key)
    return None


def _walk(parent: dict, last: tuple[int, _State], u: int, w: int, anchor: int, t_last: int) -> tuple[list[int], list[int]]:
    nodes: list[int] = []
    types: list[int] = []
    here, t = last, t_last
    while True:
        nodes.append(here[0])
        types.append(t)
        step = parent[here]
        if step is None:
            break
        here, t = step
    nodes.reverse()
    types.reverse()
    return [u, *nodes], [anchor, *types]


def _simple_cycles(nodes: list[int], types: list[int]) -> Iterator[Cycle]:
    """Split a closed walk (``nodes[i] -> nodes[i+1]`` by ``types[i]``, wrapping
    around) into simple cycles, at every vertex it repeats."""
    stack: list[int] = []
    out_types: list[int] = []
    where: dict[int, int] = {}
    m = len(nodes)
    for i in range(m + 1):
        v = nodes[i % m]
        j = where.get(v)
        if j is not None:
            yield Cycle("", stack[j:], out_types[j:])
            for x in stack[j + 1:]:
                del where[x]
            del stack[j + 1:]
            del out_types[j:]
        else:
            where[v] = len(stack)
            stack.append(v)
        if i < m:
            out_types.append(types[i])
