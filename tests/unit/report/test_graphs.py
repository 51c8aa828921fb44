"""The numbers behind the graphs: signal series, retry rates, the timeline's sampling."""

from __future__ import annotations

import math
from typing import Any

import pytest

from checkers.report.graphs import SIGNALS, retry_rates, signal_series
from checkers.report.model import Pair
from checkers.report.timeline import select_calls


def _scrape(t: float, gauges: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "time": t,
        "node": "n1",
        "metrics": {"gauges": gauges, "counters": {}, "histograms": {}, **extra},
    }


def test_signal_series_breaks_the_line_where_the_node_did_not_answer() -> None:
    lag = next(s for s in SIGNALS if s.title == "consumer lag")
    rows = [
        _scrape(0.0, {"consumer_lag": 1}),
        {"time": 1.0, "node": "n1", "error": "GET ...: timed out after 1 s"},
        _scrape(2.0, {"consumer_lag": 7}),
    ]
    xs, ys = signal_series(
        {"n1": rows, "n2": [{"time": 0.0, "node": "n2", "error": "refused"}]}, lag.read
    )["n1"]
    assert xs == [0.0, 1.0, 2.0]
    assert ys[0] == 1 and math.isnan(ys[1]) and ys[2] == 7


def test_signal_series_leaves_out_nodes_that_never_reported_the_signal() -> None:
    p99 = next(s for s in SIGNALS if s.title == "quorum read p99")
    rows = [_scrape(0.0, {}), _scrape(1.0, {}, histograms={"store_read_seconds": {"p99": 0.25}})]
    assert signal_series({"n1": rows[:1]}, p99.read) == {}
    assert signal_series({"n1": rows}, p99.read)["n1"] == ([1.0], [250.0])


def test_retry_budget_panel_reads_the_worst_downstream() -> None:
    budget = next(s for s in SIGNALS if s.threshold == "retry_budget")
    snap = {
        "gauges": {
            'retry_budget_used_percent{downstream="a"}': 12.5,
            'retry_budget_used_percent{downstream="b"}': 70.0,
        }
    }
    assert budget.read(snap) == 70.0
    assert budget.read({"gauges": {}}) is None


def test_retry_rates_are_per_second_and_survive_a_restart() -> None:
    rows = [
        _scrape(0.0, {"retry_first_attempts": 0, "retry_retries": 0}),
        _scrape(1.0, {"retry_first_attempts": 10, "retry_retries": 30}),
        _scrape(2.0, {"retry_first_attempts": 4, "retry_retries": 1}),  # the node restarted
    ]
    rates = retry_rates({"n1": rows, "n2": rows})
    assert rates["first attempts"] == {1: 20.0, 2: 8.0}
    assert rates["retries"] == {1: 60.0, 2: 2.0}
    assert rates["shed retries"] == {}


def _pair(i: int) -> Pair:
    return Pair(0, "read", "ok", i * 0.01, i * 0.01 + 0.005, 2 * i, 2 * i + 1)


@pytest.mark.parametrize("limit", [10, 100])
def test_timeline_sampling_keeps_every_anomalous_call(limit: int) -> None:
    pairs = [_pair(i) for i in range(1000)]
    marked = {501, 1500, 1998}  # a completion, another completion, an invoke
    chosen = select_calls(pairs, marked, limit=limit)
    assert len(chosen) <= limit + 3
    assert {p.invoke_index for p in chosen} >= {500, 1500, 1998}
    assert [p.invoke_index for p in chosen] == sorted(p.invoke_index for p in chosen)
    assert select_calls(pairs[:5], marked, limit=limit) == pairs[:5]
