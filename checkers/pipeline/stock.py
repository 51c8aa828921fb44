"""Oversell: did the inventory ledgers ever hold more units of a sku than it has?

With a stock limit (node.json ``inventory.stock``, target/stock.py) every
reservation row says how many units of its sku the node enforces
(``stock``), and every restock row when its release began
(``released_from``). Replaying every node's inventory ledger in wall-clock
order, a reservation holds its units from the moment its row was appended
until its order's restock began; a sku is **oversold** when the units held
at once exceed its stock. The checker reads only what the nodes wrote, never
the consistency mode the run asked for.

Why no false alarm from a correct node: a linearizable reservation appends
its row after its hold is in the quorum record, and a restock's
``released_from`` is taken before its release, so the replay counts every
hold no earlier and every release no later than the record did; the units
it sees held at once are never more than the record held. The replay
trusts the nodes' wall clocks to be one clock (local and namespace clusters
share the host's), so it is not run under clock faults on separate hosts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from checkers.pipeline.artifacts import Artifacts
from checkers.runbook import Runbook
from harness.core.op import History
from harness.core.protocols import Test
from harness.core.verdict import Anomaly, CheckResult

NAME = "stock"
#: Reservation rows shown per oversold sku.
SHOWN = 10


def _events(arts: Artifacts) -> tuple[list[tuple[float, int, str, int, dict[str, Any]]], dict[str, int]]:
    """(time, +1 reserve / -1 release, sku, qty, row) and each sku's stock (the least any row names)."""
    events: list[tuple[float, int, str, int, dict[str, Any]]] = []
    stock: dict[str, int] = {}
    for node in arts.nodes():
        name = "inventory.ledger.jsonl"
        held: dict[str, tuple[str, int]] = {}  # order -> (sku, qty) of a counted reservation
        for line, row in arts.iter(node, name):
            row = dict(row, node=node, source=f"{arts.label(node, name)}:{line}")
            if row.get("void") or not isinstance(row.get("wall"), (int, float)):
                continue
            sku, qty = row.get("sku"), row.get("qty")
            if row.get("op") == "reserve" and isinstance(row.get("stock"), int) and isinstance(qty, int):
                stock[str(sku)] = min(stock.get(str(sku), row["stock"]), row["stock"])
                held[str(row.get("order_id"))] = (str(sku), qty)
                events.append((float(row["wall"]), 1, str(sku), qty, row))
            elif row.get("op") == "restock" and str(row.get("order_id")) in held:
                sku_held, qty_held = held.pop(str(row.get("order_id")))
                start = row.get("released_from", row["wall"])
                events.append((float(start), -1, sku_held, qty_held, row))
    # Releases first on a tie: the replay never counts a hold longer than the nodes kept it.
    events.sort(key=lambda e: (e[0], e[1]))
    return events, stock


def replay(events: list[tuple[float, int, str, int, dict[str, Any]]], stock: dict[str, int]) -> dict[str, dict[str, Any]]:
    """Per sku: the peak units held at once, every reservation granted past the stock, and
    the holds at the first moment it went past (``held_by``: what a regression case keeps)."""
    held: dict[str, int] = {}
    holders: dict[str, dict[str, dict[str, Any]]] = {}  # sku -> order -> its hold
    out: dict[str, dict[str, Any]] = {sku: {"stock": s, "peak": 0, "reservations": 0, "over": [], "held_by": []}
                                      for sku, s in stock.items()}
    for _, sign, sku, qty, row in events:
        held[sku] = held.get(sku, 0) + sign * qty
        mine = holders.setdefault(sku, {})
        if sign < 0:
            mine.pop(str(row.get("order_id")), None)
            continue
        mine[str(row.get("order_id"))] = {"order_id": row.get("order_id"), "node": row.get("node"), "qty": qty}
        if sku not in out:
            continue
        s = out[sku]
        s["reservations"] += 1
        s["peak"] = max(s["peak"], held[sku])
        if held[sku] > s["stock"]:
            if not s["over"]:
                s["held_by"] = sorted(mine.values(), key=lambda h: str(h["order_id"]))
            s["over"].append({"order_id": row.get("order_id"), "node": row.get("node"), "qty": qty,
                              "held_after": held[sku], "wall": row.get("wall"), "source": row.get("source")})
    return out


def _place_ops(history: History) -> dict[str, int]:
    """order id -> index of the invoke that placed it."""
    out: dict[str, int] = {}
    for op in history:
        if op.type == "invoke" and op.f == "place" and isinstance(op.value, dict):
            out.setdefault(str(op.value.get("order_id")), op.index)
    return out


class StockChecker:
    """Finds oversold skus from the inventory ledgers (no stock limit in the rows: nothing to check)."""

    name = NAME

    def check(self, test: Test | None, history: History, artifacts: Path | None) -> CheckResult:
        arts = Artifacts.open(artifacts)
        events, stock = _events(arts)
        if not stock:
            return CheckResult(valid=True, stats={"limited": False, "note": "no reservation row names a stock: "
                                                  "stock is unlimited, nothing can be oversold"})
        skus = replay(events, stock)
        ops = _place_ops(history)
        anomalies = [self._anomaly(sku, s, ops) for sku, s in sorted(skus.items()) if s["over"]]
        stats = {"limited": True,
                 "skus": {k: {"stock": v["stock"], "peak": v["peak"], "reservations": v["reservations"],
                              "oversold_reservations": len(v["over"])} for k, v in sorted(skus.items())},
                 "oversold_reservations": sum(len(v["over"]) for v in skus.values()),
                 "oversold_units": sum(max(0, v["peak"] - v["stock"]) for v in skus.values())}
        return CheckResult(valid=not anomalies, anomalies=anomalies, stats=stats)

    @staticmethod
    def _anomaly(sku: str, s: dict[str, Any], ops: dict[str, int]) -> Anomaly:
        over = s["over"]
        nodes = sorted({str(o["node"]) for o in over})
        return Anomaly(
            checker=NAME,
            kind="oversell",
            summary=f"sku {sku}: {s['peak']} units held at once, stock is {s['stock']}; "
                    f"{len(over)} reservation(s) granted past the stock (on {', '.join(nodes)})",
            ops=sorted({ops[str(o["order_id"])] for o in over if str(o["order_id"]) in ops})[:SHOWN],
            details={"sku": sku, "stock": s["stock"], "peak": s["peak"], "oversold_reservations": len(over),
                     "nodes": nodes, "rows": over[:SHOWN], "held_by": s["held_by"]},
            fingerprint="oversell",
        )


#: The on-call entry of this module's kind (checkers/runbook.py renders docs/oncall.md).
RUNBOOK = (
    Runbook(
        name="oversell",
        what="Units of each sku held at once, replaying every node's inventory ledger in wall-clock order "
        "(a reservation holds from its row until its restock began), against the stock the rows name.",
        fires="Any moment a sku's held units exceed its stock; the stats count the reservations granted "
        "past it. Severity error.",
        cause="Stock kept eventually: each node grants from its own view of the others' holds, so during a "
        "partition or a pause, or between two syncs, two nodes grant the last units. The seed's "
        "'pick a consistency model per piece of state' (seed 000) chosen for availability where "
        "disagreement is deadly (seed 002, consensus spent where two winners are dangerous).",
        look=(
            "`jq '.checkers.stock' RUN/results.json` (peak against stock per sku, the rows granted past it).",
            "`jq -r .outcome RUN/nodes/*/inventory.stock.jsonl | sort | uniq -c` (reserved, out-of-stock, "
            "unavailable per decision) and `jq -c 'select(.op == \"reserve\")' RUN/nodes/*/inventory.ledger.jsonl`.",
            "`jq '.inventory' RUN/nodes/*/node.json` (mode and stock each node ran with) and the faults: "
            "`jq -c 'select(.process == \"nemesis\")' RUN/history.jsonl`.",
        ),
        verify="`seam test --workload orders --nemesis partition --target-opt stock=8 --target-opt "
        "inventory=eventual --seed 7` oversells; the same with `--target-opt inventory=linearizable` is "
        "VALID, paying in latency and refusals (`python bench/swap.py`, docs/consistency-swap.md). "
        "The mode is the fix, not a `--bug` flag. `seam regress regressions/oversell` re-checks the "
        "case kept from an eventual run under partitions (seed 22101): it must stay INVALID.",
    ),
)
