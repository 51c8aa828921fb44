"""Causal order of saga steps: does the pipeline's stamp order agree with what caused what?

Every change of a saga record is a compare-and-set on the previous version,
and each appends one step-log row with ``seq`` = its position in the record's
log. So ``seq`` *is* the causal chain of an order: row k+1 was written by
someone who had read row k (reserve done -> charge started -> charge done ->
ship started; a rejection or a cancel request -> the compensations it
triggers). The pipeline orders steps by their stamp ``ts``
(``[wall_ms, logical, node]``, an HLC that merges the record's stamps, or the
raw wall clock under the ``wall-clock-order`` bug). A **causal inversion** is a
pair of consecutive rows where the later one in the chain has the smaller
stamp: anyone ordering by stamp (as ``GET /saga/{id}`` does) sees the effect
before its cause. Equal stamps are not inversions (the pipeline's sort is
stable over the log, which is in causal order); they are counted in stats.

Clock skew made visible: each row also has ``wall``, the writing node's wall
clock. Wherever wall clocks order two consecutive rows against the causal
chain, that is reported in ``stats["wall_disagreements"]`` (with the nodes and
by how much), whether or not the stamps got it right: with the HLC the
verdict stays valid and the skew is still shown.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from checkers.artifacts import Artifacts, clean
from checkers.effects import client_views
from harness.core.op import History
from harness.core.verdict import Anomaly, CheckResult

NAME = "causal"
#: how many wall-clock disagreements stats list (all are counted)
LISTED = 100


def stamp(row: dict[str, Any]) -> tuple[int, int, str] | None:
    ts = row.get("ts")
    if (
        isinstance(ts, (list, tuple))
        and len(ts) == 3
        and isinstance(ts[0], int)
        and isinstance(ts[1], int)
    ):
        return ts[0], ts[1], str(ts[2])
    return None


def label(row: dict[str, Any]) -> str:
    return f"{row.get('step')}/{row.get('phase')}"


def chains(steps: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Per order, its step-log rows in causal (``seq``) order, one row per seq."""
    by_order: dict[str, dict[int, dict[str, Any]]] = defaultdict(dict)
    for row in steps:
        oid, seq = row.get("order_id"), row.get("seq")
        if isinstance(oid, str) and isinstance(seq, int):
            by_order[oid].setdefault(seq, row)
    return {oid: [rows[s] for s in sorted(rows)] for oid, rows in by_order.items()}


def cause_of(chain: list[dict[str, Any]], i: int) -> str:
    """Why row i happened after row i-1, in words, for the explanation."""
    before, after = chain[i - 1], chain[i]
    if (
        after.get("step") in ("refund", "restock", "cancel-ship")
        and after.get("phase") == "started"
    ):
        trigger = next(
            (r for r in reversed(chain[:i]) if r.get("phase") in ("rejected", "cancel-requested")),
            None,
        )
        if trigger is not None:
            return f"{label(after)} compensates after {label(trigger)} (seq {trigger.get('seq')})"
    return f"{label(after)} was written on the record that {label(before)} produced"


class CausalChecker:
    name = NAME

    def check(self, test: Any, history: History, artifacts: Path | None) -> CheckResult:
        arts = Artifacts(artifacts)
        if not arts.present or not arts.has_any("saga-steps.jsonl"):
            return CheckResult(
                valid="unknown",
                error=f"no saga step logs under {artifacts}/nodes/*/"
                "saga-steps.jsonl: the causal checker orders saga steps from them",
            )
        clients, _ = client_views(history)
        anomalies: list[Anomaly] = []
        skew: list[dict[str, Any]] = []
        skew_by_pair: dict[str, float] = defaultdict(float)
        pairs = disagreements = ties = 0
        by_order = chains(arts.steps())
        for oid, chain in by_order.items():
            for i in range(1, len(chain)):
                a, b = chain[i - 1], chain[i]
                pairs += 1
                sa, sb = stamp(a), stamp(b)
                if sa is not None and sb is not None and sa == sb:
                    ties += 1
                if sa is not None and sb is not None and sb < sa:
                    view = clients.get(oid)
                    anomalies.append(_inversion(oid, chain, i, sa, sb, view.ops if view else []))
                wa, wb = a.get("wall"), b.get("wall")
                if isinstance(wa, (int, float)) and isinstance(wb, (int, float)) and wb < wa:
                    pair = f"{a.get('node')}->{b.get('node')}"
                    skew_by_pair[pair] = max(skew_by_pair[pair], wa - wb)
                    disagreements += 1
                    if len(skew) < LISTED:
                        skew.append(
                            {
                                "order": oid,
                                "before": label(a),
                                "after": label(b),
                                "nodes": [a.get("node"), b.get("node")],
                                "wall": [wa, wb],
                                "behind_seconds": round(wa - wb, 6),
                                "hlc_ordered": sa is not None and sb is not None and sa < sb,
                            }
                        )
        stats = {
            "orders": len(by_order),
            "pairs": pairs,
            "inversions": len(anomalies),
            "stamp_ties": ties,
            "wall_disagreements": skew,
            "wall_disagreement_count": disagreements,
            "max_wall_skew_by_nodes": dict(skew_by_pair),
        }
        return CheckResult(valid=not anomalies, anomalies=anomalies, stats=stats)


def _inversion(
    oid: str,
    chain: list[dict[str, Any]],
    i: int,
    sa: tuple[int, int, str],
    sb: tuple[int, int, str],
    ops: list[int],
) -> Anomaly:
    a, b = chain[i - 1], chain[i]
    return Anomaly(
        checker=NAME,
        kind="causal-inversion",
        summary=f"{oid}: {label(b)} is stamped {list(sb)}, not after its cause {label(a)} at {list(sa)}",
        ops=sorted(ops),
        details={
            "order": oid,
            "cause": clean(a),
            "effect": clean(b),
            "rule": cause_of(chain, i),
            "stamp_gap_ms": sa[0] - sb[0],
            "nodes": [a.get("node"), b.get("node")],
            "terms": [a.get("term"), b.get("term")],
            "wall": [a.get("wall"), b.get("wall")],
            "stamp_order": [label(r) for r in sorted(chain, key=lambda r: stamp(r) or (0, 0, ""))],
            "causal_order": [label(r) for r in chain],
        },
        fingerprint=f"causal-inversion/{a.get('step')}/{b.get('step')}",
    )
