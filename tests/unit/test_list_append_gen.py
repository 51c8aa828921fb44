"""The generic list-append generator: seeded, Elle's shape, unique values, rotating keys."""

from __future__ import annotations

from collections import Counter

import pytest

from harness.core.op import Op
from harness.generator.combinators import limit
from harness.generator.simulate import simulate
from harness.workloads.list_append import ListAppendGen, list_append_final_reads


def ops(gen: ListAppendGen, n: int) -> list[list[list]]:
    return [gen.template(i)["value"] for i in range(n)]


def test_the_same_seed_gives_the_same_transactions_and_another_seed_others() -> None:
    assert ops(ListAppendGen(5), 200) == ops(ListAppendGen(5), 200)
    assert ops(ListAppendGen(5), 200) != ops(ListAppendGen(6), 200)


def test_elles_defaults_one_or_two_micro_ops_half_reads_three_keys_at_a_time() -> None:
    txns = ops(ListAppendGen(1), 3000)
    lengths = Counter(len(t) for t in txns)
    assert set(lengths) == {1, 2}
    mops = [m for t in txns for m in t]
    reads = sum(m[0] == "r" for m in mops) / len(mops)
    assert 0.45 < reads < 0.55
    assert all(m[2] is None for m in mops if m[0] == "r")
    window = [{m[1] for t in txns[i:i + 20] for m in t} for i in range(0, 3000, 20)]
    assert max(len(w) for w in window) <= 3 + 3  # a slot may rotate inside a window


def test_lengths_and_mix_are_configurable() -> None:
    txns = ops(ListAppendGen(1, min_txn_length=3, max_txn_length=6, read_fraction=0.0), 500)
    assert {len(t) for t in txns} == {3, 4, 5, 6}
    assert all(m[0] == "append" for t in txns for m in t)
    assert all(m[0] == "r" for t in ops(ListAppendGen(1, read_fraction=1.0), 200) for m in t)


def test_appended_values_are_unique_and_keys_retire_after_about_max_writes() -> None:
    gen = ListAppendGen(3, key_count=4, max_txn_length=4, max_writes_per_key=20)
    appends = [(m[1], m[2]) for t in ops(gen, 5000) for m in t if m[0] == "append"]
    values = [v for _, v in appends]
    assert len(values) == len(set(values))
    per_key = Counter(k for k, _ in appends)
    full = sorted(per_key.values())[len(per_key) // 10:-2]  # skip the keys cut off at the start and the end
    assert len(per_key) > 40 and all(5 <= n <= 45 for n in full)
    assert all(isinstance(k, int) for k in per_key)


def test_bad_parameters_are_refused() -> None:
    for bad in ({"key_count": 0}, {"min_txn_length": 3, "max_txn_length": 2}, {"max_writes_per_key": 0},
                {"read_fraction": 1.5}):
        with pytest.raises(ValueError):
            ListAppendGen(1, **bad)  # type: ignore[arg-type]


def test_it_runs_as_a_generator_and_final_reads_read_the_last_keys() -> None:
    history = simulate(limit(50, ListAppendGen(9, key_count=2)), concurrency=3)
    invokes = [o for o in history if o.type == "invoke"]
    assert len(invokes) == 50 and all(o.f == "txn" for o in invokes)
    (final,) = list_append_final_reads(invokes)
    last_keys = {m[1] for o in invokes[-5:] for m in o.value}
    assert final["f"] == "txn" and last_keys <= {m[1] for m in final["value"]}
    assert all(m[0] == "r" and m[2] is None for m in final["value"])
    assert list_append_final_reads([Op(0, 0, "nemesis", "invoke", "kill", None)]) == []
