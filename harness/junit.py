"""JUnit XML for CI: one testcase per run (``seam test``, ``seam nightly``) or per
regression case (``seam regress``), written with ``junitparser``.

Callers hand ``write_junit`` a list of ``CaseResult``: plain data, so any
command can report (``case_for_run`` builds one from a run directory). How
verdicts map, so a CI dashboard reads the way Seam's exit codes do: valid is a
pass; invalid (anomalies found, exit 1) is a ``<failure>`` whose message is the
anomaly summary and whose text names every anomaly and the report's path;
unknown (a checker gave up) and a failed run (exit 3) are an ``<error>``, since
neither says the system is wrong; skipped is ``<skipped>``.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from harness.store import RESULTS_JSON, TEST_JSON, read_json_object

OUTCOMES = ("passed", "failed", "error", "skipped")


@dataclass
class CaseResult:
    """One testcase. ``outcome`` is one of OUTCOMES; ``message`` is the one line a CI
    dashboard shows; ``details`` the full text; ``report`` a path to read more."""

    name: str
    classname: str
    outcome: str
    seconds: float = 0.0
    message: str = ""
    details: str = ""
    report: str | None = None

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"junit outcome {self.outcome!r}: expected one of {', '.join(OUTCOMES)}")


def write_junit(path: Path | str, suite: str, cases: Sequence[CaseResult], *,
                timestamp: datetime | None = None, properties: dict[str, str] | None = None) -> Path:
    """Write one ``<testsuite>`` named ``suite`` holding ``cases`` to ``path``."""
    from junitparser import Error, Failure, JUnitXml, Skipped, TestCase, TestSuite

    ts = TestSuite(suite)
    ts.timestamp = (timestamp or datetime.now()).isoformat(timespec="seconds")
    ts.hostname = socket.gethostname()
    for k, v in (properties or {}).items():
        ts.add_property(k, str(v))
    for c in cases:
        tc = TestCase(c.name, c.classname, round(c.seconds, 3))
        text = "\n".join(x for x in (c.details, f"report: {c.report}" if c.report else "") if x)
        result: Failure | Error | Skipped | None
        if c.outcome == "failed":
            result = Failure(c.message, "anomaly")
        elif c.outcome == "error":
            result = Error(c.message, "no-verdict")
        elif c.outcome == "skipped":
            result = Skipped(c.message)
        else:
            result = None
        if result is not None:
            result.text = text
            tc.result = [result]
        if c.report:
            tc.system_out = f"report: {c.report}"
        ts.add_testcase(tc)
    ts.update_statistics()
    xml = JUnitXml()
    xml.add_testsuite(ts)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    xml.write(str(out), pretty=True)
    return out


def case_for_run(run_dir: Path, *, name: str | None = None, classname: str = "seam.test",
                 seconds: float | None = None) -> CaseResult:
    """A run directory as a testcase: its verdict from results.json (none: an error)."""
    results = read_json_object(run_dir / RESULTS_JSON)
    test = read_json_object(run_dir / TEST_JSON)
    label = name or f"{run_dir.parent.name}/{run_dir.name}"
    run = results["run"] if isinstance(results.get("run"), dict) else {}
    took = seconds if seconds is not None else float(run.get("seconds") or 0.0)
    report = run_dir / "report.html"
    case = CaseResult(label, classname, "passed", took, report=str(report) if report.exists() else str(run_dir))
    valid = results.get("valid")
    errors = [a for a in results.get("anomalies") or [] if isinstance(a, dict) and a.get("severity", "error") == "error"]
    if not results:
        case.outcome, case.message = "error", "no results.json: the run did not finish (seam check it)"
    elif valid is False:
        case.outcome = "failed"
        case.message = _summary(errors or results.get("anomalies") or [])
        case.details = "\n".join(f"{a.get('kind')} [{a.get('fingerprint')}]: {a.get('summary')}"
                                 for a in results.get("anomalies") or [] if isinstance(a, dict))
        case.details += f"\nseed {test.get('seed')}; every option of the run is in {run_dir / TEST_JSON}"
    elif valid is None:
        case.outcome, case.message = "error", f"the run failed: {results.get('error') or 'no verdict'}"
    elif valid != True:  # noqa: E712 -- "unknown"
        case.outcome, case.message = "error", f"unknown: {results.get('error') or 'a checker gave up'}"
    return case


def _summary(anomalies: list[dict[str, object]]) -> str:
    """'2 anomalies: stale-fenced-write (ship x2)'-style one line: kinds by fingerprint."""
    counts: dict[str, int] = {}
    for a in anomalies:
        fp = str(a.get("fingerprint") or a.get("kind"))
        counts[fp] = counts.get(fp, 0) + 1
    first = next((str(a.get("summary")) for a in anomalies if a.get("summary")), "")
    kinds = ", ".join(f"{fp} x{n}" if n > 1 else fp for fp, n in counts.items())
    return f"{len(anomalies)} anomal{'y' if len(anomalies) == 1 else 'ies'}: {kinds}" + (f"; {first}" if first else "")
