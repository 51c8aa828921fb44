"""bench/swap.py's arithmetic on decisions written the way target/stock.py writes them."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("bench_swap", REPO / "bench" / "swap.py")
assert spec and spec.loader
swap = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = swap  # dataclasses look their module up while the class is made
spec.loader.exec_module(swap)


def d(order: str, outcome: str, wall: float, seconds: float = 0.001) -> dict:
    return {"op": "reserve", "order_id": order, "sku": "a", "qty": 1, "outcome": outcome, "wall": wall,
            "seconds": seconds}


def test_a_refused_attempt_and_its_resend_count_as_one_slow_reservation() -> None:
    run = swap.Run("partition", "linearizable", 1, [])
    swap.measure(run, [d("o1", "unavailable", 10.5, 0.5), d("o1", "reserved", 12.0), d("o2", "out-of-stock", 11.0),
                       d("o3", "unavailable", 13.0)])
    assert run.attempts == 4 and run.unavailable == 2 and run.reserved == 1 and run.out_of_stock == 1
    assert run.latencies == pytest.approx([2.0, 0.001])  # o1 from its first attempt's start (10.0); o3 never decided
    run.run_dir = Path(".")
    r = swap.row([run])
    assert r["availability"] == 0.5 and r["reserved"] == 0.5 and r["p99_ms"] == pytest.approx(2000)
    assert "| linearizable | 1/1 |" in swap.table("partition", {"linearizable": r})


def test_both_modes_run_on_the_same_seed_and_fault() -> None:
    args = argparse.Namespace(cluster="netns", time_limit=30.0, rate=20.0, stock=8, partition_shape="",
                              cluster_prefix="seamsw", subnet="10.84.0.0/24", cluster_state=None,
                              results=Path("/tmp/r"))
    a, b = (swap.argv_for("partition", m, 3, args, Path("/tmp/r/x"), 7900) for m in swap.MODES)
    assert [x for x in a if "inventory=" not in x and "/tmp/r/x/" not in x] == \
        [x for x in b if "inventory=" not in x and "/tmp/r/x/" not in x]
    assert "inventory=eventual" in a and "inventory=linearizable" in b and "--nemesis" in a
    assert a[a.index("--cluster-state") + 1] == "/tmp/r/.cluster"
