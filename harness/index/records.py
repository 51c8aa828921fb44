"""One run directory read into the row the index keeps of it.

The run directory is the source of truth: ``read_run`` reads ``test.json`` and
``results.json`` (DESIGN section 5) and nothing else, so the index can always
be rebuilt from ``results/`` and a run indexed twice gives the same row.
A run without ``results.json`` is ``incomplete`` (still running, or its
control node died before checking); a run whose results say it failed
(``valid`` null, exit 3) is ``failed``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.core.errors import EXIT_FAILED
from harness.store import RESULTS_JSON, TEST_JSON, read_json_object

#: What a run ended with, as the index and ``seam runs`` spell it.
VERDICTS = ("valid", "invalid", "unknown", "failed", "incomplete")


@dataclass
class AnomalyRow:
    checker: str
    kind: str
    fingerprint: str
    severity: str
    summary: str


@dataclass
class LatencyRow:
    """One op kind's latency quantiles, as the perf checker computed them (ms)."""

    f: str
    type: str
    count: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None


@dataclass
class RunRecord:
    """What the index keeps of one run. ``id`` is its directory under results/,
    ``<test>/<stamp>``. ``faults`` is the sorted comma list of the faults it
    injected ("" for none): with ``workload`` it is the coverage key nightly
    plans balance on. ``p50_ms``.. are those of ``latency_f``, the op kind with
    the most ok completions (the workload's main op); every kind is in
    ``latency``."""

    id: str
    test: str
    target: str = ""
    workload: str = ""
    faults: str = ""
    bugs: str = ""
    scenario: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    start: str = ""
    seconds: float | None = None
    verdict: str = "incomplete"
    exit_code: int | None = None
    ops: int = 0
    ok: int = 0
    fail: int = 0
    info: int = 0
    throughput: float | None = None
    latency_f: str = ""
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    night: str | None = None
    mtime: float = 0.0
    anomalies: list[AnomalyRow] = field(default_factory=list)
    latency: list[LatencyRow] = field(default_factory=list)

    @property
    def fingerprints(self) -> list[str]:
        """Each fingerprint once, in the order the run found them."""
        return list(dict.fromkeys(a.fingerprint for a in self.anomalies))


def coverage_key(workload: str, faults: str, bugs: str, scenario: str) -> tuple[str, str, str]:
    """What nightly coverage counts runs by: (workload, the fault set or ``scenario:<name>``,
    bugs). A scenario brings its own faults and schedule, so it is its own combination;
    a run with a bug flag tests the checkers, not the system, so it never counts as
    coverage of the system without it."""
    return workload, f"scenario:{scenario}" if scenario else faults, bugs


def run_id(run_dir: Path, root: Path) -> str:
    """``<test>/<stamp>``: the run's directory relative to the results root."""
    try:
        return run_dir.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return f"{run_dir.parent.name}/{run_dir.name}"


def results_mtime(run_dir: Path) -> float:
    """When results.json last changed (0 when there is none): a re-check changes it."""
    try:
        return (run_dir / RESULTS_JSON).stat().st_mtime
    except OSError:
        return 0.0


def read_run(run_dir: Path, root: Path) -> RunRecord | None:
    """The record of the run in ``run_dir``; None when it is not a run (no test.json)."""
    test = read_json_object(run_dir / TEST_JSON)
    if not test:
        return None
    results = read_json_object(run_dir / RESULTS_JSON)
    options = _dict(test.get("options"))
    target = _dict(test.get("target"))
    rec = RunRecord(
        id=run_id(run_dir, root),
        test=str(test.get("name") or run_dir.parent.name),
        target=str(target.get("name") or options.get("target") or ""),
        workload=str(test.get("workload") or options.get("workload") or ""),
        faults=",".join(_faults(test, options)),
        bugs=",".join(sorted(str(b) for b in (target.get("bugs") or options.get("bugs") or []))),
        scenario=_scenario(test),
        options=options,
        seed=_int(test.get("seed")),
        start=str(test.get("start") or ""),
        mtime=results_mtime(run_dir),
    )
    if results:
        _read_results(rec, results)
    return rec


def _faults(test: dict[str, Any], options: dict[str, Any]) -> list[str]:
    """The faults the run injected: test.json's described faults (a scenario's too),
    else the options' --nemesis (runs from before test.json described them)."""
    described = test.get("faults")
    if isinstance(described, dict) and described:
        return sorted(str(k) for k in described)
    return sorted(str(f) for f in options.get("nemesis") or [])


def _scenario(test: dict[str, Any]) -> str:
    s = test.get("scenario")
    if isinstance(s, dict):
        return str(s.get("name") or "")
    return str(s or "")


def _read_results(rec: RunRecord, results: dict[str, Any]) -> None:
    valid = results.get("valid")
    rec.exit_code = _int(results.get("exit_code"))
    if valid is True:
        rec.verdict = "valid"
    elif valid is False:
        rec.verdict = "invalid"
    elif valid is None or rec.exit_code == EXIT_FAILED:
        rec.verdict = "failed"
        rec.exit_code = EXIT_FAILED
    else:
        rec.verdict = "unknown"
    run = _dict(results.get("run"))
    counts = _dict(run.get("counts"))
    rec.ok, rec.fail, rec.info = (_int(counts.get(k)) or 0 for k in ("ok", "fail", "info"))
    rec.ops = rec.ok + rec.fail + rec.info
    rec.seconds = _float(run.get("seconds"))
    if rec.seconds and rec.ops:
        rec.throughput = round(rec.ops / rec.seconds, 3)
    rec.anomalies = [_anomaly(a) for a in results.get("anomalies") or [] if isinstance(a, dict)]
    rec.latency = _latency(results)
    main = max((r for r in rec.latency if r.type == "ok"), key=lambda r: r.count, default=None)
    if main is not None:
        rec.latency_f, rec.p50_ms, rec.p95_ms, rec.p99_ms = main.f, main.p50_ms, main.p95_ms, main.p99_ms


def _anomaly(a: dict[str, Any]) -> AnomalyRow:
    kind = str(a.get("kind") or "?")
    return AnomalyRow(checker=str(a.get("checker") or ""), kind=kind,
                      fingerprint=str(a.get("fingerprint") or kind),
                      severity=str(a.get("severity") or "error"), summary=str(a.get("summary") or ""))


def _latency(results: dict[str, Any]) -> list[LatencyRow]:
    checkers = _dict(results.get("checkers"))
    perf = _dict(checkers.get("perf"))
    stats = _dict(perf.get("stats"))
    rows = []
    for entry in (stats.get("latency") or {}).values():
        if isinstance(entry, dict):
            rows.append(LatencyRow(f=str(entry.get("f")), type=str(entry.get("type")),
                                   count=_int(entry.get("count")) or 0, p50_ms=_float(entry.get("p50_ms")),
                                   p95_ms=_float(entry.get("p95_ms")), p99_ms=_float(entry.get("p99_ms")),
                                   max_ms=_float(entry.get("max_ms"))))
    return rows


def _dict(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _float(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None
