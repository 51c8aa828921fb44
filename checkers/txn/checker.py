"""The transactional checker: Elle's pipeline over a Seam history.

    history -> transactions (txns.py) -> analysis of the workload
      (append.py / register.py: version orders, non-cycle anomalies, edges)
      + process or realtime edges (order.py) -> graph (graph.py: merged
      edges, SCCs) -> cycles per SCC (cycles.py) -> verdict against the
      consistency models (models.py) -> explanations (explain.py)

Which anomalies count is Elle's rule: those the ``consistency_models``
forbid and those named in ``anomalies`` (widened to every anomaly that
implies one). Real-time edges are added only when some real-time anomaly
counts, else process edges when some process anomaly does (a history with
both would call every process cycle a real-time one). Anomalies found that
do not count are left out of the anomalies but kept in ``stats["found"]``,
and the boundary (``not``, ``also_not``, ``satisfies``) is computed from all
of them, as Elle does.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checkers.txn import append, append_cases, explain, models, register
from checkers.txn.cycles import KINDS, Cycle, search
from checkers.txn.graph import PRIORITY, RW, WR, WW, Edges, component_graph, freeze, sccs
from checkers.txn.order import process_edges, realtime_edges
from checkers.txn.txns import Txn, TxnFormatError, check_mops, transactions
from harness.core.errors import HistoryError
from harness.core.protocols import Test
from harness.core.verdict import Anomaly, CheckResult, Valid

WORKLOADS = {"list-append": frozenset({"append", "r"}), "rw-register": frozenset({"w", "r"})}
#: Which relation names an edge that has several (see graph.py), per workload.
PRIORITIES = {"list-append": PRIORITY, "rw-register": (WR, WW, RW, *PRIORITY[3:])}
#: Cases of one kind listed as anomalies; the rest are counted in stats.
SHOWN_PER_KIND = 20


@dataclass(frozen=True)
class TxnOptions:
    """What to check, with Elle's option names. ``consistency_models`` None means
    none: only ``anomalies`` count. ``transaction_order`` maps an op index to a
    commit position (rw-register only)."""

    workload: str = "list-append"
    consistency_models: tuple[str, ...] | None = ("strict-serializable",)
    anomalies: tuple[str, ...] = ()
    linearizable_keys: bool = False
    sequential_keys: bool = False
    wfr_keys: bool = False
    transaction_order: dict[int, int] | None = None
    cycle_search_timeout: float = 10.0  # seconds per SCC

    def __post_init__(self) -> None:
        if self.workload not in WORKLOADS:
            raise ValueError(f"unknown workload {self.workload!r}; use list-append or rw-register")
        for m in self.consistency_models or ():
            models.canonical(m)

    def to_json(self) -> dict[str, Any]:
        """The options a regression case needs to check again (not ``transaction_order``,
        which only code passes, nor the search timeout)."""
        return {"workload": self.workload,
                "consistency_models": list(self.consistency_models) if self.consistency_models is not None else None,
                "anomalies": list(self.anomalies), "linearizable_keys": self.linearizable_keys,
                "sequential_keys": self.sequential_keys, "wfr_keys": self.wfr_keys}

    def prohibited(self) -> frozenset[str]:
        return models.prohibited(self.consistency_models, self.anomalies)

    def reportable(self) -> frozenset[str]:
        return self.prohibited() | models.UNKNOWN_TYPES


@dataclass
class Analysis:
    """Everything found: cases per kind (non-cycle dicts, or cycles with data)."""

    txns: list[Txn]
    index: Any
    found: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)


class TxnChecker:
    """Seam's Checker for list-append and rw-register transactions."""

    name = "txn"

    def __init__(self, options: TxnOptions | None = None):
        self.options = options or TxnOptions()

    def check(self, test: Test | None, history: Sequence[Any], artifacts: Path | None) -> CheckResult:
        # The analysis allocates millions of small acyclic objects; the cyclic
        # collector would walk them all again and again (as History.calls says).
        collecting = gc.isenabled()
        gc.disable()
        try:
            return self._check(history)
        finally:
            if collecting:
                gc.enable()

    def _check(self, history: Sequence[Any]) -> CheckResult:
        try:
            analysis = analyze(history, self.options)
        except TxnFormatError as e:
            raise HistoryError(str(e), source=getattr(history, "source", "<history>")) from None
        except append.DuplicateWrite as e:
            return CheckResult(valid="unknown", error=str(e), stats={"ops": e.ops})
        return verdict(analysis, self.options)


def analyze(history: Sequence[Any], options: TxnOptions) -> Analysis:
    """Transactions, anomalies and cycles of ``history`` (a History or list of Ops)."""
    t0 = time.perf_counter()
    txns = transactions(history)
    check_mops(txns, WORKLOADS[options.workload])
    out = Edges()
    idx: append.AppendIndex | register.RegisterIndex
    if options.workload == "list-append":
        idx, found = append.index(txns)
        cases = list(append_cases.cases(idx))
        append.edges(idx, out)
    else:
        idx, found = register.index(txns, options)
        cases = list(register.cases(idx))
        register.edges(idx, out)
    for case in cases:
        found.setdefault(case["kind"], []).append(case)
    order_edges(txns, options, out)
    analysis = Analysis(txns, idx, found, {"txns": len(txns)})
    t1 = time.perf_counter()
    find_cycles(analysis, out, options)
    analysis.stats["seconds"] = {"analysis": round(t1 - t0, 3), "cycles": round(time.perf_counter() - t1, 3)}
    return analysis


def order_edges(txns: list[Txn], options: TxnOptions, out: Edges) -> None:
    """Realtime edges if a realtime anomaly counts, else process edges if a process one does."""
    wanted = options.reportable()
    if any(k.endswith("-realtime") and k in wanted for k in KINDS):
        realtime_edges(txns, out)
    elif any(k.endswith("-process") and k in wanted for k in KINDS):
        process_edges(txns, out)


def find_cycles(analysis: Analysis, out: Edges, options: TxnOptions) -> None:
    """Merge the edges, find the SCCs, and search each for cycles."""
    graph = freeze(out, len(analysis.txns), PRIORITIES[options.workload])
    components = sccs(graph)
    analysis.stats.update(edges=len(graph), sccs=len(components),
                          largest_scc=max(map(len, components), default=0))
    if not len(graph):
        analysis.found["empty-transaction-graph"] = [{"kind": "empty-transaction-graph", "ops": []}]
    for members in sorted(components, key=len):
        g = component_graph(graph, members)
        cycles, gave_up = search(g, options.cycle_search_timeout)
        if gave_up:
            analysis.found.setdefault("cycle-search-timeout", []).append(
                {"kind": "cycle-search-timeout", "searched": gave_up, "size": len(members),
                 "ops": []})
        for c in cycles:
            analysis.found.setdefault(c.kind, []).append(_cycle_case(analysis, c))


def _cycle_case(analysis: Analysis, cycle: Cycle) -> dict[str, Any]:
    data = explain.explain_cycle(analysis.index, analysis.txns, cycle)
    data["kind"] = cycle.kind
    data["ops"] = data["cycle"]
    data["narrative"] = explain.narrate(cycle.kind, data)
    return data


def verdict(analysis: Analysis, options: TxnOptions) -> CheckResult:
    """The CheckResult: the anomalies that count, the verdict and the model boundary."""
    found = analysis.found
    prohibited = options.prohibited()
    reported = sorted(k for k in found if k in options.reportable())
    valid: Valid = True
    if any(k in prohibited for k in reported):
        valid = False
    elif reported:
        valid = "unknown"
    recorded = options.to_json()
    anomalies = [_anomaly(case, recorded) for k in reported for case in found[k][:SHOWN_PER_KIND]]
    stats = dict(analysis.stats)
    stats.update(
        workload=options.workload,
        consistency_models=list(options.consistency_models) if options.consistency_models is not None else None,
        anomaly_types=reported,
        found={k: len(v) for k, v in sorted(found.items())},
        **(models.boundary(found) if found else {"not": [], "also_not": [], "satisfies": []}),
    )
    error = None
    if valid == "unknown":
        error = "; ".join(explain.summarize(found[k][0]) for k in reported)
    return CheckResult(valid=valid, anomalies=anomalies, stats=stats, error=error)


def _anomaly(case: dict[str, Any], options: dict[str, Any]) -> Anomaly:
    """The Anomaly of one case; its details keep the options that found it (``txn_options``),
    so a regression case re-checks it alone with the same models (harness.regress.txn)."""
    kind = case["kind"]
    summary = case["narrative"].splitlines()[0] if "narrative" in case else explain.summarize(case)
    if "narrative" in case:
        summary += " (ops " + ", ".join(map(str, case["ops"])) + ")"
    details = {k: _plain(v) for k, v in case.items() if k not in ("kind", "ops")}
    details["txn_options"] = options
    return Anomaly(checker="txn", kind=kind, summary=summary, ops=list(case.get("ops", [])),
                   details=details, fingerprint=kind)


def _plain(v: Any) -> Any:
    """JSON-able copies: tuples and sets as lists, the INIT marker as null."""
    if v is append.INIT:
        return None
    if isinstance(v, (list, tuple, set, frozenset)):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {(k if isinstance(k, str) else str(k)): _plain(x) for k, x in v.items()}
    return v


# --- on call: one family entry for Elle's anomaly names (checkers/runbook.py renders docs/oncall.md) ---
from checkers.runbook import Runbook  # noqa: E402  (kept beside the entry, at the end)

RUNBOOK = (
    Runbook(
        name="transactional anomalies",
        covers=(
            "G0", "G0-process", "G0-realtime", "G1", "G1-process", "G1-realtime", "G1a", "G1b", "G1c",
            "G1c-process", "G1c-realtime", "G2", "G2-item", "G2-item-process", "G2-item-realtime",
            "G2-process", "G2-realtime", "G-single", "G-single-item", "G-single-item-process",
            "G-single-item-realtime", "G-single-process", "G-single-realtime", "G-nonadjacent",
            "G-nonadjacent-item", "G-nonadjacent-item-process", "G-nonadjacent-item-realtime",
            "G-nonadjacent-process", "G-nonadjacent-realtime", "G-MSR", "G-SI", "G-SIb", "G-cursor",
            "G-monotonic", "G-update", "GSI", "GSIa", "GSIb", "cycle-search-timeout", "cyclic-versions",
            "dirty-update", "duplicate-elements", "empty-transaction-graph", "future-read", "garbage",
            "incompatible-order", "internal", "lost-update", "write-skew",
        ),
        what="Whether the committed transactions fit the consistency model asked for: a dependency graph "
        "(ww, wr, rw, process and realtime edges) searched for cycles, plus the non-cycle anomalies of "
        "list-append and rw-register histories, by Elle's names.",
        fires="Any anomaly the model forbids (the isolation level's model, or `consistency-model`); weaker "
        "ones are listed in stats only. Severity error; `cycle-search-timeout` and "
        "`empty-transaction-graph` make the verdict unknown.",
        cause="An isolation level weaker than the code assumes: write skew and G2-item under snapshot "
        "isolation, lost updates from read-modify-write without a lock; the seed's 'pick a consistency "
        "model per piece of state' (seed 000) made by default instead of on purpose.",
        look=(
            "`seam check RUN` (each anomaly as a short proof: T1 < T2 because ...) and "
            "`RUN/graphs/cycle-*.png` (one picture per cycle kind).",
            "`jq '.checkers.txn.stats | {not, also_not, satisfies, found}' RUN/results.json` (the models the "
            "history violates and may still satisfy).",
            "`jq -c 'select(.index == N)' RUN/history.jsonl` for each transaction the proof names, and the "
            "server's log under `RUN/nodes/<node>/` (PostgreSQL: stdout.log).",
        ),
        verify="`seam test --target postgres --target-opt isolation=repeatable-read --target-opt "
        "consistency-model=serializable --seed 7` reports what serializability forbids, and "
        "`--target-opt isolation=serializable` is VALID (docs/postgres.md); `seam regress` re-checks "
        "every transactional case alone (harness/regress/txn.py).",
    ),
)
