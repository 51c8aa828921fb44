"""Render a stored run: ``results.json`` + history + scraped metrics -> report.

This module reads a run directory (DESIGN section 5) into plain data
(``RunData``), then hands it to the renderers: ``graphs`` (PNGs),
``timeline`` (timeline.html) and ``html`` (report.html). It never talks to
the nodes and never runs a checker: a report can be rendered again, on
another machine, from the files alone.

Everything here is tolerant, because a report is most needed when a run went
wrong: a missing or torn file, a checker that crashed (``valid: "unknown"``
with an ``error``), a failed run (``valid: null``), or a checker this module
has never heard of still give a report, with what is missing said in words
(``RunData.notes``). The renderers are imported inside ``render_run`` so that
importing this module does not load matplotlib or jinja2.
"""

from __future__ import annotations

import json
import math
import os
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from harness.core.faults import fault_spans
from harness.core.op import NEMESIS

__all__ = [
    "PALETTE",
    "Band",
    "Pair",
    "RunData",
    "anomalous_ops",
    "checker_results",
    "fault_bands",
    "fault_colour",
    "load_metrics",
    "load_run",
    "pair_ops",
    "render_run",
    "signal_stats",
    "verdict_of",
]

#: Fault colours for runs whose test.json does not describe their faults (older runs,
#: histories from elsewhere): a fault's name picks one, the same one every time.
PALETTE = (
    "#e15759", "#4e79a7", "#b07aa1", "#f28e2b", "#76b7b2",
    "#edc948", "#59a14f", "#ff9da7", "#9c755f", "#bab0ac",
)


def fault_colour(name: str, described: Mapping[str, Any] | None = None) -> str:
    """The colour of fault ``name``: test.json's ``faults[name]["colour"]``, else from PALETTE."""
    info = (described or {}).get(name)
    colour = info.get("colour") if isinstance(info, Mapping) else None
    if isinstance(colour, str) and colour:
        return colour
    return PALETTE[zlib.crc32(name.encode()) % len(PALETTE)]


NS = 1e9


@dataclass
class Pair:
    """One client call as drawn: an invoke and its completion (``None`` while open).

    ``type`` is the completion's type, or ``"open"`` when the history ends
    before the call completed (the control node crashed or was stopped).
    """

    process: Any
    f: str
    type: str
    start: float  # seconds since the run began
    end: float | None
    invoke_index: int
    complete_index: int | None
    value: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def latency(self) -> float | None:
        return None if self.end is None else self.end - self.start

    @property
    def indices(self) -> tuple[int, ...]:
        return (self.invoke_index,) + (
            () if self.complete_index is None else (self.complete_index,)
        )


@dataclass
class Band:
    """A fault interval, shaded on every graph. ``end`` is ``None`` if never healed in the history.

    ``kind`` is the fault's name (the op's ``fault`` field); ``colour`` the
    one it is drawn in (``fault_colour``).
    """

    kind: str
    start: float
    end: float | None
    f: str
    value: Any = None
    op: int | None = None  # the index of the op that started it (its invoke)
    colour: str = PALETTE[-1]

    def end_or(self, horizon: float) -> float:
        return horizon if self.end is None else self.end


@dataclass
class RunData:
    """Everything a renderer may read about one run."""

    run_dir: Path
    results: dict[str, Any]
    test: dict[str, Any]
    ops: list[dict[str, Any]]
    pairs: list[Pair]
    bands: list[Band]
    metrics: dict[str, list[dict[str, Any]]]
    notes: list[str] = field(default_factory=list)

    @cached_property
    def horizon(self) -> float:
        """The last time anything happened, in seconds (at least 1 s, so axes are never empty)."""
        times = [o["time"] / NS for o in self.ops if _is_number(o.get("time"))]
        times += [
            r["time"] for rows in self.metrics.values() for r in rows if _is_number(r.get("time"))
        ]
        return max([1.0, *times])


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


# ---------------------------------------------------------------------------
# reading


def _read_json(path: Path, notes: list[str]) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        notes.append(f"{path.name} is missing")
        return {}
    except (OSError, ValueError) as e:
        notes.append(f"{path.name} could not be read ({e}); re-run `seam check {path.parent}`")
        return {}
    if not isinstance(data, dict):
        notes.append(f"{path.name} holds a {type(data).__name__}, not an object")
        return {}
    return data


def _read_jsonl(path: Path, notes: list[str]) -> list[dict[str, Any]]:
    """Rows of a JSON Lines file; a bad line is skipped and counted, never fatal."""
    rows: list[dict[str, Any]] = []
    bad: list[int] = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                bad.append(n)
                continue
            if isinstance(row, dict):
                rows.append(row)
            else:
                bad.append(n)
    if bad:
        shown = ", ".join(map(str, bad[:5])) + (" ..." if len(bad) > 5 else "")
        notes.append(f"{path}: skipped {len(bad)} unreadable line(s): {shown}")
    return rows


def load_history(path: Path, notes: list[str]) -> list[dict[str, Any]]:
    """The history as JSON rows, through ``harness.formats.load`` when it validates.

    A history that does not validate (a run killed mid-write, a hand-edited
    file) is still drawn from its readable lines, with a note saying so.
    """
    if not path.is_file():
        notes.append("history.jsonl is missing: no latency, rate or timeline graphs")
        return []
    from harness.core.errors import SeamError
    from harness.formats import load

    try:
        return [op.to_json() for op in load(str(path), "jsonl")]
    except SeamError as e:
        notes.append(f"history did not validate ({e}); drawing its readable lines as they are")
    rows = _read_jsonl(path, notes)
    for i, row in enumerate(rows):
        row.setdefault("index", i)
    return rows


def load_metrics(run_dir: Path, notes: list[str] | None = None) -> dict[str, list[dict[str, Any]]]:
    """``nodes/<node>/metrics.jsonl`` per node (the scraper's lines, in file order)."""
    notes = [] if notes is None else notes
    out: dict[str, list[dict[str, Any]]] = {}
    for path in sorted((run_dir / "nodes").glob("*/metrics.jsonl")):
        out[path.parent.name] = _read_jsonl(path, notes)
    return out


# ---------------------------------------------------------------------------
# shaping


def pair_ops(ops: Iterable[dict[str, Any]]) -> list[Pair]:
    """Client calls, pairing each invoke with the next completion of its process.

    This is the same pairing the history validator enforces (one open call
    per process); nemesis ops are faults, not calls, and are left out.
    """
    open_: dict[Any, dict[str, Any]] = {}
    pairs: list[Pair] = []
    for op in ops:
        p = op.get("process")
        if p == NEMESIS:
            continue
        if op.get("type") == "invoke":
            if p in open_:  # a torn history: the earlier call never completed
                pairs.append(_pair(open_.pop(p), None))
            open_[p] = op
        elif p in open_:
            pairs.append(_pair(open_.pop(p), op))
    pairs.extend(_pair(inv, None) for inv in open_.values())
    pairs.sort(key=lambda c: c.invoke_index)
    return pairs


_CORE = {"index", "time", "process", "type", "f", "value"}


def _pair(invoke: dict[str, Any], done: dict[str, Any] | None) -> Pair:
    extra = {k: v for k, v in (done or invoke).items() if k not in _CORE}
    return Pair(
        process=invoke.get("process"),
        f=str((done or invoke).get("f", "?")),
        type=str(done.get("type")) if done else "open",
        start=_seconds(invoke),
        end=_seconds(done) if done else None,
        invoke_index=int(invoke.get("index", -1)),
        complete_index=int(done.get("index", -1)) if done else None,
        value=(done or invoke).get("value"),
        extra=extra,
    )


def _seconds(op: dict[str, Any]) -> float:
    t = op.get("time")
    return float(t) / NS if isinstance(t, (int, float)) else 0.0


def fault_bands(
    ops: Iterable[dict[str, Any]], described: Mapping[str, Any] | None = None
) -> list[Band]:
    """Fault intervals from the nemesis ops (``harness.core.faults``), in the order they began.

    A fault begins when its start op *completes* (the nemesis applied it) and
    ends when its stop op is *invoked*: the shading covers only time the
    fault was surely in place. A pulse runs from its invoke to its
    completion. A fault never stopped runs to the end; one whose start op
    failed never happened and is not drawn; one started again while on is
    one longer band. ``described`` is test.json's ``faults`` (the colours).
    """
    bands: list[Band] = []
    for span in fault_spans(ops):
        if span.failed or span.applied is None:
            continue
        if not span.pulse and any(_still_on(b, span.fault, span.applied) for b in bands):
            continue
        start, end = (span.began, span.applied) if span.pulse else (span.applied, span.ended)
        value = span.value if span.applied_value is None else span.applied_value
        colour = fault_colour(span.fault, described)
        bands.append(Band(span.fault, start, end, span.f, value, span.invoke, colour))
    return bands


def _still_on(band: Band, fault: str, at: float) -> bool:
    return band.kind == fault and (band.end is None or band.end >= at)


def checker_results(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{name: result}`` from results.json, whatever wrote it.

    The runner and ``seam check`` store each checker's result under
    ``checkers``; a result that is not an object (a checker that returned
    something odd) is wrapped so it is still shown.
    """
    raw = results.get("checkers")
    if not isinstance(raw, dict):
        return {}
    out: dict[str, dict[str, Any]] = {}
    for name, r in raw.items():
        out[str(name)] = r if isinstance(r, dict) else {"valid": "unknown", "stats": {"value": r}}
    return out


def signal_stats(results: dict[str, Any]) -> dict[str, Any]:
    """The signals checker's stats (``faults`` with their first crossing, ``thresholds``), or {}.

    Found by shape rather than by name, so a renamed or second signals
    checker is still drawn: the stats of the first checker whose ``faults``
    carry ``crossings``.
    """
    for r in checker_results(results).values():
        stats = r.get("stats")
        if not isinstance(stats, dict) or not isinstance(stats.get("faults"), list):
            continue
        if any(isinstance(f, dict) and "crossings" in f for f in stats["faults"]):
            return stats
    return {}


def verdict_of(value: Any) -> str:
    """ "valid", "invalid" or "unknown" for a stored ``valid`` (null: the run failed)."""
    return "valid" if value is True else "invalid" if value is False else "unknown"


def anomalies_of(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Every anomaly, each once: the top-level list, else the checkers' own lists."""
    top = results.get("anomalies")
    if isinstance(top, list) and top:
        return [a for a in top if isinstance(a, dict)]
    found = []
    for name, r in checker_results(results).items():
        for a in r.get("anomalies") or []:
            if isinstance(a, dict):
                found.append({"checker": name, **a})
    return found


def anomalous_ops(anomalies: Iterable[dict[str, Any]]) -> set[int]:
    """The op indices named by any anomaly (highlighted on the timeline)."""
    out: set[int] = set()
    for a in anomalies:
        for i in a.get("ops") or []:
            if isinstance(i, int) and not isinstance(i, bool):
                out.add(i)
    return out


def load_run(run_dir: Path) -> RunData:
    """Read a run directory; never raises for missing or damaged files (see ``notes``)."""
    notes: list[str] = []
    results = _read_json(run_dir / "results.json", notes)
    test = _read_json(run_dir / "test.json", []) if (run_dir / "test.json").exists() else {}
    ops = load_history(run_dir / "history.jsonl", notes)
    metrics = load_metrics(run_dir, notes)
    if not metrics:
        notes.append(
            "no nodes/*/metrics.jsonl: the signals and retry graphs need the metrics scraper"
        )
    bands = fault_bands(ops, test.get("faults") if isinstance(test.get("faults"), dict) else None)
    return RunData(run_dir, results, test, ops, pair_ops(ops), bands, metrics, notes)


def resolve_run_dir(path: Path) -> Path:
    """A run directory, following ``results/latest`` style links; InputError if not a run."""
    from harness.core.errors import InputError

    real = Path(os.path.realpath(path))
    if not real.is_dir():
        raise InputError(
            f"{path}: no such run directory; pass results/<test>/<stamp> or results/latest"
        )
    if not (real / "results.json").exists() and not (real / "history.jsonl").exists():
        raise InputError(
            f"{path}: not a stored run (no results.json or history.jsonl); "
            "pass results/<test>/<stamp> or results/latest"
        )
    return real


def _linear_pages(data: RunData, out: Path) -> list[Path]:
    """linear.html and its PNGs for non-linearizable keys, unless `seam check` already wrote them.

    The runner stores the explanations but does not draw them; drawing is
    ``checkers.report.linear``'s job, so this only calls it. A failure to draw
    one is a note on the report, not a lost report.
    """
    if (data.run_dir / "linear.html").exists():
        return []
    explanations = [
        a["details"]
        for a in anomalies_of(data.results)
        if a.get("kind") == "nonlinearizable"
        and isinstance(a.get("details"), dict)
        and (a["details"].get("window") or a["details"].get("shrunk"))
    ]
    if not explanations:
        return []
    try:
        from checkers.report.linear import render_all

        return render_all(explanations, out)
    except Exception as e:  # noqa: BLE001 - a drawing that fails must not cost the report
        data.notes.append(
            f"the linearizability timelines could not be drawn: {type(e).__name__}: {e}"
        )
        return []


def render_run(run_dir: Path) -> Path:
    """Write ``graphs/`` and ``report.html`` for a stored run; return the report's path."""
    from checkers.report import graphs, html, timeline

    run_dir = resolve_run_dir(Path(run_dir))
    data = load_run(run_dir)
    out = run_dir / "graphs"
    out.mkdir(exist_ok=True)
    made = graphs.render_all(data, out)
    made.append(timeline.render(data, out / "timeline.html"))
    made.extend(_linear_pages(data, out))
    return html.render(data, [p.relative_to(run_dir) for p in made], run_dir / "report.html")
