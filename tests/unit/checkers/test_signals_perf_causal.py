"""signals.py series and fault intervals, perf.py numbers, causal.py ties, the registry."""

from __future__ import annotations

import json

import pytest

from checkers.perf import PerfChecker
from checkers.pipeline.causal import CausalChecker
from checkers.pipeline.signals import Fault, Thresholds, attribute, combine, faults, node_series
from harness.core.op import History, Op


def test_counter_rate_per_second_and_a_restart_resets_it():
    scrapes = [{"time": t, "c": v} for t, v in ((0.0, 0), (1.0, 4), (3.0, 10), (4.0, 2))]
    pts = node_series(scrapes, lambda s: s["c"], rate=True)
    assert pts == [
        (1.0, 4.0),
        (3.0, 3.0),
        (4.0, 2.0),
    ]  # 4/s, 6 over 2 s, then a restart: 2 since it


def test_combine_max_sum_and_leader_churn():
    per_node = {
        "n1": [(0.1, 1.0), (1.1, 1.0), (2.1, 3.0)],
        "n2": [(0.2, 1.0), (1.2, 2.0), (2.2, 3.0)],
    }
    assert combine(per_node, "max") == [(0.2, 1.0), (1.2, 2.0), (2.2, 3.0)]
    assert combine(per_node, "sum") == [(0.2, 2.0), (1.2, 3.0), (2.2, 6.0)]
    # max term per second 1, 2, 3: one change each second after the first
    assert [v for _, v in combine(per_node, "churn")] == [0.0, 1.0, 1.0]


def nem(i, t, typ, f, value=None, fault=None, phase=None):
    extra = {"fault": fault, "phase": phase} if fault else {}
    return Op(i, int(t * 1e9), "nemesis", typ, f, value, extra=extra)


def test_fault_intervals_pair_starts_with_the_stop_of_the_same_fault():
    ops = [
        nem(0, 1, "invoke", "kill", {"node": "n1"}, "kill", "start"),
        nem(1, 1.2, "info", "kill", {"node": "n1"}, "kill", "start"),
        nem(2, 2, "invoke", "bump", {"node": "n2", "seconds": 5}, "clock", "start"),
        nem(3, 2.1, "info", "bump", None, "clock", "start"),
        nem(4, 4, "invoke", "start", None, "kill", "stop"),
        nem(5, 4.5, "info", "start", None, "kill", "stop"),
        nem(6, 6, "invoke", "reset", None, "clock", "stop"),
        nem(7, 6.1, "info", "reset", None, "clock", "stop"),
        nem(8, 7, "invoke", "start-loss", None, "loss", "start"),
        nem(9, 7.1, "info", "start-loss", None, "loss", "start"),
        nem(10, 7.5, "invoke", "strobe", {"node": "n1"}, "strobe", "pulse"),
        nem(11, 8.5, "info", "strobe", {"node": "n1"}, "strobe", "pulse"),
        nem(12, 9, "invoke", "start-pause", None, "pause", "start"),
        nem(13, 9.1, "fail", "start-pause", None, "pause", "start"),
        nem(14, 9.2, "invoke", "reset", None, "strobe", "stop"),  # a final heal: ends nothing
        nem(15, 9.3, "info", "reset", None, "strobe", "stop"),
    ]
    found = faults(History(ops))
    assert [(f.fault, f.f, f.start, f.end, f.ops) for f in found] == [
        ("kill", "kill", 1.0, 4.0, [0, 1, 4]),
        ("clock", "bump", 2.0, 6.0, [2, 3, 6]),
        ("loss", "start-loss", 7.0, 9.3, [8, 9]),  # never healed: lasts to the end (9.3 s)
        ("strobe", "strobe", 7.5, 8.5, [10, 11]),  # a pulse: over when its op completes
        ("pause", "start-pause", 9.0, 9.0, [12, 13]),  # failed: no interval
    ]
    assert [f.failed for f in found] == [False, False, False, False, True]


def test_fault_intervals_of_a_history_without_fault_fields_follow_start_and_stop_names():
    ops = [
        nem(0, 1, "invoke", "start-partition", "halves"),
        nem(1, 1.1, "info", "start-partition", "halves"),
        nem(2, 3, "invoke", "stop-partition"),
        nem(3, 3.1, "info", "stop-partition"),
    ]
    assert [(f.fault, f.start, f.end) for f in faults(History(ops))] == [("partition", 1.0, 3.0)]


def test_attribution_skips_signals_already_above_before_the_fault():
    series = {
        name: {"t": [0.5, 1.5, 2.5], "value": [0.0, 0.0, 0.0]}
        for name in (
            "consumer_lag",
            "quorum_write_p99",
            "quorum_read_p99",
            "leader_churn",
            "retry_budget",
            "duplicate_key_hits",
            "retries",
            "first_attempts",
        )
    }
    series["consumer_lag"]["value"] = [50.0, 50.0, 50.0]
    series["retry_budget"]["value"] = [0.0, 0.0, 80.0]
    fault = Fault("start-partition", None, 1.0, 2.0)
    attribute(fault, series, Thresholds())
    assert fault.already_above == ["consumer_lag"]
    assert (fault.first, fault.after_seconds) == ("retry_budget", 1.5)
    fault2 = Fault("start-partition", None, 1.0, 1.0)
    attribute(fault2, series, Thresholds(settle=0.5))
    assert fault2.first is None  # the budget crossed after the settle window


def test_perf_latency_percentiles_rates_points_and_bands():
    ops = []
    for i in range(100):  # read latencies 1..100 ms, one op every 10 ms
        t = i * 10_000_000
        ops += [
            Op(2 * i, t, 0, "invoke", "read", None),
            Op(2 * i + 1, t + (i + 1) * 1_000_000, 0, "ok", "read", 1, extra={"node": f"n{1 + i % 2}"}),
        ]
    ops += [
        Op(200, 2_000_000_000, 1, "invoke", "write", 1),
        Op(201, 2_500_000_000, 1, "info", "write", 1),
    ]
    ops += [
        nem(202, 0.5, "invoke", "start-partition", None, "partition", "start"),
        nem(203, 0.6, "info", "start-partition", None, "partition", "start"),
        nem(204, 1.5, "invoke", "stop-partition", None, "partition", "stop"),
        nem(205, 1.6, "info", "stop-partition", None, "partition", "stop"),
    ]
    stats = PerfChecker(max_points=10).check(None, History(ops), None).stats
    read = stats["latency"]["read/ok"]
    assert read["count"] == 100 and read["max_ms"] == 100.0
    assert read["p50_ms"] == pytest.approx(50.5) and read["p99_ms"] == pytest.approx(99.01)
    assert stats["latency"]["write/info"]["p50_ms"] == 500.0
    assert stats["series"]["rate"]["read/ok"]["per_second"] == [91, 9, 0]  # completions per whole second
    assert stats["by_node"] == {"?": {"info": 1}, "n1": {"ok": 50}, "n2": {"ok": 50}}
    points = stats["series"]["points"]
    assert len(points) <= 11 and points[0][:2] == [0.0, 1.0]
    assert [(b["f"], b["start"], b["end"]) for b in stats["nemesis"]] == [
        ("start-partition", 0.5, 1.5)
    ]


def test_equal_stamps_are_ties_not_inversions(tmp_path):
    d = tmp_path / "nodes" / "n1"
    d.mkdir(parents=True)
    rows = [
        {
            "order_id": "o",
            "seq": i,
            "step": s,
            "phase": p,
            "ts": [1000, 0, "n1"],
            "wall": 1.0,
            "node": "n1",
            "term": 1,
        }
        for i, (s, p) in enumerate((("saga", "created"), ("reserve", "started")))
    ]
    rows.append(
        {
            "order_id": "o",
            "seq": 2,
            "step": "reserve",
            "phase": "done",
            "ts": [1000, 0, "n0"],
            "wall": 1.0,
            "node": "n0",
            "term": 1,
        }
    )
    (d / "saga-steps.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = CausalChecker().check(None, History([]), tmp_path)
    assert result.stats["stamp_ties"] == 1
    [a] = (
        result.anomalies
    )  # n0 < n1 breaks the tie the wrong way: sorted by stamp, done precedes started
    assert a.fingerprint == "causal-inversion/reserve/reserve"


def test_causal_without_step_logs_is_unknown(tmp_path):
    (tmp_path / "nodes" / "n1").mkdir(parents=True)
    result = CausalChecker().check(None, History([]), tmp_path)
    assert result.valid == "unknown" and "saga-steps.jsonl" in result.error


def test_registry_and_the_workloads_references_resolve():
    from harness.spec import TestSpec
    from harness.targets.pipeline.checkers import pipeline_checkers, register_checkers

    assert list(pipeline_checkers()) == [
        "effects",
        "fencing",
        "causal",
        "quorum",
        "stock",
        "signals",
        "perf",
    ]
    assert list(register_checkers()) == ["linearizable", "stale-read", "quorum", "signals", "perf"]
    # the workloads compose exactly these
    from harness.targets.pipeline.workloads import WORKLOADS

    orders = WORKLOADS["orders"].checker(TestSpec(workload="orders"))
    register = WORKLOADS["register"].checker(TestSpec())
    assert list(orders.checkers) == list(pipeline_checkers())
    assert list(register.checkers) == list(register_checkers())
