"""timeline.html: every client call per process over wall time, faults as bands.

One lane per process (a process retires after an ``info``, so a crash-heavy
run has many short lanes, as in Jepsen). A call is a bar from its invoke to
its completion, coloured by outcome; a call still open when the history ends
runs to the right edge, dashed. Calls named by an anomaly are outlined in red
and carry ``id="op-<index>"`` for both of their op indices, so the report
links straight to them. The page is one static SVG with no script.

Unlike ``linear.py`` (history order, for one key's proof), the x axis here is
time since the run began: this page is for seeing faults and their effect.
"""

from __future__ import annotations

import json
import math
from html import escape
from pathlib import Path
from typing import Any

from checkers.report.model import Band, Pair, RunData, anomalies_of, anomalous_ops

__all__ = ["MAX_CALLS", "render", "select_calls"]

#: Calls drawn at most; beyond that the page samples (keeping every anomalous call).
MAX_CALLS = 20_000
LEFT, TOP, LANE, BAR = 110, 34, 18, 13
FILL = {"ok": "#8fd19e", "fail": "#f4a3a3", "info": "#ffd28a", "open": "#d9d9d9"}


def select_calls(pairs: list[Pair], marked: set[int], limit: int = MAX_CALLS) -> list[Pair]:
    """All calls, or every anomalous call plus an even sample of the rest up to ``limit``."""
    if len(pairs) <= limit:
        return pairs
    keep = [p for p in pairs if marked.intersection(p.indices)]
    rest = [p for p in pairs if not marked.intersection(p.indices)]
    room = max(0, limit - len(keep))
    step = max(1, math.ceil(len(rest) / room)) if room else len(rest) + 1
    chosen = keep + rest[::step]
    chosen.sort(key=lambda p: p.invoke_index)
    return chosen


def _process_key(p: Any) -> tuple[int, Any]:
    return (0, p) if isinstance(p, int) and not isinstance(p, bool) else (1, str(p))


def _tick_step(horizon: float) -> float:
    """A 1-2-5 step giving about 15 ticks."""
    raw = horizon / 15
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    return next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)


def _describe(p: Pair) -> str:
    value = json.dumps(p.value, ensure_ascii=False, default=str)
    took = "" if p.latency is None else f" after {p.latency * 1000:.1f} ms"
    ops = f"op {p.invoke_index}" + ("" if p.complete_index is None else f"-{p.complete_index}")
    extra = "".join(f", {k} {v}" for k, v in p.extra.items() if k in ("node", "error"))
    state = "still open when the history ended" if p.type == "open" else f"{p.type}{took}"
    return f"process {p.process}: {p.f} {value} -> {state} ({ops}, t={p.start:.3f} s{extra})"


def _bar(p: Pair, lane: int, scale: float, horizon: float, marked: bool) -> str:
    x = LEFT + p.start * scale
    end = horizon if p.end is None else p.end
    w = max(2.0, (end - p.start) * scale)
    y = TOP + lane * LANE + (LANE - BAR) / 2
    cls = f"c {p.type}" + (" anomalous" if marked else "")
    label = (
        f'<text x="{x + 3:.1f}" y="{y + 10:.1f}">{escape(p.f)}</text>' if w > 8 * len(p.f) else ""
    )
    body = (
        f'<g class="{cls}" id="op-{p.invoke_index}"><title>{escape(_describe(p))}</title>'
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{BAR}" rx="2"/>{label}</g>'
    )
    if p.complete_index is not None:
        body = f'<g id="op-{p.complete_index}">{body}</g>'
    return body


def _band(b: Band, scale: float, horizon: float, height: float) -> str:
    x = LEFT + b.start * scale
    w = max(2.0, (b.end_or(horizon) - b.start) * scale)
    color = b.colour
    value = "" if b.value is None else " " + json.dumps(b.value, default=str)
    span = f"{b.start:.2f}-{'end' if b.end is None else f'{b.end:.2f}'} s"
    return (
        f'<g class="fault"><title>{escape(f"{b.kind}{value}, {span}")}</title>'
        f'<rect x="{x:.1f}" y="{TOP - 14}" width="{w:.1f}" height="{height + 14:.1f}" fill="{color}" fill-opacity="0.14"/>'
        f'<rect x="{x:.1f}" y="{TOP - 14}" width="{w:.1f}" height="12" fill="{color}" fill-opacity="0.6"/>'
        f'<text x="{x + 2:.1f}" y="{TOP - 4}" class="fl">{escape(b.kind)}</text></g>'
    )


def _svg(pairs: list[Pair], bands: list[Band], marked: set[int], horizon: float) -> tuple[str, int]:
    processes = sorted({p.process for p in pairs}, key=_process_key)
    lane = {p: i for i, p in enumerate(processes)}
    scale = min(400.0, max(1200.0, min(40_000.0, horizon * 80)) / horizon)
    width = int(LEFT + horizon * scale + 20)
    height = LANE * max(1, len(processes))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{TOP + height + 8}">'
    ]
    step = _tick_step(horizon)
    t = 0.0
    while t <= horizon + 1e-9:
        x = LEFT + t * scale
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP - 16}" y2="{TOP + height}" class="tick"/>'
        )
        parts.append(f'<text x="{x + 2:.1f}" y="10" class="tl">{t:g} s</text>')
        t += step
    for p, i in lane.items():
        y = TOP + i * LANE
        parts.append(f'<text x="6" y="{y + 13}" class="lane">process {escape(str(p))}</text>')
        parts.append(
            f'<line x1="{LEFT}" x2="{width}" y1="{y + LANE}" y2="{y + LANE}" class="sep"/>'
        )
    parts.extend(_band(b, scale, horizon, height) for b in bands)
    parts.extend(
        _bar(p, lane[p.process], scale, horizon, bool(marked.intersection(p.indices)))
        for p in pairs
    )
    parts.append("</svg>")
    return "\n".join(parts), width


_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.2em; color: #222; }
.scroll { overflow: auto; border: 1px solid #ddd; max-height: 85vh; }
svg text { font: 10px system-ui, sans-serif; }
.lane { fill: #444; font-weight: 600; } .tl { fill: #666; } .fl { fill: #fff; font-weight: 600; }
.tick { stroke: #eee; } .sep { stroke: #f4f4f4; }
.c rect { stroke: #777; stroke-width: .5; }
.ok rect { fill: #8fd19e; } .fail rect { fill: #f4a3a3; } .info rect { fill: #ffd28a; }
.open rect { fill: #d9d9d9; stroke-dasharray: 3 2; }
.anomalous rect { stroke: #c0392b; stroke-width: 2.5; }
:target rect { stroke: #000; stroke-width: 3; }
.legend span { display: inline-block; padding: 0 .5em; margin-right: .4em; border: 1px solid #999; }
"""


def render(data: RunData, path: Path) -> Path:
    """Write ``path`` (timeline.html) for the run; return it."""
    marked = anomalous_ops(anomalies_of(data.results))
    horizon = data.horizon
    calls = select_calls(data.pairs, marked)
    svg, _ = _svg(calls, data.bands, marked, horizon)
    shown = (
        f"{len(data.pairs)} calls"
        if len(calls) == len(data.pairs)
        else f"{len(calls)} of {len(data.pairs)} calls (every anomalous call, and an even sample of the rest)"
    )
    title = f"Timeline: {data.test.get('name') or data.run_dir.name}"
    legend = (
        "".join(f'<span style="background:{c}">{t}</span>' for t, c in FILL.items())
        + '<span style="border:2.5px solid #c0392b">named by an anomaly</span>'
    )
    colours: dict[str, str] = {}
    for b in data.bands:
        colours.setdefault(b.kind, b.colour)
    faults = "".join(
        f'<span style="background:{c};color:#fff">{escape(k)}</span>' for k, c in colours.items()
    )
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title><style>{_STYLE}</style></head>
<body>
<h1>{escape(title)}</h1>
<p>{escape(shown)} over {horizon:.1f} s, one lane per process; hover a bar for the op. <a href="../report.html">Back to the report</a>.</p>
<p class="legend">{legend}{" faults: " + faults if faults else ""}</p>
<div class="scroll">
{svg}
</div>
</body></html>
"""
    path.write_text(page, encoding="utf-8")
    return path
