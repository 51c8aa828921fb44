"""Pictures of transactional cycles: one small PNG per cycle kind.

Reads only the explanation data the transactional checker stores with a
cycle anomaly (``details``: ``cycle``, ``txns``, ``steps``; see
``checkers.txn.explain``), never the checker. Each picture is the cycle as a
graph: a vertex per transaction (T1, T2, ... as the narrative names them,
with its op index), an arrow per step labelled with its relation (``ww``,
``wr``, ``rw``, ``process``, ``realtime``) and the key it is about. Vertices
sit on a circle (networkx's circular layout): a cycle reads round it.
Arrows are arcs, so the two edges of a two-transaction cycle do not overlap.

One picture per kind (the first cycle of each): the narrative already
explains every cycle in words; the picture shows the shape of a kind.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["COLORS", "cycle_cases", "picture_name", "render_all"]

#: One colour per relation, so a kind's shape (how many rw, adjacent or not) shows at a glance.
COLORS = {"ww": "#1f77b4", "wr": "#2a9d41", "rw": "#d62728", "process": "#7f7f7f", "realtime": "#9467bd"}
DPI = 100


def cycle_cases(anomalies: Iterable[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(kind, details) of the first cycle anomaly of each kind, in the order given.

    ``anomalies`` are results.json rows or ``Anomaly.to_json()`` dicts: a cycle is
    one whose details hold ``cycle`` and ``steps``."""
    first: dict[str, dict[str, Any]] = {}
    for a in anomalies:
        d = a.get("details")
        if isinstance(d, dict) and isinstance(d.get("cycle"), list) and isinstance(d.get("steps"), list):
            first.setdefault(str(a.get("kind")), d)
    return list(first.items())


def picture_name(kind: str) -> str:
    """``cycle-G2-item.png``: the kind, kept to file-name characters."""
    return "cycle-" + re.sub(r"[^A-Za-z0-9_-]+", "_", kind) + ".png"


def render_all(anomalies: Iterable[dict[str, Any]], out: Path) -> list[Path]:
    """One PNG per cycle kind in ``anomalies``, written to ``out``; the paths."""
    cases = cycle_cases(anomalies)
    if not cases:
        return []
    out.mkdir(parents=True, exist_ok=True)
    return [draw(kind, details, out / picture_name(kind)) for kind, details in cases]


def layout(details: dict[str, Any]) -> tuple[list[int], dict[int, tuple[float, float]]]:
    """The cycle's op indices in order, and a position for each (a circle, first at the top)."""
    import networkx as nx

    ops = [int(o) for o in details["cycle"]]
    g = nx.DiGraph()
    g.add_nodes_from(ops)
    g.add_edges_from((int(s["from"]), int(s["to"])) for s in details["steps"])
    # a unit circle holds about 6 circles with room for an arrow between; a longer cycle gets a wider one
    scale = max(1.0, len(ops) * 0.95 / (2 * 3.14159))
    pos = nx.circular_layout(g, scale=scale)  # counterclockwise from the right, in node order
    # swap the axes: clockwise from the top, so T1 sits at the top and the cycle reads round
    return ops, {op: (float(pos[op][1]), float(pos[op][0])) for op in ops}


def edge_label(step: dict[str, Any]) -> str:
    """``rw x`` / ``process`` / ``realtime``: the relation and, for data edges, its key."""
    t = str(step.get("type"))
    return f"{t} {step['key']}" if "key" in step and t in ("ww", "wr", "rw") else t


def draw(kind: str, details: dict[str, Any], path: Path) -> Path:
    """Draw one cycle (see module) to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch

    ops, pos = layout(details)
    names = {op: f"T{i + 1}" for i, op in enumerate(ops)}
    types = {int(t["op"]): str(t.get("type", "")) for t in details.get("txns", []) if isinstance(t, dict)}
    reach = max(max(abs(x), abs(y)) for x, y in pos.values()) + 0.45
    side = 4.2 * max(1.0, reach / 1.45)
    fig, ax = plt.subplots(figsize=(side, side), dpi=DPI)
    try:
        for s in details["steps"]:
            a, b = pos[int(s["from"])], pos[int(s["to"])]
            colour = COLORS.get(str(s.get("type")), "#333333")
            ax.add_patch(FancyArrowPatch(a, b, connectionstyle="arc3,rad=-0.25", arrowstyle="-|>",
                                         mutation_scale=16, color=colour, lw=1.8, shrinkA=26, shrinkB=26))
            # arcs bow outwards (away from the circle's centre); the label sits just outside the arc's middle
            mx, my = (a[0] + b[0]) / 2, (a[1] + b[1]) / 2
            dx, dy = b[0] - a[0], b[1] - a[1]
            ax.text(mx - 0.22 * dy, my + 0.22 * dx, edge_label(s), color=colour, ha="center", va="center",
                    fontsize=9, bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85})
        for op, (x, y) in pos.items():
            ax.add_patch(plt.Circle((x, y), 0.25, fc="#fdf6e3", ec="#555555", lw=1.2))
            extra = "" if types.get(op, "ok") == "ok" else f"\n{types[op]}"
            ax.text(x, y, f"{names[op]}\nop {op}{extra}", ha="center", va="center", fontsize=7.5)
        ax.set_title(f"{kind}: {len(ops)} transactions", fontsize=10)
        ax.set_xlim(-reach, reach)
        ax.set_ylim(-reach, reach)
        ax.set_aspect("equal")
        ax.axis("off")
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path
