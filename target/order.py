"""Orders: placed and cancelled through HTTP, kept in the quorum store.

``POST /orders {order_id, sku, qty, amount}`` stores ``order:<id>`` (a
compare-and-set from absent, so two racing placements cannot both win) and
publishes ``order-placed`` to this node's event log; repeating the same
placement is a replay (200, ``"replay": true``) that re-publishes the event,
so a crash between the store write and the publish is repaired by the
client's retry.  ``POST /orders/{id}/cancel`` marks the order and publishes
``order-cancelled``.  ``GET /orders/{id}`` merges the order with its saga's
state.  Progress lives in ``saga:<id>``, written only by the orchestrator.
"""

from __future__ import annotations

from typing import Any

from target import events
from target.ledger import check_id
from target.router import HTTPError, Request
from target.store import NoQuorum

FIELDS = ("order_id", "sku", "qty", "amount")
PENDING = "placed"  # the status before the orchestrator has picked the order up


def order_key(order_id: str) -> str:
    return f"order:{order_id}"


def saga_key(order_id: str) -> str:
    return f"saga:{order_id}"


def _validate(req: Request) -> dict[str, Any]:
    order_id = check_id(req.field("order_id"), "order_id")
    sku = check_id(req.field("sku"), "sku")
    qty = req.field("qty", int)
    if not 0 < qty <= 1_000_000:
        raise HTTPError(400, f"field 'qty' must be between 1 and 1000000, got {qty}", "qty")
    amount = req.field("amount", (int, float))
    if not 0 < amount < 1e12:
        raise HTTPError(
            400, f"field 'amount' must be a positive number below 1e12, got {amount!r}", "amount"
        )
    return {"order_id": order_id, "sku": sku, "qty": qty, "amount": amount}


def _unavailable(e: Exception) -> HTTPError:
    return HTTPError(503, f"order store unavailable (outcome unknown): {e}")


def place(ctx: Any, req: Request) -> tuple[int, dict[str, Any]]:
    order = _validate(req)
    key = order_key(order["order_id"])
    record = dict(order, cancel_requested=False, node=ctx.node, placed_hlc=ctx.hlc.now().to_json())
    try:
        created = ctx.store.cas(key, None, record)
        current = record if created else (ctx.store.get(key) or (None,))[0]
    except NoQuorum as e:
        raise _unavailable(e) from e
    if current is None:
        raise HTTPError(503, f"order {order['order_id']} neither created nor readable; retry")
    if any(current.get(f) != order[f] for f in FIELDS):
        raise HTTPError(
            409, f"order {order['order_id']} already exists with different contents", "order_id"
        )
    events.publish(ctx, events.PLACED, current)
    ctx.metrics.inc("orders_placed" if created else "orders_replayed")
    return (201 if created else 200), dict(current, status=PENDING, replay=not created)


def cancel(ctx: Any, req: Request) -> tuple[int, dict[str, Any]]:
    order_id = check_id(req.params["id"], "id")
    key = order_key(order_id)
    try:
        for _ in range(5):
            got = ctx.store.get(key)
            if got is None:
                raise HTTPError(404, f"no such order {order_id}", "id")
            current = got[0]
            if current.get("cancel_requested") or ctx.store.cas(
                key, current, dict(current, cancel_requested=True)
            ):
                break
        else:
            raise HTTPError(503, f"order {order_id} changed under five cancel attempts; retry")
    except NoQuorum as e:
        raise _unavailable(e) from e
    events.publish(ctx, events.CANCELLED, current)
    ctx.metrics.inc("orders_cancel_requested")
    return 202, {"order_id": order_id, "cancel_requested": True}


def show(ctx: Any, req: Request) -> tuple[int, dict[str, Any]]:
    order_id = check_id(req.params["id"], "id")
    try:
        got = ctx.store.get(order_key(order_id))
        if got is None:
            raise HTTPError(404, f"no such order {order_id}", "id")
        saga = ctx.store.get(saga_key(order_id))
    except NoQuorum as e:
        raise HTTPError(503, f"order store unavailable: {e}") from e
    out = dict(got[0])
    if saga is None:
        out["status"] = PENDING
    else:
        rec = saga[0]
        out["status"] = rec["state"]
        out["saga"] = {k: rec.get(k) for k in ("state", "want", "steps", "term", "error")}
    return 200, out


def register(ctx: Any, router: Any) -> None:
    from target import faults

    router.add("POST", "/orders", faults.wrap(ctx, "order", "place", lambda req: place(ctx, req)))
    router.add(
        "POST",
        "/orders/{id}/cancel",
        faults.wrap(ctx, "order", "cancel", lambda req: cancel(ctx, req)),
    )
    router.add("GET", "/orders/{id}", lambda req: show(ctx, req))
