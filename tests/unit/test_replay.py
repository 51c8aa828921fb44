"""--replay's pure parts: stored nemesis ops become a schedule at their offsets, whatever
the seed, and the closeness report pairs faults by name and order."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.core.faults import fault_spans
from harness.core.op import Op
from harness.generator import any_of, clients, repeat, simulate, stagger, time_limit
from harness.generator.nemesis_schedule import schedule
from harness.replay import Replay, compare, summary, template_of
from harness.spec import TestSpec

NODES = ["n1", "n2", "n3", "n4", "n5"]


@dataclass
class FakePackage:
    """A fault whose start op aims at a node drawn from the schedule's seeded rng."""

    name: str
    stop: dict[str, Any] = field(init=False)
    final: list[dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        self.stop = {"f": f"stop-{self.name}", "value": None, "fault": self.name, "phase": "stop"}
        self.final = [self.stop]

    def start(self, rng: random.Random) -> dict[str, Any]:
        return {"f": f"start-{self.name}", "value": {"node": rng.choice(NODES)}, "fault": self.name, "phase": "start"}


def _run(nemesis_gen: Any, seed: int) -> list[Op]:
    workload = stagger(0.1, repeat({"f": "read", "value": None}))
    return simulate(time_limit(12, any_of(nemesis_gen, clients(workload))), concurrency=3, seed=seed)


def _nemesis_invokes(history: list[Op]) -> list[tuple[int, str, Any]]:
    return [(op.time, op.f, op.value) for op in history if op.process == "nemesis" and op.type == "invoke"]


def test_the_replayed_schedule_is_the_stored_one_under_any_seed() -> None:
    drawn = schedule([FakePackage("pause"), FakePackage("partition")], interval=1.5, concurrency=2)
    stored = _run(drawn, seed=1)
    other_seed = _nemesis_invokes(_run(drawn, seed=2))
    assert _nemesis_invokes(stored) != other_seed  # the seed decides the drawn faults

    templates = tuple(template_of(op) for op in stored if op.process == "nemesis" and op.type == "invoke")
    replay = Replay(Path("results/register/x"), TestSpec(seed=1), templates, tuple(fault_spans(stored)))
    replayed = _run(replay.schedule(), seed=2)
    assert _nemesis_invokes(replayed) == _nemesis_invokes(stored)
    assert all(op.extra.get("fault") for op in replayed if op.process == "nemesis")
    closeness = replay.closeness(replayed)
    assert closeness["within"] and closeness["max_difference"] == 0.0 and closeness["missing"] == 0
    assert closeness["matched"] == len([s for s in fault_spans(stored)]) >= 6


def test_template_of_keeps_the_op_and_its_offset_and_drops_what_the_interpreter_sets() -> None:
    op = Op(41, 5_000_000_123, "nemesis", "invoke", "start-partition", {"n1": ["n2"]}, False,
            {"fault": "partition", "phase": "start"})
    assert template_of(op) == {"f": "start-partition", "value": {"n1": ["n2"]}, "fault": "partition",
                               "phase": "start", "time": 5_000_000_123}


def _fault(t: float, name: str, value: Any = None) -> list[dict[str, Any]]:
    at = int(t * 1e9)
    return [{"process": "nemesis", "type": "invoke", "time": at, "f": f"start-{name}", "value": value,
             "fault": name, "phase": "start"},
            {"process": "nemesis", "type": "info", "time": at + 1000, "f": f"start-{name}", "value": value,
             "fault": name, "phase": "start"}]


def test_compare_pairs_faults_by_name_and_order_and_reports_drift_missing_and_extra() -> None:
    original = fault_spans(_fault(2, "pause", {"node": "n1"}) + _fault(4, "kill") + _fault(6, "pause"))
    replayed = fault_spans(_fault(2.3, "pause", {"node": "n2"}) + _fault(7.5, "pause") + _fault(9, "clock"))
    got = compare(original, replayed)
    rows = [(r["fault"], r["original"], r["replay"], r["difference"], r["same_value"]) for r in got["faults"]]
    assert rows == [("pause", 2.0, 2.3, 0.3, False), ("kill", 4.0, None, None, None), ("pause", 6.0, 7.5, 1.5, True)]
    assert (got["matched"], got["missing"], got["extra"], got["max_difference"]) == (2, 1, 1, 1.5)
    assert got["within"] is False
    assert summary(got) == ("replay: 2/3 faults started again, largest offset difference 1.500s "
                            "(NOT within 1s), 1 extra")
    assert compare(original, original)["within"] is True
