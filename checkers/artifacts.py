"""Read what a run collected from its nodes, for the pipeline checkers.

A run directory holds ``nodes/<node>/`` with the files the harness copied
from each node (see target/README.md for how target/ writes them). The
shapes the checkers rely on, one JSON object a line unless said otherwise:

``<service>.ledger.jsonl`` (service: payment, inventory, shipping)
    ``{seq, key, op, token, order_id, node, hlc, wall}`` plus ``amount``
    (payment), ``sku, qty`` (inventory), ``shipment`` (shipping) and
    ``void: true`` for a compensation that found nothing to undo.
``<service>.fence.jsonl``
    ``{verdict: "accept"|"reject", key, token, highest, ledger, wall}``,
    ``late: true`` when a stale token was noticed only after the write.
``saga-steps.jsonl``
    ``{order_id, seq, step, phase, ts: [wall_ms, logical, node], wall, node, term}``.
``metrics.jsonl``
    one scrape of ``GET /metrics`` a line: ``{"time": <seconds since the run
    started, the same origin as the history's ns times>, "counters": {...},
    "gauges": {...}, "histograms": {name: {count, sum, p50, p99, max}}}``.
    The snapshot may instead sit under a ``"metrics"`` key; a line with an
    ``"error"`` and no snapshot (a failed scrape) is skipped.
``metrics.json``
    the final ``GET /metrics`` snapshot that collection writes (no time).
``node.json``
    the node's config (for the retry budget it ran with).

Every row read keeps where it came from in ``"_src"`` (``nodes/n1/payment.ledger.jsonl:3``),
so an anomaly can point at the exact line. A torn last line (a crash
mid-append, never acknowledged) is skipped; a corrupt line elsewhere raises
``ArtifactError`` naming the file and line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.core.errors import CheckerError

SERVICES = ("payment", "inventory", "shipping")
SRC = "_src"


class ArtifactError(CheckerError):
    """A collected file is unreadable; the message names the file, the line and the fix."""


# ---------------------------------------------------------------------------
# the test: test.json, a TestSpec, or the runner's Test object


@dataclass(frozen=True)
class RunInfo:
    """What the checkers need to know about a run, from whatever ``test`` was given."""

    nodes: list[str] = field(default_factory=list)
    workload: str | None = None
    bugs: list[str] = field(default_factory=list)
    replication: tuple[int, int, int] | None = None


def run_info(test: Any) -> RunInfo:
    """Normalise ``test``: a test.json dict, the brief's flat dict, a TestSpec or a runner Test.

    Missing keys stay empty rather than raising: a checker that needs one
    says so in its result.
    """
    if test is None:
        return RunInfo()
    if not isinstance(test, dict):
        spec = getattr(test, "spec", test)
        nodes = list(getattr(test, "nodes", None) or [])
        return RunInfo(
            nodes=[str(n) for n in nodes],
            workload=getattr(spec, "workload", None),
            bugs=list(getattr(spec, "bugs", None) or []),
            replication=_replication(getattr(spec, "replication", None)),
        )
    target: dict[str, Any] = test["target"] if isinstance(test.get("target"), dict) else {}
    options: dict[str, Any] = test["options"] if isinstance(test.get("options"), dict) else {}
    nodes = test.get("nodes") or options.get("nodes") or []
    bugs = test.get("bugs") or target.get("bugs") or options.get("bugs") or []
    repl = test.get("replication") or target.get("replication") or options.get("replication")
    return RunInfo(
        nodes=[str(n) for n in (nodes if isinstance(nodes, (list, dict)) else [])],
        workload=test.get("workload") or options.get("workload"),
        bugs=[str(b) for b in bugs] if isinstance(bugs, (list, tuple)) else [],
        replication=_replication(repl),
    )


def _replication(raw: Any) -> tuple[int, int, int] | None:
    try:
        if isinstance(raw, dict):
            return int(raw["n"]), int(raw["w"]), int(raw["r"])
        if isinstance(raw, (list, tuple)) and len(raw) == 3:
            n, w, r = raw
            return int(n), int(w), int(r)
    except (KeyError, TypeError, ValueError):
        return None
    return None


# ---------------------------------------------------------------------------
# files


def read_jsonl(path: Path, *, label: str | None = None) -> list[dict[str, Any]]:
    """Rows of a JSON-lines file, each tagged with ``_src``; [] when the file is absent."""
    if not path.exists():
        return []
    label = label or str(path)
    lines = path.read_bytes().split(b"\n")
    torn = lines[-1] != b""  # no trailing newline: the last line may be half-written
    rows: list[dict[str, Any]] = []
    for lineno, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as e:
            if torn and lineno == len(lines):
                break  # a crash mid-append: never acknowledged, so never part of the record
            raise ArtifactError(
                f"{label}:{lineno}: not valid JSON ({e.msg}); the file is corrupt: "
                "re-collect it from the node or move it away to check without it"
            ) from None
        if not isinstance(row, dict):
            raise ArtifactError(
                f"{label}:{lineno}: expected a JSON object, got {type(row).__name__}"
            )
        row[SRC] = f"{label}:{lineno}"
        rows.append(row)
    return rows


def clean(row: dict[str, Any]) -> dict[str, Any]:
    """A row as the node wrote it plus where it came from (``source``), for anomaly details."""
    out = {k: v for k, v in row.items() if k != SRC}
    if SRC in row:
        out["source"] = row[SRC]
    return out


class Artifacts:
    """The ``nodes/<node>/`` files of one run directory (or of nothing, when ``root`` is None)."""

    def __init__(self, root: Path | str | None):
        self.root = None if root is None else Path(root)
        self._cache: dict[tuple[str, str], list[dict[str, Any]]] = {}

    @property
    def present(self) -> bool:
        return self.root is not None and (self.root / "nodes").is_dir()

    def nodes(self) -> list[str]:
        if not self.present:
            return []
        assert self.root is not None
        return sorted(p.name for p in (self.root / "nodes").iterdir() if p.is_dir())

    def path(self, node: str, name: str) -> Path:
        assert self.root is not None
        return self.root / "nodes" / node / name

    def rows(self, node: str, name: str) -> list[dict[str, Any]]:
        """One node's file, read once and cached."""
        key = (node, name)
        if key not in self._cache:
            self._cache[key] = read_jsonl(self.path(node, name), label=f"nodes/{node}/{name}")
        return self._cache[key]

    def all_rows(self, name: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """(node, row) for a file name over every node, node by node, in file order."""
        for node in self.nodes():
            for row in self.rows(node, name):
                yield node, row

    def has_any(self, name: str) -> bool:
        return any(self.path(n, name).exists() for n in self.nodes())

    def ledger(self, service: str) -> list[dict[str, Any]]:
        return [r for _, r in self.all_rows(f"{service}.ledger.jsonl")]

    def fence(self, node: str, service: str) -> list[dict[str, Any]]:
        return self.rows(node, f"{service}.fence.jsonl")

    def steps(self) -> list[dict[str, Any]]:
        return [r for _, r in self.all_rows("saga-steps.jsonl")]

    def metrics(self, node: str) -> list[dict[str, Any]]:
        """The node's scrapes as ``{"time", "counters", "gauges", "histograms"}``, by time."""
        out: list[dict[str, Any]] = []
        for row in self.rows(node, "metrics.jsonl"):
            nested = row.get("metrics")
            snap: dict[str, Any] = nested if isinstance(nested, dict) else row
            t = row.get("time")
            if not isinstance(t, (int, float)) or not any(
                k in snap for k in ("counters", "gauges", "histograms")
            ):
                continue  # a failed scrape, or a line without a time
            out.append(
                {
                    "time": float(t),
                    "counters": snap.get("counters") or {},
                    "gauges": snap.get("gauges") or {},
                    "histograms": snap.get("histograms") or {},
                }
            )
        out.sort(key=lambda s: s["time"])
        return out

    def final_metrics(self, node: str) -> dict[str, Any] | None:
        """The last known snapshot: metrics.json from collection, else the last scrape."""
        p = self.path(node, "metrics.json")
        if p.exists():
            try:
                snap = json.loads(p.read_text())
            except (OSError, json.JSONDecodeError) as e:
                raise ArtifactError(
                    f"nodes/{node}/metrics.json: unreadable ({e}); re-collect it"
                ) from None
            if isinstance(snap, dict):
                return snap
        scrapes = self.metrics(node)
        return scrapes[-1] if scrapes else None

    def config(self, node: str) -> dict[str, Any]:
        p = self.path(node, "node.json")
        try:
            data = json.loads(p.read_text()) if p.exists() else {}
        except (OSError, json.JSONDecodeError):
            return {}
        return data if isinstance(data, dict) else {}


def order_of_key(key: str) -> str | None:
    """``refund:order-42`` (or the bug's ``refund:order-42:call-ab12``) -> ``order-42``."""
    parts = str(key).split(":")
    return parts[1] if len(parts) >= 2 else None


def op_of_key(key: str) -> str:
    return str(key).split(":", 1)[0]
