import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nemesis import grudge as g

NODES = ["n1", "n2", "n3", "n4", "n5"]


def test_halves_splits_minority_and_majority_both_ways():
    gr = g.halves(NODES)
    assert gr["n1"] == {"n3", "n4", "n5"}
    assert gr["n3"] == {"n1", "n2"}
    assert g.components(NODES, gr) == [frozenset({"n1", "n2"}), frozenset({"n3", "n4", "n5"})]


def test_isolate_cuts_one_node_off():
    gr = g.isolate(NODES, "n4")
    assert gr["n4"] == {"n1", "n2", "n3", "n5"}
    assert all(gr[n] == {"n4"} for n in NODES if n != "n4")


def test_isolate_unknown_node_names_it():
    with pytest.raises(ValueError, match="n9"):
        g.isolate(NODES, "n9")


def test_bridge_hub_sees_everyone_and_sides_do_not_see_each_other():
    gr = g.bridge(NODES)
    assert gr["n3"] == frozenset()
    assert gr["n1"] == {"n4", "n5"} and gr["n5"] == {"n1", "n2"}


def test_majorities_ring_each_node_sees_a_distinct_majority():
    gr = g.majorities_ring(NODES)
    seen = {n: frozenset(NODES) - gr[n] for n in NODES}
    assert all(len(s) == 3 and n in s for n, s in seen.items())
    assert len(set(seen.values())) == len(NODES)


@given(st.integers(min_value=2, max_value=9), st.integers(min_value=0, max_value=10_000))
def test_random_partitions_are_symmetric_with_two_nonempty_sides(n, seed):
    nodes = [f"n{i}" for i in range(1, n + 1)]
    gr = g.random_partition(nodes, random.Random(seed))
    for dst, src in g.edges(gr):
        assert (src, dst) in g.edges(gr)
    comps = g.components(nodes, gr)
    assert len(comps) == 2 and all(comps)


@given(st.integers(min_value=0, max_value=10_000))
def test_same_seed_same_partition(seed):
    assert g.halves(NODES, random.Random(seed)) == g.halves(NODES, random.Random(seed))
    assert g.bridge(NODES, random.Random(seed)) == g.bridge(NODES, random.Random(seed))


@given(st.integers(min_value=3, max_value=11))
def test_majorities_ring_every_node_sees_a_majority(n):
    nodes = [f"n{i}" for i in range(n)]
    gr = g.majorities_ring(nodes)
    for node in nodes:
        assert n - len(gr[node]) >= n // 2 + 1
