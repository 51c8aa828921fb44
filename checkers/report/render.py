"""Render a stored run: ``results.json`` + history + scraped metrics -> report.

This module orchestrates: it reads a run directory (DESIGN section 5) into
plain data (``model.RunData``), then hands it to the renderers: ``graphs``
(PNGs), ``timeline`` (timeline.html), ``linear`` (linear.html) and ``html``
(report.html). The renderers import ``model``, never this module. It never
talks to the nodes and never runs a checker: a report can be rendered again,
on another machine, from the files alone.

Everything here is tolerant, because a report is most needed when a run went
wrong: a missing or torn file, a checker that crashed (``valid: "unknown"``
with an ``error``), a failed run (``valid: null``), or a checker this module
has never heard of still give a report, with what is missing said in words
(``RunData.notes``). The renderers load matplotlib and jinja2 only when they
draw, so importing this module stays cheap.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from checkers.report import cycles, graphs, html, linear, sets, timeline
from checkers.report.model import Band, RunData, anomalies_of, fault_colour, pair_ops
from harness.core.faults import fault_spans

__all__ = [
    "fault_bands",
    "load_history",
    "load_metrics",
    "load_run",
    "render_run",
    "resolve_run_dir",
]

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


def load_run(run_dir: Path) -> RunData:
    """Read a run directory; never raises for missing or damaged files (see ``notes``)."""
    notes: list[str] = []
    results = _read_json(run_dir / "results.json", notes)
    test = _read_json(run_dir / "test.json", []) if (run_dir / "test.json").exists() else {}
    ops = load_history(run_dir / "history.jsonl", notes)
    metrics = load_metrics(run_dir, notes)  # a target without metrics gets no note about them
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
        return linear.render_all(explanations, out)
    except Exception as e:  # noqa: BLE001 - a drawing that fails must not cost the report
        data.notes.append(
            f"the linearizability timelines could not be drawn: {type(e).__name__}: {e}"
        )
        return []


def _cycle_pictures(data: RunData, out: Path) -> list[Path]:
    """One picture per transactional cycle kind (``checkers.report.cycles``); a failure is a note."""
    try:
        return cycles.render_all(anomalies_of(data.results), out)
    except Exception as e:  # noqa: BLE001 - a drawing that fails must not cost the report
        data.notes.append(f"the transaction cycles could not be drawn: {type(e).__name__}: {e}")
        return []


def render_run(run_dir: Path) -> Path:
    """Write ``graphs/`` and ``report.html`` for a stored run; return the report's path."""
    run_dir = resolve_run_dir(Path(run_dir))
    data = load_run(run_dir)
    out = run_dir / "graphs"
    out.mkdir(exist_ok=True)
    made = graphs.render_all(data, out)
    drawn = sets.render(data, out / "set.png")  # only for a run with a set checker
    if drawn is not None:
        made.append(drawn)
    made.append(timeline.render(data, out / "timeline.html"))
    made.extend(_linear_pages(data, out))
    made.extend(_cycle_pictures(data, out))
    return html.render(data, [p.relative_to(run_dir) for p in made], run_dir / "report.html")
