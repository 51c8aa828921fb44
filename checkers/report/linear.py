"""Timelines of non-linearizable keys: one HTML page and one PNG per failure.

Reads only explanation data (``Explanation.to_json()``, i.e. a
``nonlinearizable`` anomaly's ``details``), never the checker. The x axis is
history order, not wall time: the order of ops in the history *is* the
real-time order, and times in foreign histories are not even monotone. So
the axis is free to stretch: every event position gets a column just wide
enough that each bar holds its whole label (no value is ever clipped). A
crashed call's bar runs to the right edge, dashed: it may take effect at any
point after its invoke, or never.

Bars carry the letters the narrative uses (``narrate.letters``). The calls of
the longest linearizable prefix the search found carry their linearization
point, with the model state before and after it on hover (as Porcupine's
visualizer shows), and the page opens scrolled to the failing call.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checkers.linearizable.narrate import letters, ops_label

#: Narrowest gap between two event positions, in pixels.
STEP = 14
#: Room each linearization point needs within its gap.
POINT_STEP = 8
#: Where the first event position sits in the scrolling timeline (the lane names are drawn apart).
LEFT = 8
#: Width of the fixed column of lane names.
NAMES = 96
LANE = 28
#: Bar labels use a monospace font of this size, so their width is known here.
FONT_PX = 11
#: Width of one character of that font (DejaVu Sans Mono: 0.602 em), rounded up.
CHAR_PX = 7.0
#: Padding inside a bar around its label.
PAD = 10


@dataclass
class Bar:
    process: Any
    lane: int
    start: int
    end: int
    crashed: bool
    cls: str
    label: str
    title: str
    letter: str = ""
    id: int = -1


@dataclass
class Point:
    """A linearization point: call ``id`` takes effect ``order``-th, between ranks ``rank`` and ``rank + 1``.

    ``slot``/``slots``: its place among the points that share that gap.
    """

    id: int
    lane: int
    rank: int
    slot: int
    slots: int
    order: int
    title: str


@dataclass
class Layout:
    """Where every call of one explanation's window is drawn, in event-rank units."""

    processes: list[Any]
    bars: list[Bar]
    ranks: int
    heading: str
    narrative: list[str]
    meta: str
    ops: list[str] = field(default_factory=list)
    history: str | None = None
    replay: str = ""
    points: list[Point] = field(default_factory=list)


def _data(explanation: Any) -> dict[str, Any]:
    return explanation.to_json() if hasattr(explanation, "to_json") else dict(explanation)


def _process_order(p: Any) -> tuple[int, Any]:
    return (0, p) if isinstance(p, int) else (1, str(p))


def _bar_class(c: dict[str, Any], failing: Any, shrunk: set[int], prefix: set[int]) -> str:
    if c["id"] == failing:
        return "failing"
    if c["id"] in shrunk:
        return "shrunk"
    return "linearized" if c["id"] in prefix else "other"


def layout(explanation: Any, narrative: str | None = None) -> Layout:
    """Lay out the window of calls around one failure."""
    e = _data(explanation)
    window = e.get("window") or e.get("shrunk") or []
    failing = (e.get("failing") or {}).get("id")
    shrunk = {c["id"] for c in e.get("shrunk") or []}
    prefix = {c["id"] for c in e.get("prefix") or []}
    letter = letters(e)
    points = {p["id"]: p for p in e.get("points") or []}
    positions = sorted(
        {c["call"] for c in window} | {c["ret"] for c in window if c["ret"] is not None}
    )
    rank = {p: i for i, p in enumerate(positions)}
    processes = sorted({c["process"] for c in window}, key=_process_order)
    lane = {p: i for i, p in enumerate(processes)}
    bars = []
    for c in window:
        end = len(positions) if c["ret"] is None else rank[c["ret"]]
        tag = letter.get(c["id"], "")
        bars.append(
            Bar(
                c["process"],
                lane[c["process"]],
                rank[c["call"]],
                end,
                c["crashed"],
                _bar_class(c, failing, shrunk, prefix),
                f"{tag}: {c['description']}" if tag else c["description"],
                _bar_title(c, tag, points.get(c["id"]), e if c["id"] == failing else None),
                tag,
                c["id"],
            )
        )
    key = e.get("key")
    heading = "Not linearizable" + ("" if key is None else f": key {key!r}")
    text = narrative if narrative is not None else e.get("narrative", "")
    meta = f"model {e.get('model')}, {e.get('calls_total')} calls on this key, source {e.get('source')}"
    ops = [json.dumps(o, ensure_ascii=False) for o in e.get("shrunk_ops") or []]
    return Layout(
        processes,
        bars,
        len(positions),
        heading,
        [p for p in text.split("\n") if p],
        meta,
        ops,
        e.get("history"),
        replay_command(e),
        _points(window, points, positions, lane, len(e.get("prefix") or [])),
    )


def _bar_title(
    c: dict[str, Any], tag: str, point: dict[str, Any] | None, failing: dict[str, Any] | None
) -> str:
    """The hover text: who, what, where in the history, and the state around it."""
    who = f"{tag} = " if tag else ""
    crashed = " (crashed)" if c["crashed"] else ""
    text = f"{who}process {c['process']}: {c['description']}{crashed}, {ops_label(c['invoke'], c.get('complete'))}"
    if point is not None:
        text += f"\nlinearized #{point['order']}: state {point['before']} → {point['after']}"
    if failing is not None:
        states = ", ".join(failing.get("states") or []) or "none"
        more = failing.get("states_total", 0) - len(failing.get("states") or [])
        text += f"\ncannot be linearized: possible states just before it: {states}"
        text += f" and {more} more" if more > 0 else ""
    return text


def _points(
    window: list[dict[str, Any]],
    points: dict[int, dict[str, Any]],
    positions: list[int],
    lane: dict[Any, int],
    placed: int,
) -> list[Point]:
    """Each shown call's linearization point, in the gap after the last position at or before it."""
    shown = sorted(
        ((points[c["id"]], c) for c in window if c["id"] in points), key=lambda pc: pc[0]["order"]
    )
    gaps: dict[int, int] = {}
    out = []
    for p, c in shown:
        r = max(0, bisect.bisect_right(positions, p["at"]) - 1)
        slot = gaps.get(r, 0)
        gaps[r] = slot + 1
        title = (
            f"{c['description']} (process {c['process']}) takes effect #{p['order']} of {placed}:"
            f" state {p['before']} → {p['after']}"
        )
        out.append(Point(c["id"], lane[c["process"]], r, slot, 0, p["order"], title))
    for pt in out:
        pt.slots = gaps[pt.rank]
    return out


def replay_command(e: dict[str, Any]) -> str:
    """The `seam check` line that re-checks the shrunk sub-history with the same model."""
    argv = [
        "seam",
        "check",
        str(e.get("history") or "SHRUNK.jsonl"),
        "--model",
        str(e.get("model")),
    ]
    if e.get("independent"):
        argv.append("--independent")
    initial = e.get("initial")
    if isinstance(initial, (int, float, str)) and not isinstance(initial, bool):
        text = json.dumps(initial)
        argv += ["--initial", text if isinstance(initial, (int, float)) else f"'{text}'"]
    return " ".join(argv)


def label_px(label: str) -> float:
    """How wide a bar must be to hold ``label`` in the bars' monospace font."""
    return len(label) * CHAR_PX + PAD


def columns(lay: Layout) -> list[float]:
    """The x of every event rank (and of the right edge, at index ``lay.ranks``).

    One pass left to right: a rank sits at least ``STEP`` (and room for the
    linearization points drawn in the gap before it) after the previous one,
    and far enough right that every bar ending there holds its label.
    """
    ending: dict[int, list[Bar]] = {}
    for b in lay.bars:
        ending.setdefault(b.end, []).append(b)
    slots: dict[int, int] = {}
    for p in lay.points:
        slots[p.rank] = max(slots.get(p.rank, 0), p.slots)
    xs = [float(LEFT)]
    for r in range(1, lay.ranks + 1):
        gap = max(STEP, POINT_STEP * (slots.get(r - 1, 0) + 1))
        x = xs[-1] + gap
        for b in ending.get(r, []):
            x = max(x, xs[b.start] + label_px(b.label))
        xs.append(x)
    return xs


def _svg_geometry(lay: Layout, n: int) -> dict[str, Any]:
    xs = columns(lay)
    right = xs[-1] + STEP
    bars = []
    for b in lay.bars:
        x0 = xs[b.start]
        x1 = right if b.crashed else xs[b.end]
        bars.append(
            {
                "x": x0,
                "y": 6 + b.lane * LANE,
                "w": x1 - x0,
                "cls": b.cls,
                "crashed": b.crashed,
                "letter": b.letter,
                "label": b.label[len(b.letter) + 2 :] if b.letter else b.label,
                "title": b.title,
                "anchor": f"fail-{n}" if b.cls == "failing" else None,
                "id": b.id,
            }
        )
    points = [
        {
            "x": round(
                xs[p.rank] + (xs[p.rank + 1] - xs[p.rank]) * (p.slot + 1) / (p.slots + 1), 1
            ),
            "y": 6 + p.lane * LANE,
            "title": p.title,
            "id": p.id,
            "order": p.order,
        }
        for p in lay.points
    ]
    return {
        "n": n,
        "heading": lay.heading,
        "meta": lay.meta,
        "narrative": lay.narrative,
        "width": round(right + 20),
        "height": 12 + LANE * max(1, len(lay.processes)),
        "left": LEFT,
        "names": NAMES,
        "lanes": [{"process": p, "y": 6 + i * LANE} for i, p in enumerate(lay.processes)],
        "bars": bars,
        "points": points,
        "ops": lay.ops,
        "history": lay.history,
        "replay": lay.replay,
        "font_px": FONT_PX,
    }


def render_html(
    explanations: Iterable[Any], path: str | Path, *, title: str = "Linearizability: failures"
) -> Path:
    """Write one page with every failing key's narrative and timeline."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    timelines = [_svg_geometry(layout(e), n) for n, e in enumerate(explanations, start=1)]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        env.get_template("linear.html.j2").render(title=title, timelines=timelines),
        encoding="utf-8",
    )
    return path


_COLORS = {"failing": "#e74c3c", "shrunk": "#f5c36b", "linearized": "#b9d7f0", "other": "#dfe6ee"}


def render_png(explanation: Any, path: str | Path) -> Path:
    """Draw the same timeline as a PNG (matplotlib, Agg backend, loaded only here)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lay = layout(explanation)
    n = max(1, len(lay.processes))
    width = min(24.0, max(6.0, 1.6 + 0.45 * (lay.ranks + 1)))
    per_rank = (width - 1.6) / (lay.ranks + 1)  # inches per event position
    fig, ax = plt.subplots(figsize=(width, 1.0 + 0.45 * n))
    try:
        for b in lay.bars:
            length = (b.end - b.start) + (1.0 if b.crashed else 0.5)
            ax.barh(
                b.lane,
                max(0.4, length),
                left=b.start,
                height=0.6,
                color=_COLORS[b.cls],
                edgecolor="#7b1d14" if b.cls == "failing" else "#555",
                linestyle="--" if b.crashed else "-",
                linewidth=1.6 if b.cls in ("failing", "shrunk") else 0.6,
            )
            if b.cls in ("failing", "shrunk") or length * per_rank >= 0.06 * len(b.label):
                ax.text(
                    b.start + 0.1, b.lane, b.label, va="center", ha="left", fontsize=7, clip_on=True
                )
        ax.set_yticks(range(n), [f"process {p}" for p in lay.processes])
        ax.invert_yaxis()
        ax.set_xlim(-0.5, lay.ranks + 1)
        ax.set_xlabel("history order (invokes and returns)")
        ax.set_title(lay.heading, fontsize=10)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        fig.tight_layout()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)
    return path


def render_all(
    explanations: Sequence[Any], out_dir: str | Path, *, title: str = "Linearizability: failures"
) -> list[Path]:
    """``linear.html`` with every failure, plus ``linear-<n>.png`` per failure (n from 1)."""
    out = Path(out_dir)
    files = [render_html(explanations, out / "linear.html", title=title)]
    for n, e in enumerate(explanations, start=1):
        files.append(render_png(e, out / f"linear-{n}.png"))
    return files
