"""Checker results: three-valued verdicts, anomalies, and how they merge.

Checkers return data, never text: rendering (narratives, graphs, HTML) reads
these structures later. ``valid`` is ``True``, ``False`` or ``"unknown"``;
a checker that gave up or crashed says ``"unknown"`` with the reason, never a
guess. Merging follows Jepsen: ``False`` beats ``"unknown"`` beats ``True``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from harness.core.errors import EXIT_INVALID, EXIT_UNKNOWN, EXIT_VALID

Valid = bool | Literal["unknown"]
UNKNOWN_VERDICT: Literal["unknown"] = "unknown"

ANOMALY_KINDS = frozenset(
    {
        "nonlinearizable",
        "stale-read",
        "weak-quorum-config",
        "lost-effect",
        "duplicate-effect",
        "conservation",
        "stale-fenced-write",
        "causal-inversion",
        "retry-amplification",
        "duplicate-key-alert",
        "backlog",
        "unsettled",
    }
)


#: How much an anomaly weighs. Only an ``error`` (a safety violation) may make a
#: run INVALID; a ``warning`` (an alert, a signal) is reported and stored but
#: leaves the verdict alone, so an alert designed to fire under faults never
#: turns a correct system's run red.
SEVERITIES = ("error", "warning")


@dataclass
class Anomaly:
    """One thing a checker found. ``fingerprint`` ignores times, ids and values,
    so the same bug found twice has the same fingerprint. ``severity`` is one
    of SEVERITIES; a checker that reports only warnings stays valid."""

    checker: str
    kind: str
    summary: str
    ops: list[int] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    fingerprint: str = ""
    history: str | None = None
    severity: str = "error"
    faults: dict[str, Any] | None = None  # which faults were active over its ops (harness.core.faults)

    def __post_init__(self) -> None:
        if not self.fingerprint:
            self.fingerprint = self.kind
        if self.severity not in SEVERITIES:
            raise ValueError(f"anomaly severity {self.severity!r}: expected one of {', '.join(SEVERITIES)}")

    def to_json(self) -> dict[str, Any]:
        # Not asdict: its deep copy runs copy.deepcopy on every leaf, ~50 ms for
        # one explained nonlinearizable anomaly. JSON-like details copy the same
        # way here (plain_copy); anything else still goes through asdict's rules.
        return {
            "checker": self.checker,
            "kind": self.kind,
            "summary": self.summary,
            "ops": list(self.ops),
            "details": plain_copy(self.details),
            "fingerprint": self.fingerprint,
            "history": self.history,
            "severity": self.severity,
            "faults": plain_copy(self.faults),
        }


@dataclass
class CheckResult:
    valid: Valid
    anomalies: list[Anomaly] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "anomalies": [a.to_json() for a in self.anomalies],
            "stats": self.stats,
            "files": self.files,
            "error": self.error,
        }


_SCALARS = frozenset((str, int, float, bool, type(None)))


def plain_copy(value: Any) -> Any:
    """A deep copy of JSON-like data (dicts, lists, scalars), equal to what
    ``dataclasses.asdict`` makes of it; other values get asdict's own treatment."""
    cls = value.__class__
    if cls in _SCALARS:
        return value
    if cls is dict:
        return {plain_copy(k): plain_copy(v) for k, v in value.items()}
    if cls is list:
        return [plain_copy(v) for v in value]
    return asdict(_Box(value))["value"]


@dataclass
class _Box:
    value: Any


def merge_valid(verdicts: list[Valid]) -> Valid:
    """False beats unknown beats True; an empty list is True."""
    if any(v is False for v in verdicts):
        return False
    if any(v == UNKNOWN_VERDICT for v in verdicts):
        return UNKNOWN_VERDICT
    return True


def exit_code(valid: Valid) -> int:
    if valid is True:
        return EXIT_VALID
    if valid is False:
        return EXIT_INVALID
    return EXIT_UNKNOWN
