"""Shipping: shipments and their cancellations in the durable shipping ledger.

``POST /shipping/ship {order_id, key, token}`` and
``POST /shipping/cancel {order_id, key, token}``; ``GET /shipping/ledger``.
A cancel with no shipment on file is *void* but still written, so it raises
the fencing token: a paused old leader that wakes and ships a cancelled order
is rejected (or, with ``fence-after-write``, lands after the cancel).
"""

from __future__ import annotations

from typing import Any

from target.ledger import Ledger, Operation, find, mount


def _ship(ledger: Ledger, order_id: str, values: dict[str, Any]) -> dict[str, Any]:
    return {"shipment": f"shp-{order_id}"}


def _cancel(ledger: Ledger, order_id: str, values: dict[str, Any]) -> dict[str, Any]:
    shipped = find(ledger, "ship", order_id)
    if shipped is None:
        return {"void": True}
    return {"shipment": shipped["shipment"], "ship_seq": shipped["seq"]}


def register(ctx: Any, router: Any) -> None:
    mount(
        ctx,
        router,
        "shipping",
        [
            Operation("ship", {}, _ship),
            Operation("cancel", {}, _cancel),
        ],
    )
