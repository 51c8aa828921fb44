"""Seam signals: the pipeline's own metrics, as time series, against the faults of the run.

The harness scrapes ``GET /metrics`` from every node once a second into
``nodes/<node>/metrics.jsonl`` (shape in checkers/pipeline/artifacts.py; ``time`` is in
seconds since the run started, the origin of the history's ns times). From
those scrapes this checker builds one series per signal, aggregated over
nodes per whole second:

============================  ==============================================  ==========
signal                        from                                            default
============================  ==============================================  ==========
``consumer_lag``              gauge ``consumer_lag``, max over nodes          >= 10 events
``quorum_write_p99``          histogram ``store_write_seconds`` p99, max      >= 0.5 s
``quorum_read_p99``           histogram ``store_read_seconds`` p99, max       >= 0.5 s
``leader_churn``              rise of max gauge ``election_term`` per second  >= 1 change
``retry_budget``              max gauge ``retry_budget_used_percent{...}``    >= 50 %
``duplicate_key_hits``        counter ``duplicate_key_hits``, summed rate/s   >= 1 hit/s
``retries``, ``first_attempts``  gauges ``retry_retries`` / ``retry_first_attempts``, summed rate/s   (drawn only)
============================  ==============================================  ==========

For each fault in the history (a nemesis op whose ``phase`` is ``start`` or
``pulse``, see ``harness.core.faults``), the fault *began* at its invoke and
lasts until the invoke of a ``stop`` op of the same ``fault`` name, or the end
of the history (a pulse: until its own op completes). No fault is known here
by name, so a new nemesis needs nothing from this checker. A signal *crossed* for that fault
if it was below its threshold at the last scrape before the fault and reached
it at a scrape between the fault's start and ``settle`` seconds after its end;
the fault's ``first`` signal is the one that crossed earliest.

Two anomalies come from the final counters (``metrics.json`` that collection
wrote, else the last scrape): ``duplicate-key-alert`` when the duplicate-key
hits over the whole run exceed ``duplicate_key_alert`` (a retry deduplicated
now and then is the mechanism working; many mean something upstream resends),
and ``retry-amplification`` when a node's retries exceed what its retry budget
allows, ``budget_ratio * first_attempts + budget_floor * downstreams`` (the
node's own ``retry`` config from ``node.json`` when collected).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from checkers.pipeline.artifacts import Artifacts
from harness.core.faults import FaultSpan, fault_spans
from harness.core.op import History
from harness.core.protocols import Test
from harness.core.verdict import Anomaly, CheckResult

NAME = "signals"


@dataclass(frozen=True)
class Thresholds:
    consumer_lag: float = 10
    quorum_write_p99: float = 0.5
    quorum_read_p99: float = 0.5
    leader_churn: float = 1
    retry_budget: float = 50.0
    duplicate_key_hits: float = 1.0
    #: whole-run duplicate-key hits above which the alert is raised
    duplicate_key_alert: float = 3
    #: retry budget when node.json does not say (target/config.py defaults)
    budget_ratio: float = 0.1
    budget_floor: float = 10
    #: seconds after a fault's end that a crossing still counts for it
    settle: float = 10.0


# ---------------------------------------------------------------------------
# series


def _prefixed(d: dict[str, Any], name: str) -> list[float]:
    """Values of ``name`` and ``name{labels}`` in a snapshot section."""
    return [float(v) for k, v in d.items() if (k == name or k.startswith(name + "{")) and _num(v)]


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _gauge(name: str) -> Callable[[dict[str, Any]], float | None]:
    def get(s: dict[str, Any]) -> float | None:
        v = s["gauges"].get(name)
        return float(v) if _num(v) else None

    return get


def _p99(name: str) -> Callable[[dict[str, Any]], float | None]:
    def get(s: dict[str, Any]) -> float | None:
        h = s["histograms"].get(name)
        return float(h["p99"]) if isinstance(h, dict) and _num(h.get("p99")) else None

    return get


def _budget(s: dict[str, Any]) -> float | None:
    vals = _prefixed(s["gauges"], "retry_budget_used_percent")
    return max(vals) if vals else None


def _counter(section: str, name: str) -> Callable[[dict[str, Any]], float | None]:
    def get(s: dict[str, Any]) -> float | None:
        v = s[section].get(name)
        return float(v) if _num(v) else None

    return get


#: signal -> (per-scrape reader, how nodes combine, whether the series is a rate of a cumulative value)
SIGNALS: dict[str, tuple[Callable[[dict[str, Any]], float | None], str, bool]] = {
    "consumer_lag": (_gauge("consumer_lag"), "max", False),
    "quorum_write_p99": (_p99("store_write_seconds"), "max", False),
    "quorum_read_p99": (_p99("store_read_seconds"), "max", False),
    "leader_churn": (_gauge("election_term"), "churn", False),
    "retry_budget": (_budget, "max", False),
    "duplicate_key_hits": (_counter("counters", "duplicate_key_hits"), "sum", True),
    "retries": (_counter("gauges", "retry_retries"), "sum", True),
    "first_attempts": (_counter("gauges", "retry_first_attempts"), "sum", True),
}


def node_series(
    scrapes: list[dict[str, Any]], read: Callable[[dict[str, Any]], float | None], rate: bool
) -> list[tuple[float, float]]:
    """(time, value) for one node; a rate is the per-second rise between scrapes (a drop is a restart)."""
    out: list[tuple[float, float]] = []
    prev: tuple[float, float] | None = None
    for s in scrapes:
        v = read(s)
        if v is None:
            continue
        if not rate:
            out.append((s["time"], v))
        elif prev is not None and s["time"] > prev[0]:
            rise = v - prev[1] if v >= prev[1] else v
            out.append((s["time"], rise / (s["time"] - prev[0])))
        prev = (s["time"], v)
    return out


def combine(per_node: dict[str, list[tuple[float, float]]], how: str) -> list[tuple[float, float]]:
    """One series over nodes, one point per whole second (time = the newest scrape in it)."""
    buckets: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for points in per_node.values():
        for t, v in points:
            buckets[math.floor(t)].append((t, v))
    out: list[tuple[float, float]] = []
    last_term: float | None = None
    for b in sorted(buckets):
        pts = buckets[b]
        t = max(p[0] for p in pts)
        if how == "sum":
            out.append((t, sum(p[1] for p in pts)))
        elif how == "churn":
            term = max(p[1] for p in pts)
            out.append((t, 0.0 if last_term is None else max(0.0, term - last_term)))
            last_term = term if last_term is None else max(last_term, term)
        else:
            out.append((t, max(p[1] for p in pts)))
    return out


def build_series(arts: Artifacts) -> dict[str, dict[str, Any]]:
    scrapes = {n: arts.metrics(n) for n in arts.nodes()}
    out = {}
    for name, (read, how, rate) in SIGNALS.items():
        per_node = {n: node_series(s, read, rate) for n, s in scrapes.items()}
        series = combine(per_node, how)
        out[name] = {
            "t": [round(t, 3) for t, _ in series],
            "value": [v for _, v in series],
            "by_node": {
                n: {"t": [round(t, 3) for t, _ in pts], "value": [v for _, v in pts]}
                for n, pts in per_node.items()
                if pts
            },
        }
    return out


# ---------------------------------------------------------------------------
# faults


@dataclass
class Fault:
    f: str
    value: Any
    start: float  # seconds since the run started
    end: float | None
    ops: list[int] = field(default_factory=list)
    first: str | None = None
    after_seconds: float | None = None
    crossings: dict[str, float | None] = field(default_factory=dict)
    already_above: list[str] = field(default_factory=list)
    failed: bool = False  # the nemesis said it definitely did not happen
    fault: str = ""  # the fault's name (the op's ``fault`` field)


def faults(history: History) -> list[Fault]:
    """Fault intervals from the nemesis ops: start at the invoke, end at the stop's invoke.

    A fault whose start failed lasted no time; one never stopped lasts to the
    end of the history.
    """
    last = max((op.time for op in history), default=0) / 1e9
    return [_interval(span, last) for span in fault_spans(history.nemesis_ops)]


def _interval(span: FaultSpan, last: float) -> Fault:
    end = span.began if span.failed else (span.ended if span.ended is not None else last)
    return Fault(span.f, span.value, span.began, end, list(span.ops), failed=span.failed, fault=span.fault)


def attribute(fault: Fault, series: dict[str, dict[str, Any]], th: Thresholds) -> None:
    """Fill ``first``, ``after_seconds`` and ``crossings`` of one fault."""
    end = (fault.end if fault.end is not None else fault.start) + th.settle
    limits = {k: v for k, v in asdict(th).items() if k in SIGNALS}
    for name, limit in limits.items():
        ts, vs = series[name]["t"], series[name]["value"]
        before = [v for t, v in zip(ts, vs, strict=True) if t < fault.start]
        if before and before[-1] >= limit:
            fault.already_above.append(name)
            fault.crossings[name] = None
            continue
        hit = next(
            (t for t, v in zip(ts, vs, strict=True) if fault.start <= t <= end and v >= limit), None
        )
        fault.crossings[name] = None if hit is None else round(hit - fault.start, 3)
    crossed = {k: v for k, v in fault.crossings.items() if v is not None}
    if crossed:
        fault.first = min(crossed, key=lambda k: (crossed[k], k))
        fault.after_seconds = crossed[fault.first]


# ---------------------------------------------------------------------------
# the checker


class SignalsChecker:
    name = NAME

    def __init__(self, thresholds: Thresholds | None = None, *, required: bool = True):
        """``required=False``: a run with no metrics at all is valid (nothing to alert on)
        instead of ``unknown``; for workloads whose verdict does not rest on the signals."""
        self.th = thresholds or Thresholds()
        self.required = required

    def check(self, test: Test | None, history: History, artifacts: Path | None) -> CheckResult:
        arts = Artifacts.open(artifacts)
        finals: dict[str, dict[str, Any]] = {}
        for n in arts.nodes():
            snap = arts.final_metrics(n)
            if snap:
                finals[n] = snap
        if not finals:
            if not self.required:
                return CheckResult(
                    valid=True, stats={"metrics": False, "thresholds": asdict(self.th)}
                )
            return CheckResult(
                valid="unknown",
                error=f"no metrics under {artifacts}/nodes/*/ (metrics.jsonl "
                "from the scraper, or metrics.json from collection): nothing to read signals from",
            )
        series = build_series(arts)
        found = faults(history)
        for fault in found:
            if not fault.failed:
                attribute(fault, series, self.th)
        anomalies = self._duplicate_alert(finals, series) + self._amplification(arts, finals)
        stats = {
            "thresholds": asdict(self.th),
            "series": series,
            "faults": [asdict(f) for f in found],
            "scrapes": {n: len(arts.metrics(n)) for n in arts.nodes()},
        }
        errors = [a for a in anomalies if a.severity == "error"]
        return CheckResult(valid=not errors, anomalies=anomalies, stats=stats)

    def _duplicate_alert(
        self, finals: dict[str, dict[str, Any]], series: dict[str, Any]
    ) -> list[Anomaly]:
        by_node = {
            n: float((s.get("counters") or {}).get("duplicate_key_hits") or 0)
            for n, s in finals.items()
        }
        by_service: dict[str, float] = defaultdict(float)
        for s in finals.values():
            for k, v in (s.get("counters") or {}).items():
                if k.startswith("duplicate_key_hits{") and _num(v):
                    by_service[k[len("duplicate_key_hits") :]] += v
        total = sum(by_node.values())
        if total <= self.th.duplicate_key_alert:
            return []
        rates = series["duplicate_key_hits"]["value"]
        return [
            Anomaly(
                checker=NAME,
                kind="duplicate-key-alert",
                summary=f"{total:g} duplicate-key hits (alert above {self.th.duplicate_key_alert:g}): "
                "something keeps resending effects",
                details={
                    "total": total,
                    "by_node": by_node,
                    "by_service": dict(by_service),
                    "threshold": self.th.duplicate_key_alert,
                    "peak_per_second": max(rates, default=0.0),
                },
                fingerprint="duplicate-key-alert",
                # By design an alert: idempotency keys absorbing resends is the mechanism working.
                severity="warning",
            )
        ]

    def _amplification(self, arts: Artifacts, finals: dict[str, dict[str, Any]]) -> list[Anomaly]:
        """Retries over the budget's own invariant: per downstream, retries <= ratio *
        first attempts + floor (target/retry.py's token bucket keeps it always).

        Checked per downstream where the node reports first attempts per
        downstream, since a budget is per downstream: traffic to healthy
        services must not pay for retries to a failing one. Older nodes report
        totals only; then the run-wide bound (floor per downstream) applies.
        """
        out = []
        for node, snap in sorted(finals.items()):
            g = snap.get("gauges") or {}
            if not (_num(g.get("retry_retries")) and _num(g.get("retry_first_attempts"))):
                continue
            cfg = arts.config(node).get("retry") or {}
            ratio = float(cfg.get("budget_ratio", self.th.budget_ratio))
            floor = float(cfg.get("budget_floor", self.th.budget_floor))
            per = _per_downstream(g)
            over = {d: v for d, v in per.items() if v["retries"] > ratio * v["first_attempts"] + floor}
            for d, burst in _bursts(arts.metrics(node), ratio, floor).items():
                over.setdefault(d, burst)
            retries, first = float(g["retry_retries"]), float(g["retry_first_attempts"])
            bound = ratio * first + floor * max(1, len(per) or len(_labelled(g, "retry_retries")))
            if not over and (per or retries <= bound):
                continue
            worst = max(over, key=lambda d: over[d]["retries"] - ratio * over[d]["first_attempts"], default=None)
            where = (f"{worst}: {over[worst]['retries']:g} retries for {over[worst]['first_attempts']:g} first "
                     f"attempts (a {ratio:g} budget allows {ratio * over[worst]['first_attempts'] + floor:g})"
                     if worst else f"{retries:g} retries for {first:g} first attempts (a {ratio:g} budget allows {bound:g})")
            out.append(
                Anomaly(
                    checker=NAME,
                    kind="retry-amplification",
                    summary=f"{node}: {where}",
                    details={
                        "node": node,
                        "retries": retries,
                        "first_attempts": first,
                        "bound": bound,
                        "budget_ratio": ratio,
                        "budget_floor": floor,
                        "downstreams": _labelled(g, "retry_retries"),
                        "over_budget": over,
                        "shed_retries": g.get("retry_shed_retries"),
                        "amplification": retries / max(1.0, first),
                    },
                    fingerprint="retry-amplification",
                )
            )
        return out


#: Slack for a scrape that read the retry counter just before the first-attempt counter.
BURST_SLACK = 1.0


def _bursts(scrapes: list[dict[str, Any]], ratio: float, floor: float) -> dict[str, dict[str, float]]:
    """Downstreams whose retries broke the budget within some window of the run.

    The budget is a token bucket that holds at most ``floor`` tokens, so between
    any two moments retries <= ratio * first attempts + floor, not only over the
    whole run: a burst of retries in a few seconds of a long run breaks it even
    when the run-wide totals look fine. Between two scrapes i < j the excess is
    a_j - a_i with a = retries - ratio * first attempts (cumulative counters),
    so the worst window is found in one pass; a counter that goes down (the
    node restarted) starts a new span."""
    out: dict[str, dict[str, float]] = {}
    points = [(float(sc["time"]), _per_downstream(sc["gauges"])) for sc in scrapes]  # each scrape read once
    for d in sorted({d for _, per in points for d in per}):
        low: tuple[float, float, float, float] | None = None  # (a, time, retries, first) of the lowest a
        prev: tuple[float, float] | None = None
        worst: dict[str, float] | None = None
        for t, per in points:
            if d not in per:
                continue
            r, f = per[d]["retries"], per[d]["first_attempts"]
            if prev is not None and (r < prev[0] or f < prev[1]):
                low = None  # restarted: counters began again at 0
            prev = (r, f)
            a = r - ratio * f
            if low is not None and a - low[0] > floor + BURST_SLACK:
                excess = a - low[0] - floor
                if worst is None or excess > worst["excess"]:
                    worst = {"retries": r - low[2], "first_attempts": f - low[3], "excess": excess,
                             "from_time": low[1], "to_time": t}
            if low is None or a < low[0]:
                low = (a, t, r, f)
        if worst is not None:
            out[d] = worst
    return out


def _labelled(gauges: dict[str, Any], name: str) -> dict[str, Any]:
    """``{downstream: value}`` of ``name{downstream="..."}`` gauges."""
    prefix = name + "{"
    return {k[len(prefix):].split('"')[1]: v for k, v in gauges.items() if k.startswith(prefix) and '"' in k}


def _per_downstream(gauges: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Retries and first attempts per downstream, where the node reports both."""
    retries = _labelled(gauges, "retry_retries")
    first = _labelled(gauges, "retry_first_attempts")
    return {d: {"retries": float(retries[d]), "first_attempts": float(first[d])}
            for d in retries if d in first and _num(retries[d]) and _num(first[d])}


# --- on call: the runbook entries of this checker's kinds and signals (checkers/runbook.py) ---
from checkers.runbook import Runbook  # noqa: E402  (kept beside the entries, at the end)

_T = Thresholds()
_CROSS = (f"at a scrape between a fault's start and {_T.settle:g} s after its end, having been below it "
          "before; the report's fault table names the first signal to cross")
_GRAPH = "`RUN/graphs/signals.png` (dashed: the threshold) and the fault table in `RUN/report.html`"

RUNBOOK = (
    Runbook(
        name="retry-amplification",
        what="Each node's retries per downstream against what its retry budget allows: budget_ratio x first "
        "attempts + budget_floor, over the whole run and over any window between two scrapes.",
        fires=f"Retries above that bound (the node's own `retry` config, else ratio {_T.budget_ratio:g}, "
        f"floor {_T.budget_floor:g}). Severity error.",
        cause="Retries without budget, jitter or breaker turn a struggling downstream into a retry storm "
        "(seed 003 snippet 4; seed 000, the retry storm).",
        look=(
            "`jq '.checkers.signals.anomalies[] | select(.kind == \"retry-amplification\") | .details' "
            "RUN/results.json`.",
            "`RUN/graphs/retries.png` (retries against first attempts, and their ratio).",
            "`jq '.retry' RUN/nodes/*/node.json` (the budget each node ran with) and "
            "`grep -h 'retry shed\\|outcome unknown' RUN/nodes/*/node.log | tail`.",
        ),
        verify="`seam test --workload orders --scenario retry-storm --bug naive-retry --seed 7` is INVALID "
        "with this kind, without `--bug` VALID; `seam regress regressions/retry-amplification`.",
    ),
    Runbook(
        name="duplicate-key-alert",
        what="Duplicate-key hits over the whole run: requests a ledger answered from its idempotency table "
        "instead of applying them again (the seed's duplicate-effect counter).",
        fires=f"More than {_T.duplicate_key_alert:g} hits in total. Severity warning: the run stays VALID, "
        "since a replay answered by its key is the mechanism working.",
        cause="Something upstream resends effects: a lost response retried (the seed 000 double refund, "
        "caught by its key), a consumer redelivering (seed 002), a new leader re-sending steps the old "
        "one started.",
        look=(
            "`jq '.checkers.signals.anomalies[] | select(.kind == \"duplicate-key-alert\") | .details' "
            "RUN/results.json` (hits by node and by service).",
            "`grep -h 'duplicate key' RUN/nodes/*/node.log | head` (which keys were replayed).",
            _GRAPH + ": duplicate_key_hits per second against the fault bands.",
        ),
        verify="`seam test --workload orders --scenario lost-response --seed 7` raises it and stays VALID; "
        "the same with `--bug refund-without-key` is INVALID with duplicate-effect instead; "
        "`seam regress regressions/duplicate-key-alert`.",
    ),
    Runbook(
        name="consumer_lag",
        signal=True,
        what="How many events the saga's consumer is behind its producers: gauge `consumer_lag`, the max "
        "over nodes each second.",
        fires=f">= {_T.consumer_lag:g} events {_CROSS}.",
        cause="The consumer stalled or lost its leader: a paused or partitioned leader, a consumer crash "
        "between effect and offset commit (seed 002), producers outrunning one consumer (seed 000, "
        "consumer lag).",
        look=(
            _GRAPH + ".",
            "`jq -c '[.time, .node, .metrics.gauges.consumer_lag]' RUN/nodes/*/metrics.jsonl | sort -n | tail`.",
            "`grep -h 'events:\\|became leader\\|stepped down' RUN/nodes/*/node.log | tail`.",
        ),
        verify="`seam test --workload orders --scenario commit-before-effect --seed 7`: lag rises and falls "
        "back, VALID; with `--bug commit-before-effect` it ends in lost-effect, INVALID; "
        "`seam regress regressions/lost-effect`.",
    ),
    Runbook(
        name="quorum_write_p99",
        signal=True,
        what="p99 latency of the quorum store's writes (histogram `store_write_seconds`), the max over nodes.",
        fires=f">= {_T.quorum_write_p99:g} s {_CROSS}.",
        cause="A slow replica dragging the W-th acknowledgement (seed 000: 'a slow third replica drags tail "
        "latency even when no node is down'), or a partition costing coordinators their quorum. The "
        "tempting fix, W=1, is seed 003 snippet 1.",
        look=(
            _GRAPH + ".",
            "`jq -c '[.time, .node, .metrics.histograms.store_write_seconds.p99]' RUN/nodes/*/metrics.jsonl "
            "| sort -n | tail`.",
            "`grep -hi 'quorum' RUN/nodes/*/node.log | tail` (writes that found no quorum).",
        ),
        verify="`seam test --workload register --scenario slow-replica --seed 7` crosses it and stays VALID; "
        "with `--bug weak-quorum` the p99 stays low and the run is INVALID (a low p99 bought with W=1 is "
        "the bug); `seam regress regressions/weak-quorum-config`.",
    ),
    Runbook(
        name="quorum_read_p99",
        signal=True,
        what="p99 latency of the quorum store's reads with their write-back (histogram "
        "`store_read_seconds`), the max over nodes.",
        fires=f">= {_T.quorum_read_p99:g} s {_CROSS}.",
        cause="A slow or cut-off replica among the R asked, or write-backs waiting on a slow replica; "
        "lowering R to 1 (seed 003 snippet 1) or skipping write-back trades this signal for stale reads.",
        look=(
            _GRAPH + ".",
            "`jq -c '[.time, .node, .metrics.histograms.store_read_seconds.p99]' RUN/nodes/*/metrics.jsonl "
            "| sort -n | tail`.",
            "`grep -h 'store: replication' RUN/nodes/*/node.log` (the R each node reads with).",
        ),
        verify="`seam test --workload register --scenario slow-replica --seed 7` VALID; with `--bug "
        "no-write-back` INVALID (nonlinearizable); `seam regress regressions/nonlinearizable`.",
    ),
    Runbook(
        name="leader_churn",
        signal=True,
        what="Elections: the rise of the highest `election_term` over nodes per second.",
        fires=f">= {_T.leader_churn:g} term change in a second {_CROSS}.",
        cause="Leases lost to pauses or partitions: each new term bumps the fencing token, and a paused old "
        "leader is one wake-up from a stale write (seed 000, leader churn and the leader that pauses).",
        look=(
            "`grep -h 'became leader\\|stepped down' RUN/nodes/*/node.log`.",
            "`jq '.checkers.fencing.stats' RUN/results.json` (terms over time, rejected tokens).",
            _GRAPH + ".",
        ),
        verify="`seam test --workload orders --scenario paused-leader --seed 7`: churn fires, `rejected token` "
        "is in node.log and the run is VALID; with `--bug fence-after-write` INVALID; "
        "`seam regress regressions/stale-fenced-write`.",
    ),
    Runbook(
        name="retry_budget",
        signal=True,
        what="How much of the retry budget is spent: gauge `retry_budget_used_percent{downstream}`, the max "
        "over nodes and downstreams.",
        fires=f">= {_T.retry_budget:g} % {_CROSS}.",
        cause="A downstream failing and its callers retrying (seed 000, retry-budget exhaustion; seed 003 "
        "snippet 4): near 100 % retries are shed and users see failures while every service is healthy.",
        look=(
            "`RUN/graphs/retries.png` and " + _GRAPH + ".",
            "`jq -c '[.time, .node, (.metrics.gauges | with_entries(select(.key | "
            "startswith(\"retry_budget_used_percent\"))))]' RUN/nodes/*/metrics.jsonl | tail`.",
            "`grep -h 'retry shed\\|breaker' RUN/nodes/*/node.log | tail`.",
        ),
        verify="`seam test --workload orders --scenario retry-storm --seed 7`: the budget fires, retries stay "
        "bounded, VALID; with `--bug naive-retry` INVALID (retry-amplification); "
        "`seam regress regressions/retry-amplification`.",
    ),
    Runbook(
        name="duplicate_key_hits",
        signal=True,
        what="Duplicate-key hits per second summed over nodes (counter `duplicate_key_hits`): the rate of the "
        "duplicate-key alert.",
        fires=f">= {_T.duplicate_key_hits:g} hit/s {_CROSS}.",
        cause="Resends during a fault: lost responses retried, a new leader re-sending started steps, a "
        "consumer redelivering (seed 000's duplicate-effect counter).",
        look=(
            _GRAPH + ".",
            "`grep -h 'duplicate key' RUN/nodes/*/node.log | head`.",
            "`jq '.checkers.signals.anomalies[] | select(.kind == \"duplicate-key-alert\")' RUN/results.json`.",
        ),
        verify="`seam test --workload orders --scenario lost-response --seed 7` VALID with hits; with "
        "`--bug refund-without-key` no hits on refunds and INVALID (duplicate-effect); "
        "`seam regress regressions/duplicate-effect`.",
    ),
    Runbook(
        name="retries",
        signal=True,
        what="Retries per second summed over nodes (gauge `retry_retries`), drawn against first attempts.",
        fires="Never by itself: drawn in `RUN/graphs/retries.png`; its bound is the retry-amplification kind.",
        cause="When it climbs with first attempts flat, callers are retrying a failing downstream (seed 000, "
        "the retry storm).",
        look=(
            "`RUN/graphs/retries.png`.",
            "`jq -c '[.time, .node, .metrics.gauges.retry_retries]' RUN/nodes/*/metrics.jsonl | tail`.",
            "`jq '.checkers.signals.anomalies' RUN/results.json` (retry-amplification, if any).",
        ),
        verify="`seam test --workload orders --scenario retry-storm --seed 7` against `--bug naive-retry`; "
        "`seam regress regressions/retry-amplification`.",
    ),
    Runbook(
        name="first_attempts",
        signal=True,
        what="First attempts per second summed over nodes (gauge `retry_first_attempts`): the traffic a "
        "retry budget is a share of.",
        fires="Never by itself: drawn in `RUN/graphs/retries.png` as the baseline for retries.",
        cause="A drop with retries still high means callers are retrying instead of serving new work "
        "(seed 000, the retry storm).",
        look=(
            "`RUN/graphs/retries.png`.",
            "`jq -c '[.time, .node, .metrics.gauges.retry_first_attempts]' RUN/nodes/*/metrics.jsonl | tail`.",
            "`jq '.checkers.perf.stats' RUN/results.json` (client throughput over the same time).",
        ),
        verify="`seam test --workload orders --scenario retry-storm --seed 7` against `--bug naive-retry`; "
        "`seam regress regressions/retry-amplification`.",
    ),
)
