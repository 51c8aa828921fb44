"""target/stock.py: eventual stock grants from a local view (and so can oversell), linearizable
stock grants through one cas-ed record (and so refuses instead)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from target import stock
from target.router import HTTPError
from target.store import NoQuorum


class Metrics:
    def inc(self, *a: Any, **k: Any) -> None:
        pass


class Store:
    """A linearizable in-memory store with the StoreClient's get and cas; ``down`` raises NoQuorum."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.lock = threading.Lock()
        self.down = False

    def get(self, key: str) -> tuple[Any, Any] | None:
        if self.down:
            raise NoQuorum("read", key, 2, 0, {})
        return (json.loads(json.dumps(self.data[key])), (1, 0, "n1")) if key in self.data else None

    def cas(self, key: str, expected: Any, new: Any) -> bool:
        if self.down:
            raise NoQuorum("write", key, 2, 0, {})
        with self.lock:
            if self.data.get(key) != expected:
                return False
            self.data[key] = new
            return True


class Ctx:
    def __init__(self, node: str, data_dir: Path, store: Store | None = None):
        self.node = node
        self.data_dir = data_dir
        self.metrics = Metrics()
        self.store = store
        self.stopping = threading.Event()


def outcomes(path: Path) -> list[str]:
    return [json.loads(line)["outcome"] for line in path.read_text().splitlines()]


def test_eventual_nodes_cut_off_from_each_other_both_grant_the_last_units(tmp_path: Path) -> None:
    a = stock.Eventual(Ctx("n1", tmp_path), 3, 1.0, {})
    b = stock.Eventual(Ctx("n2", tmp_path), 3, 1.0, {})
    a.take("sku-a", "o1", 3)
    b.take("sku-a", "o2", 3)  # n2 never heard of o1: 6 units held of 3
    b.merge(a.totals())
    with pytest.raises(HTTPError) as e:
        b.take("sku-a", "o3", 1)
    assert e.value.status == 409
    a.take("sku-a", "o1", 3)  # a re-send holds nothing more
    assert a.totals()["held"] == {"sku-a": 3}
    a.release("sku-a", "o1")
    b.merge(a.totals())
    b.merge({"node": "n1", "version": 1, "held": {"sku-a": 3}})  # an older push changes nothing
    assert b._held("sku-a") == 3
    assert outcomes(tmp_path / "inventory.stock.jsonl") == ["reserved", "reserved", "out-of-stock", "released"]


def test_linearizable_nodes_never_hold_more_than_the_stock(tmp_path: Path) -> None:
    shared = Store()
    nodes = [stock.Linearizable(Ctx(f"n{i}", tmp_path, shared), 5) for i in range(3)]
    granted: list[str] = []

    def buy(i: int) -> None:
        for k in range(6):
            try:
                nodes[i].take("sku-a", f"o{i}-{k}", 1)
                granted.append(f"o{i}-{k}")
            except HTTPError as e:
                assert e.status == 409

    threads = [threading.Thread(target=buy, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(granted) == 5 and sum(shared.data["stock:sku-a"]["holds"].values()) == 5
    nodes[0].release("sku-a", granted[0])
    nodes[1].take("sku-a", "late", 1)
    assert sum(shared.data["stock:sku-a"]["holds"].values()) == 5


def test_linearizable_refuses_without_a_quorum_and_holds_nothing(tmp_path: Path) -> None:
    shared = Store()
    node = stock.Linearizable(Ctx("n1", tmp_path, shared), 5)
    shared.down = True
    with pytest.raises(HTTPError) as e:
        node.take("sku-a", "o1", 1)
    assert e.value.status == 503
    shared.down = False
    assert "stock:sku-a" not in shared.data
    assert outcomes(tmp_path / "inventory.stock.jsonl") == ["unavailable"]


def test_holds_are_rebuilt_from_the_ledger() -> None:
    rows = [{"op": "reserve", "order_id": "o1", "sku": "a", "qty": 2},
            {"op": "reserve", "order_id": "o2", "sku": "a", "qty": 1},
            {"op": "restock", "order_id": "o1", "sku": "a", "qty": 2},
            {"op": "restock", "order_id": "o9", "qty": 0, "void": True}]
    assert stock.held_from_ledger(rows) == {"a": {"o2": 1}}
