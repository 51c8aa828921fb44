"""Timelines of non-linearizable keys: one HTML page and one PNG per failure.

Reads only explanation data (``Explanation.to_json()``, i.e. a
``nonlinearizable`` anomaly's ``details``), never the checker. The x axis is
history order, not wall time: the order of ops in the history *is* the
real-time order, and times in foreign histories are not even monotone. A
crashed call's bar runs to the right edge, dashed: it may take effect at any
point after its invoke, or never.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checkers.linearizable.narrate import ops_label

#: Horizontal pixels per distinct event position (an invoke or a return).
UNIT = 34
LEFT = 96
LANE = 28


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


def _data(explanation: Any) -> dict[str, Any]:
    return explanation.to_json() if hasattr(explanation, "to_json") else dict(explanation)


def _process_order(p: Any) -> tuple[int, Any]:
    return (0, p) if isinstance(p, int) else (1, str(p))


def layout(explanation: Any, narrative: str | None = None) -> Layout:
    """Lay out the window of calls around one failure."""
    e = _data(explanation)
    window = e.get("window") or e.get("shrunk") or []
    failing = (e.get("failing") or {}).get("id")
    shrunk = {c["id"] for c in e.get("shrunk") or []}
    prefix = {c["id"] for c in e.get("prefix") or []}
    positions = sorted(
        {c["call"] for c in window} | {c["ret"] for c in window if c["ret"] is not None}
    )
    rank = {p: i for i, p in enumerate(positions)}
    processes = sorted({c["process"] for c in window}, key=_process_order)
    lane = {p: i for i, p in enumerate(processes)}
    bars = []
    for c in window:
        cls = (
            "failing"
            if c["id"] == failing
            else "shrunk"
            if c["id"] in shrunk
            else "linearized"
            if c["id"] in prefix
            else "other"
        )
        end = len(positions) if c["ret"] is None else rank[c["ret"]]
        where = ops_label(c["invoke"], c.get("complete"))
        state = " (crashed)" if c["crashed"] else ""
        bars.append(
            Bar(
                c["process"],
                lane[c["process"]],
                rank[c["call"]],
                end,
                c["crashed"],
                cls,
                c["description"],
                f"process {c['process']}: {c['description']}{state}, {where}",
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
    )


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


def _svg_geometry(lay: Layout) -> dict[str, Any]:
    width = LEFT + (lay.ranks + 1) * UNIT + 20
    bars = [
        {
            "x": LEFT + b.start * UNIT,
            "y": 6 + b.lane * LANE,
            "w": max(UNIT // 2, (b.end - b.start) * UNIT + (UNIT if b.crashed else UNIT // 2)),
            "cls": b.cls,
            "crashed": b.crashed,
            "label": b.label,
            "title": b.title,
        }
        for b in lay.bars
    ]
    return {
        "heading": lay.heading,
        "meta": lay.meta,
        "narrative": lay.narrative,
        "width": width,
        "height": 12 + LANE * max(1, len(lay.processes)),
        "left": LEFT,
        "lanes": [{"process": p, "y": 6 + i * LANE} for i, p in enumerate(lay.processes)],
        "bars": bars,
        "ops": lay.ops,
        "history": lay.history,
        "replay": lay.replay,
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
    timelines = [_svg_geometry(layout(e)) for e in explanations]
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
