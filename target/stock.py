"""Stock per sku, kept in one of two consistency models (node.json ``inventory``).

Before stock existed every reservation succeeded (unless the sku is
``sold-out*``): ``stock: 0`` keeps that (``Unlimited``). With ``stock: S``
each sku has S units, and a reservation holds ``qty`` of them until its
order's restock releases them (a shipped order keeps its units).

``eventual`` (``Eventual``): each node keeps the holds it granted itself,
rebuilt from its inventory ledger on start, and every ``sync_seconds`` pushes
its per-sku totals with a version to every peer (``POST
/inventory/stock/sync``). It grants a reservation when its own holds plus the
last totals it heard from each peer leave room, and answers at once from
local state even when cut off from every peer. So two nodes can each grant
the last units: between two pushes, and for as long as a partition or a
pause keeps the pushes from arriving. That is an oversell, which
checkers/pipeline/stock.py finds in the ledgers.

``linearizable`` (``Linearizable``): a sku's holds are one record
``stock:<sku> = {"holds": {order_id: qty}}`` in the quorum store
(linearizable reads with write-back, writes by cas). A reservation reads the
record and cas-es its hold in; a node that cannot reach a quorum, or loses
the cas race too often, refuses with 503 and the saga re-sends later. It
never grants more than S, and pays for it in latency and refusals.

Holds are keyed by order, so a re-sent reservation or restock changes
nothing the second time. Every decision is appended to
``<data_dir>/inventory.stock.jsonl`` (order, sku, qty, outcome, seconds,
wall) for bench/swap.py.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from target.pool import CallError, http_call
from target.router import HTTPError

RESERVED, OUT_OF_STOCK, UNAVAILABLE = "reserved", "out-of-stock", "unavailable"
#: cas attempts on a contended stock record before a 503 (the saga re-sends later)
CAS_ATTEMPTS = 8


class Unlimited:
    """No stock limit: every reservation is granted (the behaviour before stock existed)."""

    capacity = 0

    def take(self, sku: str, order_id: str, qty: int) -> None:
        return None

    def release(self, sku: str, order_id: str) -> None:
        return None


class _Decisions:
    """Appends one line per decision; shared by both models."""

    def __init__(self, ctx: Any):
        self.ctx = ctx
        self.path = Path(ctx.data_dir) / "inventory.stock.jsonl"
        self.lock = threading.Lock()

    def record(self, op: str, sku: str, order_id: str, qty: int, outcome: str, started: float) -> None:
        row = {"op": op, "order_id": order_id, "sku": sku, "qty": qty, "outcome": outcome,
               "seconds": round(time.monotonic() - started, 6), "wall": time.time(), "node": self.ctx.node}
        with self.lock, self.path.open("a") as fh:
            fh.write(json.dumps(row) + "\n")
        self.ctx.metrics.inc("inventory_decisions", labels={"op": op, "outcome": outcome})


class Eventual:
    """Local holds, totals pushed to peers in the background: never waits, can oversell."""

    def __init__(self, ctx: Any, capacity: int, sync_seconds: float, held: dict[str, dict[str, int]]):
        self.ctx = ctx
        self.capacity = capacity
        self.sync_seconds = sync_seconds
        self.lock = threading.Lock()
        self.mine = held  # sku -> order_id -> qty, the holds this node granted
        self.version = 0
        self.peers: dict[str, tuple[int, dict[str, int]]] = {}  # peer -> (version, sku -> units)
        self.decisions = _Decisions(ctx)

    def _held(self, sku: str) -> int:
        return sum(self.mine.get(sku, {}).values()) + sum(t.get(sku, 0) for _, t in self.peers.values())

    def take(self, sku: str, order_id: str, qty: int) -> None:
        started = time.monotonic()
        with self.lock:
            holds = self.mine.setdefault(sku, {})
            if order_id in holds:
                return
            if self._held(sku) + qty > self.capacity:
                self.decisions.record("reserve", sku, order_id, qty, OUT_OF_STOCK, started)
                raise HTTPError(409, f"sku {sku} is out of stock (as this node last heard); "
                                     f"cannot reserve {qty} for {order_id}", "sku")
            holds[order_id] = qty
            self.version += 1
        self.decisions.record("reserve", sku, order_id, qty, RESERVED, started)

    def release(self, sku: str, order_id: str) -> None:
        started = time.monotonic()
        with self.lock:
            qty = self.mine.get(sku, {}).pop(order_id, 0)
            self.version += 1
        self.decisions.record("restock", sku, order_id, qty, "released", started)

    # -- anti-entropy ------------------------------------------------------------

    def totals(self) -> dict[str, Any]:
        with self.lock:
            return {"node": self.ctx.node, "version": self.version,
                    "held": {sku: sum(h.values()) for sku, h in self.mine.items()}}

    def merge(self, body: dict[str, Any]) -> None:
        """A peer's totals; an older version than the one we hold is ignored."""
        node, version, held = body.get("node"), body.get("version"), body.get("held")
        if not isinstance(node, str) or not isinstance(version, int) or not isinstance(held, dict):
            raise HTTPError(400, "stock sync needs {node, version, held}", "held")
        with self.lock:
            if node == self.ctx.node or self.peers.get(node, (-1, {}))[0] >= version:
                return
            self.peers[node] = (version, {str(k): int(v) for k, v in held.items()})

    def run_sync(self) -> None:
        """Push this node's totals to every peer each ``sync_seconds`` until the node stops."""
        while not self.ctx.stopping.wait(self.sync_seconds):
            body = self.totals()
            for peer in self.ctx.peers:
                if peer == self.ctx.node:
                    continue
                try:
                    http_call(self.ctx.url(peer), "POST", "/inventory/stock/sync", body,
                              timeout=self.ctx.config.request_timeout)
                except CallError:
                    pass  # cut off: the peer hears from us after the partition heals


class Linearizable:
    """One quorum record per sku, changed by cas: never oversells, waits or refuses."""

    def __init__(self, ctx: Any, capacity: int):
        self.ctx = ctx
        self.capacity = capacity
        self.decisions = _Decisions(ctx)

    def _change(self, sku: str, order_id: str, qty: int, op: str) -> str:
        """Read stock:<sku>, apply the hold (or its release), cas it back; RESERVED,
        OUT_OF_STOCK or, when no quorum answers or the cas keeps losing, UNAVAILABLE."""
        from target.store import NoQuorum

        key = f"stock:{sku}"
        for _ in range(CAS_ATTEMPTS):
            try:
                got = self.ctx.store.get(key)
                current = None if got is None else got[0]
                holds = dict((current or {}).get("holds") or {})
                if op == "reserve":
                    if order_id in holds:
                        return RESERVED
                    if sum(holds.values()) + qty > self.capacity:
                        return OUT_OF_STOCK
                    holds[order_id] = qty
                elif holds.pop(order_id, None) is None:
                    return RESERVED
                if self.ctx.store.cas(key, current, {"holds": holds}):
                    return RESERVED
            except NoQuorum:
                return UNAVAILABLE
            except CallError:
                return UNAVAILABLE
            time.sleep(0.005)
        return UNAVAILABLE

    def take(self, sku: str, order_id: str, qty: int) -> None:
        started = time.monotonic()
        outcome = self._change(sku, order_id, qty, "reserve")
        self.decisions.record("reserve", sku, order_id, qty, outcome, started)
        if outcome == OUT_OF_STOCK:
            raise HTTPError(409, f"sku {sku} is out of stock; cannot reserve {qty} for {order_id}", "sku")
        if outcome == UNAVAILABLE:
            raise HTTPError(503, f"stock of {sku} unavailable (no quorum for stock:{sku}); "
                                 f"reservation for {order_id} not made, re-send later")

    def release(self, sku: str, order_id: str) -> None:
        started = time.monotonic()
        outcome = self._change(sku, order_id, 0, "restock")
        self.decisions.record("restock", sku, order_id, 0, "released" if outcome != UNAVAILABLE else outcome,
                              started)
        if outcome == UNAVAILABLE:
            raise HTTPError(503, f"stock of {sku} unavailable (no quorum for stock:{sku}); "
                                 f"restock for {order_id} not made, re-send later")


def held_from_ledger(rows: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """The holds a node granted, from its inventory ledger: reservations not restocked."""
    held: dict[str, dict[str, int]] = {}
    for row in rows:
        if row.get("op") == "reserve" and not row.get("void") and "sku" in row:
            held.setdefault(row["sku"], {})[row["order_id"]] = int(row.get("qty") or 0)
        elif row.get("op") == "restock" and not row.get("void") and "sku" in row:
            held.get(row["sku"], {}).pop(row["order_id"], None)
    return held


def build(ctx: Any, ledger_rows: list[dict[str, Any]]) -> Any:
    """The stock model node.json asks for."""
    cfg = ctx.config.inventory
    if cfg.stock == 0:
        return Unlimited()
    if cfg.mode == "linearizable":
        return Linearizable(ctx, cfg.stock)
    return Eventual(ctx, cfg.stock, cfg.sync_seconds, held_from_ledger(ledger_rows))
