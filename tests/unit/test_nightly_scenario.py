"""The nightly scenarios: every scenario of a workload composed into one round."""

from __future__ import annotations

import pytest

from harness.targets.base import Scenario
from harness.targets.pipeline.scenarios import KILL_BREAK, SCENARIOS, WARM_UP, nightly


def part(name: str, round_: tuple, options: dict | None = None, exposes: dict | None = None) -> Scenario:
    return Scenario(name, name, "orders", round_, exposes or {}, "proof", options or {}, {"rate": 30.0})


def test_every_orders_scenario_and_flag_is_in_the_orders_nightly_round() -> None:
    night = SCENARIOS["nightly-orders"]
    parts = [s for s in SCENARIOS.values() if s.workload == "orders" and not s.name.startswith("nightly-")]
    assert {f for s in parts for f in s.exposes} == set(night.exposes)
    assert {f for s in parts for f in s.faults} | {"kill"} == set(night.faults)
    for s in parts:
        for fault, options in s.options.items():
            assert night.options[fault] == options
    cycle = night.lead_in + sum(step for step in night.round if not isinstance(step, tuple))
    assert night.defaults["time_limit"] >= cycle  # the default run covers one whole cycle


def test_rounds_run_in_order_with_a_kill_between_and_options_merge() -> None:
    a = part("a", (1.0, ("stall", "start", None), 2.0, ("stall", "stop", None)),
             {"stall": {"op": "ship"}}, {"bug-a": "kind-a"})
    b = part("b", (("down", "start", None), 3.0, ("down", "stop", None)), {"down": {"op": "charge"}})
    night = nightly("orders", [a, b])
    assert night.round == (*a.round, *KILL_BREAK, *b.round, *KILL_BREAK)
    assert night.lead_in == WARM_UP  # once, before the first cycle, not every cycle
    assert night.options == {"stall": {"op": "ship"}, "down": {"op": "charge"}}
    assert night.exposes == {"bug-a": "kind-a"} and night.defaults["rate"] == 30.0


def test_two_scenarios_that_set_one_fault_differently_are_refused() -> None:
    a = part("a", (("stall", "start", None),), {"stall": {"op": "ship"}})
    b = part("b", (("stall", "start", None),), {"stall": {"op": "replica-put"}})
    with pytest.raises(ValueError, match="stall options"):
        nightly("orders", [a, b])
