"""The quorum store's replication, as its nodes report it: can a read quorum miss a write?

With N replicas, writes waiting for W acks and reads asking R replicas, a
read quorum meets every write quorum only when R + W > N. Each node of
target/ reports the settings its store really runs with (after any bug flag)
as gauges of its ``/metrics`` (``store_replicas``, ``store_write_quorum``,
``store_read_quorum``; target/store.py), which the run collects into
``nodes/<node>/metrics.json`` and ``metrics.jsonl``. This checker reads those
reports, never the options or bug flags in test.json: a flag says what the
test asked for, the node says what the deployed system does, and only the
latter is a finding.

A ``weak-quorum-config`` anomaly (error) is reported when the reported
settings cannot overlap: some node's write quorum and some node's read
quorum add up to N or less (a write coordinated by the one can be missed by
a read coordinated by the other). With no reports (a target without these
gauges, an empty run, a run collected before nodes reported them) nothing is
claimed: the stats say the overlap was not checked.

Whether a read really missed a write is the history's to say: that is
``checkers.stale_read`` and the linearizability checker, not this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from checkers.pipeline.artifacts import Artifacts
from harness.core.op import History
from harness.core.protocols import Test
from harness.core.verdict import Anomaly, CheckResult

NAME = "quorum"
#: The gauges a node's /metrics reports its store's replication with: N, W, R.
GAUGES = ("store_replicas", "store_write_quorum", "store_read_quorum")


@dataclass(frozen=True)
class Report:
    """One node's replication as it reported it, and where the report was read."""

    node: str
    n: int
    w: int
    r: int
    source: str


def reported(arts: Artifacts, node: str) -> Report | None:
    """The node's own report: its final metrics.json, else its newest scrape that has one."""
    final = arts.final_metrics(node) if arts.path(node, "metrics.json").exists() else None
    found = _settings(final)
    if found is not None:
        return Report(node, *found, source=f"nodes/{node}/metrics.json")
    for snap in reversed(arts.metrics(node)):
        found = _settings(snap)
        if found is not None:
            return Report(node, *found, source=f"nodes/{node}/metrics.jsonl (t={snap['time']:g} s)")
    return None


def _settings(snap: Any) -> tuple[int, int, int] | None:
    gauges = snap.get("gauges") if isinstance(snap, dict) else None
    if not isinstance(gauges, dict):
        return None
    values = [gauges.get(g) for g in GAUGES]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and v == int(v) for v in values):
        return None
    n, w, r = (int(v) for v in values)  # type: ignore[arg-type]
    return n, w, r


def weakest_pair(reports: list[Report]) -> tuple[Report, Report, int] | None:
    """(the writer's report, the reader's report, N) of a pair whose quorums cannot overlap,
    the one with the most room to miss (smallest W + R against N); None when every pair meets."""
    worst: tuple[int, Report, Report, int] | None = None
    for wr in reports:
        for rd in reports:
            n = max(wr.n, rd.n)
            slack = wr.w + rd.r - n
            if slack <= 0 and (worst is None or slack < worst[0]):
                worst = (slack, wr, rd, n)
    return None if worst is None else (worst[1], worst[2], worst[3])


def lint(reports: list[Report]) -> list[Anomaly]:
    found = weakest_pair(reports)
    if found is None:
        return []
    writer, reader, n = found
    if len({(r.n, r.w, r.r) for r in reports}) == 1:
        verb = "reports" if len(reports) == 1 else "report"
        who = f"{', '.join(r.node for r in reports)} {verb} N={n} W={writer.w} R={reader.r}"
    else:
        who = f"{writer.node} reports W={writer.w} and {reader.node} R={reader.r} with N={n}"
    return [
        Anomaly(
            checker=NAME,
            kind="weak-quorum-config",
            summary=f"{who}: R + W = {writer.w + reader.r} <= N = {n}, so a read quorum can miss "
            "an acknowledged write",
            details={
                "n": n,
                "w": writer.w,
                "r": reader.r,
                "write_node": writer.node,
                "read_node": reader.node,
                "reports": {r.node: {"n": r.n, "w": r.w, "r": r.r, "source": r.source} for r in reports},
                "rule": "R + W > N",
            },
            fingerprint="weak-quorum-config",
        )
    ]


class QuorumChecker:
    """Quorum overlap from the nodes' own reports (see the module docstring)."""

    name = NAME

    def check(self, test: Test | None, history: History, artifacts: Path | None) -> CheckResult:
        arts = Artifacts.open(artifacts)
        nodes = arts.nodes()
        reports = [rep for rep in (reported(arts, n) for n in nodes) if rep is not None]
        anomalies = lint(reports)
        stats: dict[str, Any] = {
            "reported": {r.node: [r.n, r.w, r.r] for r in reports},
            "silent": sorted(set(nodes) - {r.node for r in reports}),
            "overlap": None if not reports else not anomalies,
        }
        if not reports:
            stats["note"] = ("no node reported its replication (gauges " + ", ".join(GAUGES)
                             + " in nodes/*/metrics.json or metrics.jsonl): quorum overlap not checked")
        return CheckResult(valid=not anomalies, anomalies=anomalies, stats=stats)


# --- on call: the runbook entry of this checker's kind (checkers/runbook.py renders docs/oncall.md) ---
from checkers.runbook import Runbook  # noqa: E402  (kept beside the entry, at the end)

RUNBOOK = (
    Runbook(
        name="weak-quorum-config",
        what="R + W > N, from the replication each node reports it really runs with (`store_replicas`, "
        "`store_write_quorum`, `store_read_quorum` in its metrics), never from test.json or a flag.",
        fires="Any node reporting R + W <= N. Severity error: the run is INVALID before any read goes wrong.",
        cause="Quorum sizes lowered for latency (seed 003 snippet 1: N=3, W=1, R=1): a read quorum need not "
        "overlap the last write quorum, so a read can miss an acknowledged write.",
        look=(
            "`jq '.checkers.quorum' RUN/results.json` (each node's N, W, R and the file it was read from).",
            "`grep -h 'store: replication' RUN/nodes/*/node.log` (the store's start-up line per node).",
            "`jq '.replication' RUN/nodes/*/node.json` and `jq '.options.bugs' RUN/test.json`.",
        ),
        verify="`seam test --workload register --scenario slow-replica --bug weak-quorum --seed 7` is "
        "INVALID with this kind, without `--bug` VALID; `seam regress regressions/weak-quorum-config`.",
    ),
)
