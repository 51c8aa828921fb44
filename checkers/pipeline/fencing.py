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

from checkers.pipeline.artifacts import SERVICES, Artifacts, Step, op_of_key, order_of_key
from checkers.pipeline.effects import client_views
from harness.core.op import History
from harness.core.protocols import Test
from harness.core.verdict import Anomaly, CheckResult, Explains

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


class Resource:
    """One ledger on one node: its fence log (or, without one, its ledger rows) read once,
    noting rejections and token spans on the way."""

    def __init__(self, arts: Artifacts, node: str, service: str):
        self.arts, self.node, self.service = arts, node, service
        fence = f"{service}.fence.jsonl"
        self.fence_log = arts.path(node, fence).exists()
        self.name = fence if self.fence_log else f"{service}.ledger.jsonl"
        self.rejected: list[dict[str, Any]] = []
        self.spans = Spans()

    def source(self, line: int) -> str:
        return f"{self.arts.label(self.node, self.name)}:{line}"

    def rows(self) -> Iterator[tuple[int, dict[str, Any]]]:
        if self.fence_log:
            it: Iterator[tuple[int, dict[str, Any]]] = self.arts.iter(self.node, self.name)
        else:
            it = ((r.line, r.to_json()) for r in self.arts.ledger(self.service, self.node))
        for line, r in it:
            if r.get("verdict") == "reject":
                fields = {k: r.get(k) for k in ("key", "token", "highest", "wall")}
                self.rejected.append(
                    {
                        "node": self.node,
                        "ledger": self.service,
                        **fields,
                        "source": self.source(line),
                    }
                )
            else:
                self.spans.add(r.get("token"), r.get("wall"))
            yield line, r


class FencingChecker:
    #: A stale leader's write that landed on an order is why that order lost an effect.
    explains = (Explains("stale-fenced-write", "lost-effect", "order"),)
    name = NAME

    def check(self, test: Test | None, history: History, artifacts: Path | None) -> CheckResult:
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
        for node in arts.nodes():
            for service in SERVICES:
                log = Resource(arts, node, service)
                for line, stale, newer in stale_writes(log.rows(), fence_log=log.fence_log):
                    found.append(
                        (node, service, log.name, dict(stale, source=log.source(line)), newer)
                    )
                rejected += log.rejected
                if log.spans.spans:
                    tokens[f"{node}/{service}"] = log.spans.spans
        accepted = sum(s["writes"] for spans in tokens.values() for s in spans)
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

    def _anomaly(
        self,
        arts: Artifacts,
        node: str,
        service: str,
        source: str,
        stale: dict[str, Any],
        newer: dict[str, Any],
        clients: dict[str, Any],
    ) -> Anomaly:
        key = str(stale.get("key"))
        row = arts.ledger_row(service, node, key)
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
            wall=[float(stale["wall"])] if isinstance(stale.get("wall"), (int, float)) else None,
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
    out = [
        {"term": t, "node": n, "first_wall": a, "last_wall": b, "steps": c}
        for (t, n), (a, b, c) in seen.items()
    ]
    return sorted(out, key=lambda s: (s["first_wall"], str(s["term"])))


# --- on call: the runbook entry of this checker's kind (checkers/runbook.py renders docs/oncall.md) ---
from checkers.runbook import Runbook  # noqa: E402  (kept beside the entry, at the end)

RUNBOOK = (
    Runbook(
        name="stale-fenced-write",
        what="Per resource (the payment, inventory and shipping ledger of each node), whether it accepted a "
        "fencing token lower than one it had already accepted.",
        fires="Any accepted write with a lower token than an earlier accepted one, or a row the ledger "
        "itself marked `late`. Severity error.",
        cause="The fencing check runs after the write, so a paused old leader wakes and its step lands on "
        "state the new leader advanced (seed 000, the leader that pauses; seed 003 snippet 2).",
        look=(
            "`jq '.checkers.fencing.anomalies[0].details' RUN/results.json` (the stale token, the higher one "
            "before it, the evidence line).",
            "`grep -h 'rejected token\\|noticed after the write' RUN/nodes/*/node.log` and "
            "`jq -c 'select(.late)' RUN/nodes/*/*.fence.jsonl`.",
            "`grep -h 'became leader\\|stepped down' RUN/nodes/*/node.log` (the terms), and "
            "`jq '.checkers.fencing.stats' RUN/results.json` (terms over time, every rejected token).",
        ),
        verify="`seam test --workload orders --scenario paused-leader --bug fence-after-write --seed 7` is "
        "INVALID with this kind, without `--bug` VALID with `rejected token` in node.log; "
        "`seam regress regressions/stale-fenced-write`.",
    ),
)
