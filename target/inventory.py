"""Inventory: reservations and restocks in the durable inventory ledger.

``POST /inventory/reserve {order_id, sku, qty, key, token}`` and
``POST /inventory/restock {order_id, key, token}``; ``GET /inventory/ledger``.
Stock is unlimited except for skus starting with ``sold-out``, which are
always out of stock (409, nothing written): a deterministic forward-step
failure.  A restock returns the order's reservation, or is *void* (qty 0)
when there is none, which still advances the fencing token.
"""

from __future__ import annotations

from typing import Any

from target.ledger import Ledger, Operation, check_id, find, mount
from target.router import HTTPError

SOLD_OUT_PREFIX = "sold-out"


def _reserve(ledger: Ledger, order_id: str, values: dict[str, Any]) -> dict[str, Any]:
    sku = check_id(values["sku"], "sku")
    if sku.startswith(SOLD_OUT_PREFIX):
        raise HTTPError(409, f"sku {sku} is out of stock; cannot reserve for {order_id}", "sku")
    return {"sku": sku, "qty": values["qty"]}


def _restock(ledger: Ledger, order_id: str, values: dict[str, Any]) -> dict[str, Any]:
    held = find(ledger, "reserve", order_id)
    if held is None:
        return {"qty": 0, "void": True}
    return {"sku": held["sku"], "qty": held["qty"], "reserve_seq": held["seq"]}


def register(ctx: Any, router: Any) -> None:
    mount(
        ctx,
        router,
        "inventory",
        [
            Operation("reserve", {"sku": str, "qty": int}, _reserve),
            Operation("restock", {}, _restock),
        ],
    )
