"""Inventory's two consistency modes on real nodes (target/stock.py), judged by the oversell
checker from the ledgers the nodes wrote, never from the mode they were given."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from checkers.pipeline.stock import StockChecker
from harness.core.op import History
from tests.integration.target_cluster import Cluster, cluster


def reserve(c: Cluster, node: str, order: str, qty: int) -> int:
    status, _ = c[node].call("POST", "/inventory/reserve",
                             {"order_id": order, "sku": "sku-a", "qty": qty, "key": f"reserve:{order}", "token": 0},
                             timeout=10.0)
    return status


def restock(c: Cluster, node: str, order: str) -> int:
    status, _ = c[node].call("POST", "/inventory/restock", {"order_id": order, "key": f"restock:{order}", "token": 0},
                             timeout=10.0)
    return status


def judged(c: Cluster, tmp_path: Path) -> Any:
    run = tmp_path / "run"
    for n in c:
        (run / "nodes" / n.name).mkdir(parents=True, exist_ok=True)
        src = n.data_dir / "inventory.ledger.jsonl"
        if src.exists():
            shutil.copy(src, run / "nodes" / n.name / src.name)
    return StockChecker().check(None, History([]), run)


def test_eventual_nodes_that_have_not_heard_from_each_other_oversell(tmp_path: Path) -> None:
    # No push within the test: n1 and n2 are as cut off from each other as in a partition.
    with cluster(tmp_path, 3, inventory={"mode": "eventual", "stock": 2, "sync_seconds": 60}) as c:
        assert reserve(c, "n1", "o1", 2) == 200
        assert reserve(c, "n2", "o2", 2) == 200  # answered at once, from n2's own view
        result = judged(c, tmp_path)
    assert result.valid is False
    (a,) = result.anomalies
    assert a.kind == "oversell" and a.details["peak"] == 4 and a.details["stock"] == 2


def test_eventual_nodes_converge_once_they_hear_each_other(tmp_path: Path) -> None:
    with cluster(tmp_path, 3, inventory={"mode": "eventual", "stock": 2, "sync_seconds": 0.1}) as c:
        assert reserve(c, "n1", "o1", 2) == 200
        time.sleep(1.0)
        assert reserve(c, "n2", "o2", 1) == 409
        assert judged(c, tmp_path).valid is True


def test_linearizable_never_oversells_and_refuses_without_a_quorum(tmp_path: Path) -> None:
    with cluster(tmp_path, 3, inventory={"mode": "linearizable", "stock": 2}) as c:
        assert reserve(c, "n1", "o1", 2) == 200
        assert reserve(c, "n2", "o2", 1) == 409  # n2 sees n1's hold through the quorum record
        assert restock(c, "n1", "o1") == 200
        assert reserve(c, "n2", "o2", 1) == 200
        c.stop("n2")
        c.stop("n3")
        try:
            assert reserve(c, "n1", "o3", 1) == 503  # alone, n1 cannot know what the others granted
        finally:
            c.cont("n2")
            c.cont("n3")
        assert reserve(c, "n3", "o3", 1) == 200
        assert reserve(c, "n1", "o4", 1) == 409
        result = judged(c, tmp_path)
    assert result.valid is True and result.stats["skus"]["sku-a"]["peak"] == 2
