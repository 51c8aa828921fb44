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

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from checkers.artifacts import SERVICES, Artifacts, Step, op_of_key, order_of_key
from checkers.effects import client_views
from harness.core.op import History
from harness.core.verdict import Anomaly, CheckResult

NAME = "fencing"


def stale_writes(
    rows: Iterable[tuple[int, dict[str, Any]]], *, fence_log: bool
) -> list[tuple[int, dict[str, Any], dict[str, Any]]]:
    """(line, stale row, the earlier accepted row with the higher token), in one resource's log order."""
    out = []
    best: dict[str, Any] | None = None
    for line, row in rows:
        if fence_log and row.get("verdict") != "accept":
            continue
        token = row.get("token")
        if not isinstance(token, int):
            continue
        if best is not None and token < best["token"]:
            out.append((line, row, best))
        elif row.get("late") and isinstance(row.get("highest"), int) and token < row["highest"]:
            note = "highest token the ledger held (late check)"
            out.append((line, row, {"token": row["highest"], "note": note}))
        if best is None or token > best["token"]:
            best = row
    return out


class Spans:
    """Consecutive runs of one token in a resource's log: which term wrote when."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []

    def add(self, token: Any, wall: Any) -> None:
        if self.spans and self.spans[-1]["token"] == token:
            self.spans[-1]["writes"] += 1
            self.spans[-1]["last_wall"] = wall
        else:
            self.spans.append({"token": token, "first_wall": wall, "last_wall": wall, "writes": 1})


def token_spans(rows: Iterable[dict[str, Any]], *, fence_log: bool) -> list[dict[str, Any]]:
    spans = Spans()
    for r in rows:
        if not fence_log or r.get("verdict") == "accept":
            spans.add(r.get("token"), r.get("wall"))
    return spans.spans


class FencingChecker:
    name = NAME

    def check(self, test: Any, history: History, artifacts: Path | None) -> CheckResult:
        arts = Artifacts.open(artifacts)
        if not arts.present:
            return CheckResult(
                valid="unknown",
                error=f"no collected node files under {artifacts}/nodes: "
                "the fence logs are what the fencing checker reads",
            )
        found: list[tuple[str, str, str, dict[str, Any], dict[str, Any]]] = []
        rejected: list[dict[str, Any]] = []
        tokens: dict[str, list[dict[str, Any]]] = {}
        accepted = 0
        for node in arts.nodes():
            for service in SERVICES:
                name = f"{service}.fence.jsonl"
                use_fence = arts.path(node, name).exists()
                spans = Spans()
                seen: list[tuple[int, dict[str, Any]]] = []
                source = name if use_fence else f"{service}.ledger.jsonl"

                def rows(node: str = node, service: str = service, name: str = name,
                         use_fence: bool = use_fence) -> Iterator[tuple[int, dict[str, Any]]]:
                    if use_fence:
                        yield from arts.iter(node, name)
                    else:
                        for r in arts.ledger(service, node):
                            yield r.line, r.to_json()

                def watch(it: Iterator[tuple[int, dict[str, Any]]], node: str = node,
                          service: str = service, spans: Spans = spans,
                          seen: list[Any] = seen) -> Iterator[tuple[int, dict[str, Any]]]:
                    for line, r in it:
                        seen.append(None)
                        if r.get("verdict") == "reject":
                            rejected.append({
                                "node": node, "ledger": service,
                                **{k: r.get(k) for k in ("key", "token", "highest", "wall")},
                                "source": f"{arts.label(node, name)}:{line}",
                            })
                        else:
                            spans.add(r.get("token"), r.get("wall"))
                        yield line, r

                for line, stale, newer in stale_writes(watch(rows()), fence_log=use_fence):
                    stale = dict(stale, source=f"{arts.label(node, source)}:{line}")
                    found.append((node, service, source, stale, newer))
                accepted += sum(s["writes"] for s in spans.spans)
                if spans.spans:
                    tokens[f"{node}/{service}"] = spans.spans
        anomalies = []
        if found:
            clients, _ = client_views(history)
            anomalies = [self._anomaly(arts, *f, clients) for f in found]
        stats = {
            "accepted": accepted,
            "rejected": rejected,
            "rejected_count": len(rejected),
            "terms": leader_terms(arts.steps()),
            "tokens": tokens,
        }
        return CheckResult(valid=not anomalies, anomalies=anomalies, stats=stats)

    def _anomaly(self, arts: Artifacts, node: str, service: str, source: str, stale: dict[str, Any],
                 newer: dict[str, Any], clients: dict[str, Any]) -> Anomaly:
        key = str(stale.get("key"))
        row = next((r for r in arts.ledger(service, node) if r.key == key), None)
        order = row.order_id if row is not None and row.order_id else order_of_key(key)
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
                "stale": stale,
                "newer": {k: v for k, v in newer.items()},
                "row": row.to_json() if row is not None else None,
                "evidence": source,
            },
            fingerprint=f"stale-fenced-write/{op_of_key(key)}",
        )


def leader_terms(steps: Iterable[Step]) -> list[dict[str, Any]]:
    """Who acted as orchestrator in which term, by wall time: [{term, node, first_wall, last_wall, steps}]."""
    seen: dict[tuple[Any, Any], list[Any]] = {}
    for s in steps:
        if s.wall is None:
            continue
        span = seen.get((s.term, s.node))
        if span is None:
            seen[(s.term, s.node)] = [s.wall, s.wall, 1]
        else:
            span[0] = min(span[0], s.wall)
            span[1] = max(span[1], s.wall)
            span[2] += 1
    out = [{"term": t, "node": n, "first_wall": a, "last_wall": b, "steps": c}
           for (t, n), (a, b, c) in seen.items()]
    return sorted(out, key=lambda s: (s["first_wall"], str(s["term"])))
