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

from checkers.pipeline.artifacts import Artifacts, Step
from checkers.pipeline.effects import client_views
from harness.core.op import History
from harness.core.protocols import Test
from harness.core.verdict import Anomaly, CheckResult

NAME = "causal"
#: how many wall-clock disagreements stats list (all are counted)
LISTED = 100


def cause_of(chain: list[Step], i: int) -> str:
    """Why row i happened after row i-1, in words, for the explanation."""
    before, after = chain[i - 1], chain[i]
    if after.step in ("refund", "restock", "cancel-ship") and after.phase == "started":
        trigger = next(
            (r for r in reversed(chain[:i]) if r.phase in ("rejected", "cancel-requested")), None
        )
        if trigger is not None:
            return f"{after.label} compensates after {trigger.label} (seq {trigger.seq})"
    return f"{after.label} was written on the record that {before.label} produced"


class CausalChecker:
    name = NAME

    def check(self, test: Test | None, history: History, artifacts: Path | None) -> CheckResult:
        arts = Artifacts.open(artifacts)
        if not arts.present or not arts.has_any("saga-steps.jsonl"):
            return CheckResult(
                valid="unknown",
                error=f"no saga step logs under {artifacts}/nodes/*/"
                "saga-steps.jsonl: the causal checker orders saga steps from them",
            )
        found: list[tuple[str, list[Step], int]] = []
        skew: list[dict[str, Any]] = []
        skew_by_pair: dict[str, float] = defaultdict(float)
        pairs = disagreements = ties = 0
        chains = arts.chains()
        for oid, chain in chains.items():
            for i in range(1, len(chain)):
                a, b = chain[i - 1], chain[i]
                pairs += 1
                if a.ts is not None and b.ts is not None:
                    if b.ts < a.ts:
                        found.append((oid, chain, i))
                    elif a.ts == b.ts:
                        ties += 1
                if a.wall is not None and b.wall is not None and b.wall < a.wall:
                    pair = f"{a.node}->{b.node}"
                    skew_by_pair[pair] = max(skew_by_pair[pair], a.wall - b.wall)
                    disagreements += 1
                    if len(skew) < LISTED:
                        skew.append(_disagreement(oid, a, b))
        anomalies: list[Anomaly] = []
        if found:
            clients, _ = client_views(history)
            for oid, chain, i in found:
                view = clients.get(oid)
                anomalies.append(_inversion(oid, chain, i, view.ops if view else []))
        stats = {
            "orders": len(chains),
            "pairs": pairs,
            "inversions": len(anomalies),
            "stamp_ties": ties,
            "wall_disagreements": skew,
            "wall_disagreement_count": disagreements,
            "max_wall_skew_by_nodes": dict(skew_by_pair),
        }
        return CheckResult(valid=not anomalies, anomalies=anomalies, stats=stats)


def _disagreement(oid: str, a: Step, b: Step) -> dict[str, Any]:
    assert a.wall is not None and b.wall is not None
    return {
        "order": oid,
        "before": a.label,
        "after": b.label,
        "nodes": [a.node, b.node],
        "wall": [a.wall, b.wall],
        "behind_seconds": round(a.wall - b.wall, 6),
        "hlc_ordered": a.ts is not None and b.ts is not None and a.ts < b.ts,
    }


def _inversion(oid: str, chain: list[Step], i: int, ops: list[int]) -> Anomaly:
    a, b = chain[i - 1], chain[i]
    assert a.ts is not None and b.ts is not None
    by_stamp = sorted(chain, key=lambda r: r.ts or (0, 0, ""))
    return Anomaly(
        checker=NAME,
        kind="causal-inversion",
        summary=f"{oid}: {b.label} is stamped {list(b.ts)}, not after its cause {a.label} at {list(a.ts)}",
        ops=sorted(ops),
        details={
            "order": oid,
            "cause": a.to_json(),
            "effect": b.to_json(),
            "rule": cause_of(chain, i),
            "stamp_gap_ms": a.ts[0] - b.ts[0],
            "nodes": [a.node, b.node],
            "terms": [a.term, b.term],
            "wall": [a.wall, b.wall],
            "stamp_order": [r.label for r in by_stamp],
            "causal_order": [r.label for r in chain],
        },
        fingerprint=f"causal-inversion/{a.step}/{b.step}",
    )


# --- on call: the runbook entry of this checker's kind (checkers/runbook.py renders docs/oncall.md) ---
from checkers.runbook import Runbook  # noqa: E402  (kept beside the entry, at the end)

RUNBOOK = (
    Runbook(
        name="causal-inversion",
        what="Each order's saga steps in stamp (HLC) order against the order the saga requires: reserve "
        "before charge before ship, a compensation after the step it undoes.",
        fires="A step stamped before a step it causally follows. Severity error.",
        cause="Steps ordered by wall clocks across nodes whose clocks disagree (seed 000, 'Payment happened "
        "before Shipping must be a causal fact'; seed 002, clock skew).",
        look=(
            "`jq '.checkers.causal.anomalies[0] | {summary, details}' RUN/results.json`.",
            "`grep -h ORDER RUN/nodes/*/saga-steps.jsonl` (each step's `ts` and `wall`, node and term).",
            "The clock faults: `jq -c 'select(.process == \"nemesis\" and (.f | test(\"clock|strobe\")))' "
            "RUN/history.jsonl`.",
        ),
        verify="`seam test --workload orders --scenario wall-clock-order --bug wall-clock-order --seed 7` is "
        "INVALID with this kind, without `--bug` VALID; `seam regress regressions/causal-inversion`.",
    ),
)
