"""harness.core.faults: fault spans from a history's own fields, with no table of names."""

from __future__ import annotations

from harness.core.faults import fault_phase, fault_spans
from harness.core.op import Op


def row(i, t, typ, f, fault=None, phase=None, value=None, process="nemesis"):
    r = {"index": i, "time": int(t * 1e9), "process": process, "type": typ, "f": f, "value": value}
    return r if fault is None else {**r, "fault": fault, "phase": phase}


def test_fault_phase_reads_the_fields_and_falls_back_to_start_stop_names():
    assert fault_phase({"f": "bump", "fault": "clock", "phase": "start"}) == ("clock", "start")
    assert fault_phase({"f": "start-meteor"}) == ("meteor", "start")
    assert fault_phase({"f": "stop-meteor"}) == ("meteor", "stop")
    assert fault_phase({"f": "bump"}) is None  # an old clock op: not a fault to this module
    assert fault_phase({"f": "start-x", "fault": "x", "phase": "sideways"}) is None


def test_a_new_fault_needs_nothing_but_its_fields():
    spans = fault_spans(
        [
            row(0, 1, "invoke", "quake", "earthquake", "start"),
            row(1, 2, "invoke", "read", process=0),
            row(2, 1.5, "info", "quake", "earthquake", "start", value={"magnitude": 7}),
            row(3, 4, "invoke", "calm", "earthquake", "stop"),
            row(4, 4.1, "info", "calm", "earthquake", "stop"),
        ]
    )
    [s] = spans
    assert (s.fault, s.f, s.began, s.applied, s.ended, s.ops) == (
        "earthquake",
        "quake",
        1.0,
        1.5,
        4.0,
        [0, 2, 3],
    )
    assert s.applied_value == {"magnitude": 7} and not s.failed and not s.pulse


def test_ops_and_rows_give_the_same_spans_and_a_lone_completion_begins_a_fault():
    rows = [
        row(0, 1, "info", "start-partition", "partition", "start"),
        row(1, 2, "invoke", "stop-partition", "partition", "stop"),
    ]
    ops = [
        Op(
            r["index"],
            r["time"],
            r["process"],
            r["type"],
            r["f"],
            r["value"],
            extra={"fault": r["fault"], "phase": r["phase"]},
        )
        for r in rows
    ]
    assert fault_spans(rows) == fault_spans(ops)
    [s] = fault_spans(rows)
    assert (s.invoke, s.began, s.applied, s.ended) == (0, 1.0, 1.0, 2.0)
