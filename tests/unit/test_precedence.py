"""The real-time precedence graph of an explanation, reduced without a graph library.

``precedence_reduction`` computes the transitive reduction directly from the
intervals; these tests hold it to the definition (an edge stays iff no path
of two or more edges joins its ends), computed by brute force, and to
networkx's generic algorithm, over random histories with crashed calls.
"""

from __future__ import annotations

import random

import networkx as nx
import pytest

from checkers.linearizable.explain import precedence_graph, precedence_reduction
from harness.core.op import INF, Call


def random_calls(
    rng: random.Random, n: int, crash_rate: float, ties: bool = False
) -> list[Call]:
    """``n`` calls with random intervals, on distinct history positions unless ``ties``."""
    positions = (
        [rng.randrange(n) for _ in range(2 * n)] if ties else rng.sample(range(4 * n), 2 * n)
    )
    calls = []
    for i in range(n):
        a, b = sorted(positions[2 * i : 2 * i + 2])
        b = b if b > a else a + 1
        ret = INF if rng.random() < crash_rate else b
        calls.append(Call(i, i, "write", i, i, a, ret, a, None if ret == INF else b))
    rng.shuffle(calls)
    return calls


def brute_reduction(calls: list[Call]) -> set[tuple[int, int]]:
    before = {(a.id, b.id) for a in calls for b in calls if a.ret < b.call}
    return {
        (a, b)
        for a, b in before
        if not any((a, c.id) in before and (c.id, b) in before for c in calls)
    }


@pytest.mark.parametrize("seed", range(200))
def test_reduction_keeps_exactly_the_edges_no_path_implies(seed: int) -> None:
    rng = random.Random(seed)
    calls = random_calls(
        rng, rng.randint(1, 30), crash_rate=rng.choice([0.0, 0.2, 0.6]), ties=seed % 2 == 1
    )
    assert set(precedence_reduction(calls).edges()) == brute_reduction(calls)
    assert set(precedence_reduction(calls).edges()) <= set(precedence_graph(calls).edges())


@pytest.mark.parametrize("seed", range(20))
def test_reduction_agrees_with_networkx(seed: int) -> None:
    rng = random.Random(1000 + seed)
    calls = random_calls(rng, 60, crash_rate=0.1)
    g = nx.DiGraph(precedence_graph(calls).edges())
    g.add_nodes_from(c.id for c in calls)
    assert sorted(precedence_reduction(calls).edges()) == sorted(nx.transitive_reduction(g).edges())


def test_predecessors_are_the_immediate_ones() -> None:
    # 0 returns before 1 begins, 1 before 2; 3 overlaps 1 and returns before 2.
    calls = [
        Call(0, 0, "write", 1, 1, 0, 1, 0, 1),
        Call(1, 1, "write", 2, 2, 2, 4, 2, 4),
        Call(3, 3, "write", 3, 3, 3, 5, 3, 5),
        Call(2, 2, "read", None, 2, 6, 7, 6, 7),
    ]
    reduced = precedence_reduction(calls)
    assert sorted(reduced.predecessors(2)) == [1, 3]
    assert sorted(reduced.edges()) == [(0, 1), (0, 3), (1, 2), (3, 2)]
    assert sorted(reduced.nodes) == [0, 1, 2, 3]
