"""Fault intervals, read from the nemesis ops of a history by their own fields.

Every op a nemesis package schedules carries two extra fields (they travel in
``Op.extra`` and into history.jsonl): ``fault``, the fault's name, and
``phase``, one of

* ``start``: the op begins a fault that lasts until a ``stop`` op of the same
  fault name is invoked;
* ``stop``: the op ends every open fault of that name (a stop with nothing
  open, such as a final heal, ends nothing);
* ``pulse``: the op is a whole fault by itself (a clock strobe: it flips the
  clock and resets it before it completes), over when the op completes.

So readers of a history (the signals checker, the report) need no table of
fault names: a fault added to ``nemesis/`` shows up in both by writing those
two fields. Histories written before the fields existed fall back to the
naming convention ``start-<name>`` / ``stop-<name>``; other nemesis ops of
such histories are not faults to this module.

``fault_spans`` returns the raw facts (when the start was invoked, when it
completed and how, when it was stopped); each reader decides what its
interval is, e.g. the signals checker starts at the invoke, the report at the
completion (when the fault was surely in place).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.core.op import NEMESIS, Op

START, STOP, PULSE = "start", "stop", "pulse"
PHASES = (START, STOP, PULSE)

NS = 1e9


@dataclass
class FaultSpan:
    """One fault as the history shows it. Times are seconds since the run began.

    ``ended`` is the invoke of the stop (for a pulse: the completion of the op
    itself); ``None`` when the history ends with the fault still on. A span
    whose start completed with ``fail`` never happened (``failed``), and no
    stop ends it.
    """

    fault: str
    f: str
    value: Any
    began: float
    invoke: int | None = None
    applied: float | None = None
    applied_value: Any = None
    ended: float | None = None
    ops: list[int] = field(default_factory=list)
    failed: bool = False
    pulse: bool = False
    healed: float | None = None  # the stop's completion: surely gone from here on


def fault_phase(row: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(fault name, phase)`` of a nemesis op row, or None if it is no fault's op."""
    name, phase = row.get("fault"), row.get("phase")
    if isinstance(name, str) and name and phase in PHASES:
        return name, str(phase)
    f = str(row.get("f") or "")
    for prefix, legacy in (("start-", START), ("stop-", STOP)):
        if f.startswith(prefix) and len(f) > len(prefix) and name is None:
            return f[len(prefix) :], legacy
    return None


def _row(op: Op | Mapping[str, Any]) -> Mapping[str, Any]:
    return op.to_json() if isinstance(op, Op) else op


def _seconds(row: Mapping[str, Any]) -> float:
    t = row.get("time")
    return float(t) / NS if isinstance(t, (int, float)) and not isinstance(t, bool) else 0.0


def _index(row: Mapping[str, Any]) -> int | None:
    i = row.get("index")
    return i if isinstance(i, int) and not isinstance(i, bool) else None


class _Spans:
    """The fold behind ``fault_spans``: one nemesis op at a time."""

    def __init__(self) -> None:
        self.spans: list[FaultSpan] = []
        self.open: dict[str, list[FaultSpan]] = {}  # fault name -> started, not stopped
        self.awaiting: dict[str, FaultSpan] = {}  # fault name -> start invoked, not completed
        self.stopping: dict[str, list[FaultSpan]] = {}  # fault name -> stop invoked, not completed

    def invoke(self, row: Mapping[str, Any], name: str, phase: str) -> None:
        if phase == STOP:
            stopped = self.open.pop(name, [])
            for span in stopped:
                span.ended = _seconds(row)
                if (i := _index(row)) is not None:
                    span.ops.append(i)
            self.stopping[name] = stopped
            return
        span = self._new(row, name, phase)
        self.awaiting[name] = span
        if phase == START:
            self.open.setdefault(name, []).append(span)

    def complete(self, row: Mapping[str, Any], name: str, phase: str) -> None:
        if phase == STOP:
            for stopped in self.stopping.pop(name, []):
                stopped.healed = _seconds(row)
            return
        span = self.awaiting.pop(name, None)
        if span is None:  # a completion whose invoke the history lost: the fault begins here
            span = self._new(row, name, phase)
            if phase == START:
                self.open.setdefault(name, []).append(span)
        span.applied = _seconds(row)
        span.applied_value = row.get("value", span.value)
        if (i := _index(row)) is not None and i not in span.ops:
            span.ops.append(i)
        if row.get("type") == "fail":  # the nemesis says it definitely did not happen
            span.failed = True
            if span in self.open.get(name, []):
                self.open[name].remove(span)
        elif phase == PULSE:
            span.ended = span.applied

    def _new(self, row: Mapping[str, Any], name: str, phase: str) -> FaultSpan:
        i = _index(row)
        span = FaultSpan(
            name,
            str(row.get("f")),
            row.get("value"),
            _seconds(row),
            i,
            ops=[] if i is None else [i],
        )
        span.pulse = phase == PULSE
        self.spans.append(span)
        return span


def fault_spans(ops: Iterable[Op | Mapping[str, Any]]) -> list[FaultSpan]:
    """Every fault of a history, in the order its start was seen.

    ``ops`` are ``Op``s or history.jsonl rows; client ops are skipped. The
    nemesis runs one op at a time, so a start's completion is the next
    completion of that fault name.
    """
    fold = _Spans()
    for op in ops:
        if (op.process if isinstance(op, Op) else op.get("process")) != NEMESIS:
            continue
        row = _row(op)
        found = fault_phase(row)
        if found is None:
            continue
        if row.get("type") == "invoke":
            fold.invoke(row, *found)
        else:
            fold.complete(row, *found)
    return fold.spans


def _window(span: FaultSpan) -> tuple[float, float | None]:
    """When a fault may have been in place: from its start's invoke (the rules go in while
    the op runs) to its stop's completion, else the stop's invoke (None: still on when the
    history ended). Wide on purpose: an anomaly while a partition was going up is not
    one "with no fault active"."""
    return span.began, span.healed if span.healed is not None else span.ended


def attribute(spans: Iterable[FaultSpan], start: float, end: float) -> dict[str, Any]:
    """Which faults were active while something happened from ``start`` to ``end`` (s).

    ``during`` is the names of the active faults, or "no fault active"; ``active``
    lists each with its value and interval; ``since_change`` is how long before
    ``start`` the last fault began or ended (None: no fault had begun yet), so a
    stale read 0.2 s into a run with the first fault at 5 s says plainly that no
    fault can be blamed for it.
    """
    active, changes = [], []
    for span in spans:
        if span.failed:
            continue
        began, ended = _window(span)
        if began <= end and (ended is None or ended >= start):
            active.append({"fault": span.fault, "value": span.applied_value if span.applied_value is not None
                           else span.value, "from": round(began, 3),
                           "to": None if ended is None else round(ended, 3)})
        changes += [t for t in (began, ended) if t is not None and t <= start]
    names = sorted({a["fault"] for a in active})
    return {
        "during": ", ".join(names) if names else "no fault active",
        "active": active,
        "since_change": round(start - max(changes), 3) if changes else None,
    }


class FaultTimeline:
    """A history's fault spans and op times, read once, to attribute many anomalies.

    ``epoch_wall`` is the wall-clock time (seconds since the epoch) of the history's
    time zero, when the run recorded it: an anomaly's ``wall`` (when a node did it, by
    its clock) then counts as well as its ops."""

    def __init__(self, ops: Iterable[Op], epoch_wall: float | None = None):
        ops = list(ops)
        self.spans = fault_spans(ops)
        self.when = {op.index: op.time / NS for op in ops}
        self.epoch_wall = epoch_wall

    def _times(self, anomaly: Any) -> list[float]:
        named = anomaly.get("ops") if isinstance(anomaly, dict) else getattr(anomaly, "ops", None)
        times = [self.when[i] for i in named or [] if isinstance(i, int) and i in self.when]
        wall = anomaly.get("wall") if isinstance(anomaly, dict) else getattr(anomaly, "wall", None)
        if self.epoch_wall is not None and isinstance(wall, (list, tuple)):
            times += [float(w) - self.epoch_wall for w in wall if isinstance(w, (int, float))]
        return times

    def attribute_all(self, anomalies: Iterable[Any]) -> dict[str, int]:
        """Set ``faults`` on every anomaly (an ``Anomaly`` or a results.json row) that names
        ops or a wall time (``attribute`` over their span: from the first invoke to the
        last completion, widened to when a node did it); return how many anomalies
        happened during each set of faults, e.g. {"partition": 12, "no fault active": 3}."""
        counts: dict[str, int] = {}
        for anomaly in anomalies:
            times = self._times(anomaly)
            if not times:
                continue
            found = attribute(self.spans, min(times), max(times))
            if isinstance(anomaly, dict):  # a row of results.json
                anomaly["faults"] = found
            else:
                anomaly.faults = found
            counts[found["during"]] = counts.get(found["during"], 0) + 1
        return counts


def attribute_all(anomalies: Iterable[Any], ops: Iterable[Op]) -> dict[str, int]:
    """``FaultTimeline(ops).attribute_all(anomalies)``, for one list of anomalies."""
    return FaultTimeline(ops).attribute_all(anomalies)
