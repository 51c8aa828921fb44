"""set.png: every element of the set workload over time, lost ones in red, faults behind them.

Reads only the set checker's ``points`` (``checkers.set_full``: per element
its add's invoke and completion, when it was first seen, since when it was
missing, its outcome), never the history again. The top panel puts each
element at the time its add began (x) against its number (y, which grows
with time, so the adds form a rising band), coloured by what became of it:
a lost element is a larger red dot, so a fault that lost writes shows as a
red stretch of the band inside its shaded interval. The bottom panel is the latency-to-visibility histogram: how long
after its acknowledgement each element was first seen.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from checkers.report.model import RunData, checker_results

#: Outcome -> (colour, label), drawn in this order (lost last, on top).
STYLE = {
    "stable": ("#2a9d41", "seen to the end"),
    "stale": ("#ff9f1c", "missed by a read, seen later (stale)"),
    "recovered": ("#1f77b4", "add of unknown outcome, seen later"),
    "unseen": ("#b0b0b0", "add of unknown outcome, never seen"),
    "never-read": ("#9467bd", "no read after it"),
    "failed": ("#dddddd", "add failed"),
    "lost": ("#d62728", "LOST: acknowledged or seen, then gone"),
}


def set_points(data: RunData) -> dict[str, Any] | None:
    """The set checker's per-element points, if the run had one."""
    for r in checker_results(data.results).values():
        stats = r.get("stats") if isinstance(r, dict) else None
        points = stats.get("points") if isinstance(stats, dict) else None
        if isinstance(points, dict) and isinstance(points.get("rows"), list) and points["rows"]:
            return {"rows": points["rows"]}
    return None


def render(data: RunData, path: Path) -> Path | None:
    """Write set.png, or None when the run has no set checker's points."""
    from checkers.report.graphs import _plt, _save, _title, shade_faults

    found = set_points(data)
    if found is None:
        return None
    rows = [r for r in found["rows"] if isinstance(r, list) and len(r) == 6 and isinstance(r[1], (int, float))]
    if not rows:
        return None
    plt = _plt()
    horizon = max(data.horizon, max(float(r[1]) for r in rows))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 7.5), gridspec_kw={"height_ratios": [3, 1.2]})
    shade_faults(top, data.bands, horizon)
    for outcome, (colour, label) in STYLE.items():
        mine = [r for r in rows if r[5] == outcome]
        if not mine:
            continue
        lost = outcome == "lost"
        top.scatter([r[1] for r in mine], [_y(r[0]) for r in mine], s=14 if lost else 4, color=colour,
                    label=f"{label} ({len(mine)})", lw=0, zorder=3 if lost else 2, rasterized=True)
    top.set_xlim(0, horizon)
    top.set_xlabel("time since the run began (s): when the add was invoked")
    top.set_ylabel("element")
    top.legend(loc="upper left", fontsize=8, framealpha=0.85)
    top.grid(alpha=0.3)
    _visibility(bottom, rows)
    _title(fig, "Set elements over time (red: lost; shaded: faults)", data.bands)
    return _save(fig, path)


def _y(element: Any) -> float:
    return float(element) if isinstance(element, (int, float)) else 0.0


def _visibility(ax: Any, rows: list[list[Any]]) -> None:
    lat = [max(0.0, float(r[3]) - float(r[2])) * 1000 for r in rows
           if isinstance(r[2], (int, float)) and isinstance(r[3], (int, float)) and r[5] != "unseen"]
    if not lat:
        ax.text(0.5, 0.5, "no acknowledged element was ever seen", ha="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    ax.hist(lat, bins=60, color="#4e79a7")
    ax.set_yscale("log")
    ax.set_xlabel("ms from acknowledgement to the first read that saw it")
    ax.set_ylabel("elements")
    ax.grid(alpha=0.3)

