"""Fencing tokens: did any resource accept a write from a leader it had already moved past?

Each ledger (payment, inventory, shipping on every node) appends to its
fence log, in the order it decided, one row per accepted or rejected write.
A write accepted with a token lower than a token that same resource had
already accepted is a **stale fenced write**: the old leader's write landed
after the new leader's (seed 003 snippet 2, the paused-leader scenario).
The fence log is the primary evidence; the ledger file itself (rows in
append order, each with its token) is the fallback for a resource whose fence
log is missing, and rows the ledger marks ``late`` are taken at their word.

Stats carry the proof log of the paused-leader scenario: every rejected token
(who tried, with which token, against which highest), and the leader terms
over time, from the saga step logs (which node acted in which term) and from
the tokens each resource saw.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from checkers.artifacts import SERVICES, Artifacts, clean, op_of_key, order_of_key
from checkers.effects import client_views
from harness.core.op import History
from harness.core.verdict import Anomaly, CheckResult

NAME = "fencing"


def stale_writes(
    rows: list[dict[str, Any]], *, fence_log: bool
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(stale row, the earlier accepted row with the higher token) in one resource's log order."""
    out = []
    best: dict[str, Any] | None = None
    for row in rows:
        if fence_log and row.get("verdict") != "accept":
            continue
        token = row.get("token")
        if not isinstance(token, int):
            continue
        if best is not None and token < best["token"]:
            out.append((row, best))
        elif row.get("late") and isinstance(row.get("highest"), int) and token < row["highest"]:
            out.append(
                (
                    row,
                    {"token": row["highest"], "note": "highest token the ledger held (late check)"},
                )
            )
        if best is None or token > best["token"]:
            best = row
    return out


class FencingChecker:
    name = NAME

    def check(self, test: Any, history: History, artifacts: Path | None) -> CheckResult:
        arts = Artifacts(artifacts)
        if not arts.present:
            return CheckResult(
                valid="unknown",
                error=f"no collected node files under {artifacts}/nodes: "
                "the fence logs are what the fencing checker reads",
            )
        clients, _ = client_views(history)
        anomalies: list[Anomaly] = []
        rejected: list[dict[str, Any]] = []
        tokens: dict[str, list[dict[str, Any]]] = {}
        accepted = 0
        for node in arts.nodes():
            for service in SERVICES:
                fence = arts.fence(node, service)
                ledger = arts.rows(node, f"{service}.ledger.jsonl")
                use_fence = bool(fence) or not ledger
                rows = fence if use_fence else ledger
                accepted += sum(1 for r in rows if not use_fence or r.get("verdict") == "accept")
                rejected += [
                    {
                        "node": node,
                        "ledger": service,
                        **{k: r.get(k) for k in ("key", "token", "highest", "wall")},
                        "source": r.get("_src"),
                    }
                    for r in fence
                    if r.get("verdict") == "reject"
                ]
                if rows:
                    tokens[f"{node}/{service}"] = token_spans(rows, fence_log=use_fence)
                for stale, newer in stale_writes(rows, fence_log=use_fence):
                    anomalies.append(self._anomaly(node, service, stale, newer, ledger, clients))
        stats = {
            "accepted": accepted,
            "rejected": rejected,
            "rejected_count": len(rejected),
            "terms": leader_terms(arts.steps()),
            "tokens": tokens,
        }
        return CheckResult(valid=not anomalies, anomalies=anomalies, stats=stats)

    def _anomaly(
        self,
        node: str,
        service: str,
        stale: dict[str, Any],
        newer: dict[str, Any],
        ledger: list[dict[str, Any]],
        clients: dict[str, Any],
    ) -> Anomaly:
        key = str(stale.get("key"))
        row = next((r for r in ledger if r.get("key") == key), None)
        order = (row or {}).get("order_id") or order_of_key(key)
        view = clients.get(order) if isinstance(order, str) else None
        return Anomaly(
            checker=NAME,
            kind="stale-fenced-write",
            summary=f"{service}@{node} accepted {key} with token {stale.get('token')} "
            f"after accepting token {newer.get('token')}",
            ops=sorted(view.ops) if view else [],
            details={
                "node": node,
                "ledger": service,
                "key": key,
                "order": order,
                "token": stale.get("token"),
                "highest_before": newer.get("token"),
                "stale": clean(stale),
                "newer": clean(newer),
                "row": clean(row) if row else None,
            },
            fingerprint=f"stale-fenced-write/{op_of_key(key)}",
        )


def token_spans(rows: list[dict[str, Any]], *, fence_log: bool) -> list[dict[str, Any]]:
    """Consecutive runs of one token in a resource's log: which term wrote when."""
    spans: list[dict[str, Any]] = []
    for r in rows:
        if fence_log and r.get("verdict") != "accept":
            continue
        t, wall = r.get("token"), r.get("wall")
        if spans and spans[-1]["token"] == t:
            spans[-1]["writes"] += 1
            spans[-1]["last_wall"] = wall
        else:
            spans.append({"token": t, "first_wall": wall, "last_wall": wall, "writes": 1})
    return spans


def leader_terms(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Who acted as orchestrator in which term, by wall time: [{term, node, first_wall, last_wall, steps}]."""
    seen: dict[tuple[Any, Any], dict[str, Any]] = defaultdict(dict)
    for row in steps:
        term, node, wall = row.get("term"), row.get("node"), row.get("wall")
        if not isinstance(wall, (int, float)):
            continue
        span = seen[(term, node)]
        if not span:
            span.update(term=term, node=node, first_wall=wall, last_wall=wall, steps=0)
        span["first_wall"] = min(span["first_wall"], wall)
        span["last_wall"] = max(span["last_wall"], wall)
        span["steps"] += 1
    return sorted(seen.values(), key=lambda s: (s["first_wall"], str(s["term"])))
