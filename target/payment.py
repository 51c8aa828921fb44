"""Payment: charges and refunds, each a row in the durable payment ledger.

``POST /payment/charge {order_id, amount, key, token}`` and
``POST /payment/refund {order_id, key, token}``; ``GET /payment/ledger``.
A charge above ``DECLINE_ABOVE`` is declined (402, nothing written): the
deterministic business failure that makes the saga compensate.  A refund
returns the order's charge; with no charge on file it writes a *void* refund
(amount 0), which still raises the ledger's fencing token so a stale leader's
late charge is fenced out.  The ``refund-without-key`` bug (seed 003, snippet
3) makes a refund without a key acceptable and gives each call a fresh key,
so a retried refund lands twice.
"""

from __future__ import annotations

from typing import Any

from target.ledger import Ledger, Operation, find, mount
from target.router import HTTPError

DECLINE_ABOVE = 10_000


def _charge(ledger: Ledger, order_id: str, values: dict[str, Any]) -> dict[str, Any]:
    if values["amount"] > DECLINE_ABOVE:
        raise HTTPError(
            402,
            f"charge of {values['amount']} for {order_id} declined (limit {DECLINE_ABOVE})",
            "amount",
        )
    return {"amount": values["amount"]}


def _refund(ledger: Ledger, order_id: str, values: dict[str, Any]) -> dict[str, Any]:
    charge = find(ledger, "charge", order_id)
    if charge is None:
        return {"amount": 0, "void": True}
    return {"amount": charge["amount"], "charge_seq": charge["seq"]}


def register(ctx: Any, router: Any) -> None:
    mount(
        ctx,
        router,
        "payment",
        [
            Operation("charge", {"amount": (int, float)}, _charge),
            Operation("refund", {}, _refund, key_optional=ctx.bugs.on("refund-without-key")),
        ],
    )
