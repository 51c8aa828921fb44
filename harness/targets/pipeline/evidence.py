"""The pipeline's node files as its regression cases need them (``CaseFiles``).

The pipeline's checkers (effects, fencing, quorum, causal, signals) read
each node's ledgers, fence logs, saga step log and store replica, and reason
about orders: a case keeps the rows about the orders an anomaly names.
"""

from __future__ import annotations

from typing import Any

from harness.core.op import Op
from harness.core.verdict import Anomaly
from harness.regress.evidence import CaseFiles

STORE, STEPS = "store.jsonl", "saga-steps.jsonl"
ROWS = ("payment.ledger.jsonl", "inventory.ledger.jsonl", "shipping.ledger.jsonl",
        "payment.fence.jsonl", "inventory.fence.jsonl", "shipping.fence.jsonl",
        STEPS, STORE, "metrics.jsonl")
#: node.json keys checkers read; the rest (data_dir, admin_secret, peers) stays on the node.
CONFIG_KEYS = ("node", "replication", "bugs", "retry", "seed")


def named_orders(anomaly: Anomaly) -> set[str]:
    """Every order id the anomaly mentions (``order``/``order_id`` anywhere in its details)."""
    found: set[str] = set()
    stack: list[Any] = [anomaly.details]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            found.update(value[k] for k in ("order", "order_id") if isinstance(value.get(k), str))
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return found


def order_of_row(row: dict[str, Any]) -> str | None:
    """The order a ledger, fence, step or store row is about: its order_id, else its key's
    (``order:<id>``, ``order:<id>:ship``)."""
    oid = row.get("order_id")
    if isinstance(oid, str):
        return oid
    key = row.get("key")
    parts = key.split(":") if isinstance(key, str) else []
    return parts[1] if len(parts) >= 2 else None


def order_of_op(op: Op) -> str | None:
    v = op.value
    oid = v.get("order_id") if isinstance(v, dict) else None
    return oid if isinstance(oid, str) else None


CASE_FILES = CaseFiles(
    rows=ROWS,
    whole=("node.json",),
    whole_for={"signals": ("metrics.json",), "quorum": ("metrics.json",)},  # the N, W, R nodes report
    keep_keys={"node.json": CONFIG_KEYS},
    newest_row=(STEPS,),
    latest_by_key=(STORE,),
    entity_of_row=order_of_row,
    entity_of_op=order_of_op,
    entities=named_orders,
)
