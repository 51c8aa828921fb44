"""Inventory: reservations and restocks in the durable inventory ledger.

``POST /inventory/reserve {order_id, sku, qty, key, token}`` and
``POST /inventory/restock {order_id, key, token}``; ``GET /inventory/ledger``.
Stock is unlimited except for skus starting with ``sold-out``, which are
always out of stock (409, nothing written): a deterministic forward-step
failure.  A restock returns the order's reservation, or is *void* (qty 0)
when there is none, which still advances the fencing token.

With ``inventory.stock`` in node.json each sku has that many units, kept
eventually or linearizably (``inventory.mode``, target/stock.py): a
reservation past the stock is refused (409), and a linearizable node that
cannot reach a quorum refuses with 503 (the saga re-sends). A reservation
row carries ``stock`` (the units per sku this node enforces) and a restock
row ``released_from`` (the wall time its release began), so the oversell
checker can replay the holds from the ledgers alone.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from target import stock as stock_mod
from target.ledger import Ledger, Operation, check_id, find, mount
from target.router import HTTPError

SOLD_OUT_PREFIX = "sold-out"


class _Stock:
    """The stock model, built once the ledger is open (an eventual node rebuilds its holds from it)."""

    model: Any = stock_mod.Unlimited()


def _reserve(stock: _Stock, ledger: Ledger, order_id: str, values: dict[str, Any]) -> dict[str, Any]:
    sku = check_id(values["sku"], "sku")
    if sku.startswith(SOLD_OUT_PREFIX):
        raise HTTPError(409, f"sku {sku} is out of stock; cannot reserve for {order_id}", "sku")
    row = {"sku": sku, "qty": values["qty"]}
    if stock.model.capacity:
        if find(ledger, "reserve", order_id) is None:  # a re-send replays the first row: no new hold
            stock.model.take(sku, order_id, values["qty"])
        row["stock"] = stock.model.capacity
    return row


def _restock(stock: _Stock, ledger: Ledger, order_id: str, values: dict[str, Any]) -> dict[str, Any]:
    held = find(ledger, "reserve", order_id)
    if held is None:
        return {"qty": 0, "void": True}
    row = {"sku": held["sku"], "qty": held["qty"], "reserve_seq": held["seq"]}
    if stock.model.capacity:
        row["released_from"] = time.time()
        stock.model.release(held["sku"], order_id)
    return row


def register(ctx: Any, router: Any) -> None:
    stock = _Stock()
    ledger = mount(
        ctx,
        router,
        "inventory",
        [
            Operation("reserve", {"sku": str, "qty": int}, lambda led, o, v: _reserve(stock, led, o, v)),
            Operation("restock", {}, lambda led, o, v: _restock(stock, led, o, v)),
        ],
    )
    stock.model = stock_mod.build(ctx, ledger.rows())
    if isinstance(stock.model, stock_mod.Eventual):
        model = stock.model

        def sync(req: Any) -> tuple[int, dict[str, Any]]:
            model.merge(req.json)
            return 200, {"ok": True}

        router.add("POST", "/inventory/stock/sync", sync)
        threading.Thread(target=model.run_sync, name="stock-sync", daemon=True).start()
