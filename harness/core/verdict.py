"""Checker results: three-valued verdicts, anomalies, and how they merge.

Checkers return data, never text: rendering (narratives, graphs, HTML) reads
these structures later. ``valid`` is ``True``, ``False`` or ``"unknown"``;
a checker that gave up or crashed says ``"unknown"`` with the reason, never a
guess. Merging follows Jepsen: ``False`` beats ``"unknown"`` beats ``True``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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
    #: When the system did it, if a node's own record says ([first, last] wall-clock seconds
    #: since the epoch, by that node's clock): a stale write a node accepted long after the
    #: client's call returned is attributed to the faults active then, not during the call.
    wall: list[float] | None = None

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
            "wall": None if self.wall is None else list(self.wall),
        }


@dataclass(frozen=True)
class Explains:
    """A checker's declaration that an anomaly of kind ``cause`` explains one of kind
    ``consequence`` naming the same entity (the value of ``details[on]``): a stale
    leader's write that landed on an order (cause) is why that order lost an effect
    (consequence). Reports put the cause first and its consequences under it."""

    cause: str
    consequence: str
    on: str

    def to_json(self) -> dict[str, str]:
        return {"cause": self.cause, "consequence": self.consequence, "on": self.on}


def link_causes(rows: list[dict[str, Any]], rules: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Mark every consequence row with ``explained_by``: the position in ``rows`` of the first
    cause row naming the same entity. Returns what was linked: the causes by kind with the
    entities they name, and how many consequences they explain ({} when nothing was)."""
    causes: dict[str, dict[Any, int]] = {}  # (rule key) -> entity -> cause row position
    linked = 0
    by_cause: dict[str, set[str]] = {}
    named: dict[str, str] = {}  # cause kind -> what its entities are (the details key)
    for rule in rules:
        cause, consequence, on = str(rule.get("cause")), str(rule.get("consequence")), str(rule.get("on"))
        found = causes.setdefault(f"{cause}/{on}", {})
        for i, row in enumerate(rows):
            entity = _entity(row, on)
            if row.get("kind") == cause and entity is not None:
                found.setdefault(entity, i)
        for row in rows:
            entity = _entity(row, on)
            if row.get("kind") == consequence and entity in found and "explained_by" not in row:
                row["explained_by"] = found[entity]
                by_cause.setdefault(cause, set()).add(str(entity))
                named.setdefault(cause, on)
                linked += 1
    if not linked:
        return {}
    return {"causes": {k: {"on": named[k], "entities": sorted(v)} for k, v in by_cause.items()},
            "consequences": linked}


def _entity(row: Mapping[str, Any], on: str) -> Any:
    details = row.get("details")
    value = details.get(on) if isinstance(details, Mapping) else None
    return value if isinstance(value, (str, int)) else None


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
