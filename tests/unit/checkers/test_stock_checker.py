"""checkers/pipeline/stock.py: oversold skus from the inventory ledgers alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from checkers.pipeline.stock import StockChecker
from harness.core.op import History


def run_dir(tmp_path: Path, ledgers: dict[str, list[dict[str, Any]]]) -> Path:
    for node, rows in ledgers.items():
        d = tmp_path / "nodes" / node
        d.mkdir(parents=True)
        (d / "inventory.ledger.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return tmp_path


def reserve(order: str, wall: float, qty: int = 1, stock: int | None = 2) -> dict[str, Any]:
    row = {"op": "reserve", "order_id": order, "sku": "sku-a", "qty": qty, "wall": wall, "key": f"reserve:{order}"}
    if stock is not None:
        row["stock"] = stock
    return row


def restock(order: str, wall: float, released_from: float, qty: int = 1) -> dict[str, Any]:
    return {"op": "restock", "order_id": order, "sku": "sku-a", "qty": qty, "wall": wall,
            "released_from": released_from, "key": f"restock:{order}"}


def check(path: Path) -> Any:
    return StockChecker().check(None, History([]), path)


def test_two_nodes_granting_the_last_unit_is_an_oversell(tmp_path: Path) -> None:
    r = check(run_dir(tmp_path, {"n1": [reserve("o1", 1.0), reserve("o2", 2.0)], "n2": [reserve("o3", 2.5)]}))
    assert r.valid is False
    (a,) = r.anomalies
    assert a.kind == "oversell" and a.details["peak"] == 3 and a.details["stock"] == 2
    assert a.details["nodes"] == ["n2"] and a.details["rows"][0]["order_id"] == "o3"
    assert r.stats["oversold_reservations"] == 1


def test_a_release_counts_from_when_it_began_not_when_its_row_was_written(tmp_path: Path) -> None:
    """Linearizable: o1's release began (1.5) before o3 took the unit (2.0), though its row
    was written after (2.2): no oversell. With the row's time instead it would be one."""
    ledgers = {"n1": [reserve("o1", 1.0), reserve("o2", 1.1), restock("o1", 2.2, released_from=1.5)],
               "n2": [reserve("o3", 2.0)]}
    r = check(run_dir(tmp_path, ledgers))
    assert r.valid is True and r.stats["skus"]["sku-a"]["peak"] == 2
    ledgers["n1"][2].pop("released_from")
    assert check(run_dir(tmp_path / "again", ledgers)).valid is False


def test_no_stock_in_the_rows_means_nothing_to_check(tmp_path: Path) -> None:
    r = check(run_dir(tmp_path, {"n1": [reserve(f"o{i}", float(i), stock=None) for i in range(9)]}))
    assert r.valid is True and r.stats["limited"] is False and not r.anomalies


def test_an_oversell_names_every_hold_at_the_moment_it_went_past_the_stock(tmp_path: Path) -> None:
    """The rows alone show only the grant past the stock; the holds beside it are what make
    it one, so a regression case keeps those orders' rows (a focused case, not every row).
    o0 was released before o3 came: it is not among them."""
    ledgers = {"n1": [reserve("o0", 0.5), reserve("o1", 1.0), restock("o0", 1.2, released_from=1.1),
                      reserve("o2", 2.0)],
               "n2": [reserve("o3", 2.5), reserve("o4", 3.0)]}
    (a,) = check(run_dir(tmp_path, ledgers)).anomalies
    assert [(h["order_id"], h["node"]) for h in a.details["held_by"]] == [("o1", "n1"), ("o2", "n1"), ("o3", "n2")]
    assert [r["order_id"] for r in a.details["rows"]] == ["o3", "o4"]
    kept = {n: [r for r in rows if r["order_id"] in {"o1", "o2", "o3"}] for n, rows in ledgers.items()}
    again = check(run_dir(tmp_path / "kept", kept))
    assert again.valid is False and again.anomalies[0].details["peak"] == 3
