"""What a report is drawn from: one run as plain data, shared by every renderer.

``RunData`` is a stored run (DESIGN section 5) read into plain data: the
results, the history rows, its client calls as ``Pair``s (paired by the one
rule in ``harness.core.op``), its faults as ``Band``s and the scraped metrics.
``render`` builds it and hands it to the renderers (``graphs``, ``timeline``,
``html``); they import this module and never ``render``, so a renderer can be
imported, tested and run on its own. Only data and the small readers of
``results.json`` that several renderers share live here; nothing here draws.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from harness.core.op import pairs, row_fields

__all__ = [
    "NS",
    "PALETTE",
    "Band",
    "Pair",
    "RunData",
    "anomalies_of",
    "anomalous_ops",
    "checker_results",
    "fault_colour",
    "op_seconds",
    "pair_ops",
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

    ``type`` is the completion's type, or ``"open"`` when the call never
    completed: the history ends first (the control node crashed or was
    stopped), or its process invoked again (a torn history).
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


def pair_ops(ops: Sequence[dict[str, Any]]) -> list[Pair]:
    """Client calls in invoke order, paired by ``harness.core.op.pairs`` (the rule every
    checker uses): nemesis ops are faults, not calls, and are left out; an invoke
    never completed (the history ends first, or its process invoked again in a
    torn history) is an ``open`` call.
    """
    return [_pair(p.invoke, p.completion) for p in pairs(ops, row_fields)]


_CORE = {"index", "time", "process", "type", "f", "value"}


def _pair(invoke: dict[str, Any], done: dict[str, Any] | None) -> Pair:
    extra = {k: v for k, v in (done or invoke).items() if k not in _CORE}
    return Pair(
        process=invoke.get("process"),
        f=str((done or invoke).get("f", "?")),
        type=str(done.get("type")) if done else "open",
        start=op_seconds(invoke),
        end=op_seconds(done) if done else None,
        invoke_index=int(invoke.get("index", -1)),
        complete_index=int(done.get("index", -1)) if done else None,
        value=(done or invoke).get("value"),
        extra=extra,
    )


def op_seconds(op: dict[str, Any]) -> float:
    """An op row's ``time`` in seconds since the run began (0 when it has none)."""
    t = op.get("time")
    return float(t) / NS if isinstance(t, (int, float)) else 0.0


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
