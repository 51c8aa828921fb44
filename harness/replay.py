"""``seam test --replay RUN_DIR``: run a stored test again with its seed and its fault schedule.

A found anomaly is only useful if it can be retried against a fix. The seed
alone does not bring the faults back: a schedule drawn from the seed
depends on when the nemesis thread was asked, and a scenario aims at the
node that led at that moment. So the replay does not draw faults at all.
It reads every nemesis op the stored run invoked (``history.jsonl``, the
same ops that ``nemesis.jsonl`` ledgers) and offers each again at the
offset it was invoked at, with the same ``f``, value and fault fields.
A value that names a role (``{"role": "leader"}``) is aimed again at
whichever node holds that role in the replay, as the schedule asked.

Offsets are nanoseconds since the run's time zero, as in every history,
and an op's ``time`` means "not before" to the interpreter: a fault is
never early, and late only when the nemesis is still busy with the one
before. ``closeness`` says how late, per fault, so a replay that drifted
is visible in ``results.json`` (``run.replay``) and on the command line.
The stored run's final heal comes after its main phase and falls outside
the replay's time limit; the replay runs its own final heal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.core.errors import InputError
from harness.core.faults import FaultSpan, fault_spans
from harness.core.op import NEMESIS, Op
from harness.spec import TestSpec

#: A fault started later than this after its stored offset counts as a drifted replay.
TOLERANCE_S = 1.0

#: Fields of a recorded op that the interpreter sets again; everything else is the op itself.
_RECORDED = ("index", "time", "process", "type")


@dataclass(frozen=True)
class Replay:
    """A stored run, ready to run again: its options and its nemesis ops at their offsets."""

    source: Path
    spec: TestSpec
    templates: tuple[dict[str, Any], ...]  # generator templates, each with its stored ``time``
    original: tuple[FaultSpan, ...] = field(default_factory=tuple)

    def schedule(self) -> Any:
        """The stored nemesis ops as a generator on the nemesis thread, each not before its offset."""
        from harness.generator import nemesis

        return nemesis([dict(t) for t in self.templates])

    def describe(self) -> dict[str, Any]:
        """For test.json: which run this replays, and how many nemesis ops it offers again."""
        return {"of": str(self.source), "seed": self.spec.seed, "nemesis_ops": len(self.templates),
                "faults": len(self.original)}

    def closeness(self, history: Iterable[Op | Mapping[str, Any]]) -> dict[str, Any]:
        """How close the replay's faults came to the stored ones; see ``compare``."""
        return {"of": str(self.source), **compare(self.original, fault_spans(history))}


def load(run_dir: str | Path) -> Replay:
    """The Replay of a stored run directory; InputError naming the file and the fix otherwise."""
    from harness.formats import load as load_history
    from harness.recover import load_run

    path = Path(run_dir)
    stored = load_run(path)
    if not stored.options:
        raise InputError(f"{path / 'test.json'}: no options in it; replay a run directory that `seam test` wrote")
    spec = TestSpec.from_json(stored.options)
    if spec.scenario:
        spec.nemesis = []  # the scenario brings its faults back when the plan is built
    history = path / "history.jsonl"
    if not history.is_file():
        raise InputError(f"{history}: missing; a run directory holds history.jsonl (results/<test>/<time>/)")
    ops = list(load_history(history))
    templates = tuple(template_of(op) for op in ops if op.process == NEMESIS and op.type == "invoke")
    if (spec.nemesis or spec.scenario) and not templates:
        raise InputError(f"{history}: the run had faults ({', '.join(spec.nemesis or [spec.scenario or ''])}) "
                         "but no nemesis op was recorded, so there is no schedule to replay; "
                         "run it again with --seed instead")
    return Replay(path, spec, templates, tuple(fault_spans(ops)))


def template_of(op: Op) -> dict[str, Any]:
    """A recorded nemesis invoke as a generator template: the same op, not before the same offset."""
    row = op.to_json()
    template = {k: v for k, v in row.items() if k not in _RECORDED}
    template["time"] = op.time
    return template


def compare(original: Iterable[FaultSpan], replayed: Iterable[FaultSpan]) -> dict[str, Any]:
    """Per fault, the start offset of the stored run, of the replay, and the difference.

    Faults are paired by name and order (the second pause with the second
    pause), so one missing fault does not shift every other pair. A stored
    fault the replay never started is ``missing``; a replay fault with no
    stored partner is ``extra``. ``within`` is true when every stored fault
    was started again within ``TOLERANCE_S``.
    """
    by_name: dict[str, list[FaultSpan]] = {}
    for span in replayed:
        by_name.setdefault(span.fault, []).append(span)
    rows: list[dict[str, Any]] = []
    missing = 0
    for span in original:
        partners = by_name.get(span.fault)
        again = partners.pop(0) if partners else None
        if again is None:
            missing += 1
        rows.append(_row(span, again))
    extra = sum(len(spans) for spans in by_name.values())
    differences = [abs(r["difference"]) for r in rows if r["difference"] is not None]
    worst = max(differences, default=0.0)
    return {
        "faults": rows,
        "matched": len(differences),
        "missing": missing,
        "extra": extra,
        "max_difference": round(worst, 3),
        "tolerance": TOLERANCE_S,
        "within": missing == 0 and worst <= TOLERANCE_S,
    }


def _row(span: FaultSpan, again: FaultSpan | None) -> dict[str, Any]:
    return {
        "fault": span.fault,
        "f": span.f,
        "original": round(span.began, 3),
        "replay": None if again is None else round(again.began, 3),
        "difference": None if again is None else round(again.began - span.began, 3),
        "same_value": None if again is None else again.value == span.value,
    }


def summary(closeness: Mapping[str, Any]) -> str:
    """One line for the terminal: how many faults came back, and the worst drift."""
    matched, total = closeness["matched"], closeness["matched"] + closeness["missing"]
    verdict = "within" if closeness["within"] else "NOT within"
    text = (f"replay: {matched}/{total} faults started again, largest offset difference "
            f"{closeness['max_difference']:.3f}s ({verdict} {closeness['tolerance']:g}s)")
    if closeness["extra"]:
        text += f", {closeness['extra']} extra"
    return text
