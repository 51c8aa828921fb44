"""causal.py: a skewed new leader under wall-clock stamps inverts the saga; the HLC does not."""

from __future__ import annotations

from pathlib import Path

from checkers.pipeline.causal import CausalChecker
from harness.core.stored import StoredTest
from tests.quality.fixtures.planted import PlantedRun

#: The test of an orders run, as the checkers read it (test.json's options).
ORDERS = StoredTest(options={"workload": "orders"})

SKEW_MS = -5_000  # n3's clock runs 5 s behind


def failover(root: Path, *, wall_clock_order: bool) -> PlantedRun:
    """n2 (term 1) reserves and charges order-9, then loses its lease; n3 (term 2, clock
    5 s behind) ships it. A second order is cancelled by n3 after n2 completed it."""
    run = PlantedRun(root)
    kw = {"wall_clock_order": wall_clock_order}
    run.place("order-9")
    run.step("n2", "order-9", "saga", "created", 1, **kw)
    for step in ("reserve", "charge"):
        run.step("n2", "order-9", step, "started", 1, **kw)
        run.step("n2", "order-9", step, "done", 1, **kw)
    run.step("n3", "order-9", "ship", "started", 2, skew_ms=SKEW_MS, **kw)
    run.step("n3", "order-9", "ship", "done", 2, skew_ms=SKEW_MS, **kw)
    run.step("n3", "order-9", "saga", "completed", 2, skew_ms=SKEW_MS, **kw)
    run.settle()
    return run


def check(run: PlantedRun):
    return CausalChecker().check(ORDERS, run.history(), run.root)


def test_hlc_keeps_causal_order_and_the_skew_is_still_shown(tmp_path):
    result = check(failover(tmp_path, wall_clock_order=False))
    assert result.valid is True, [a.summary for a in result.anomalies]
    [skew] = result.stats["wall_disagreements"]  # only the hand-over pair crosses nodes
    assert (skew["before"], skew["after"], skew["nodes"]) == (
        "charge/done",
        "ship/started",
        ["n2", "n3"],
    )
    assert skew["hlc_ordered"] is True and 4.9 < skew["behind_seconds"] < 5.0
    assert result.stats["max_wall_skew_by_nodes"].keys() == {"n2->n3"}


def test_wall_clock_stamps_invert_charge_and_ship(tmp_path):
    run = failover(tmp_path, wall_clock_order=True)
    result = check(run)
    assert result.valid is False
    [a] = result.anomalies
    assert a.kind == "causal-inversion" and a.fingerprint == "causal-inversion/charge/ship"
    assert a.details["order"] == "order-9" and a.details["terms"] == [1, 2]
    assert a.details["stamp_order"][0] == "ship/started"  # ordered by stamp, shipping comes first
    assert a.details["causal_order"].index("charge/done") < a.details["causal_order"].index(
        "ship/started"
    )
    assert a.ops == [0, 1]  # the place of order-9


def test_compensation_stamped_before_its_cause_is_an_inversion(tmp_path):
    run = PlantedRun(tmp_path)
    run.complete("order-1", leader="n2", term=1)
    kw = {"wall_clock_order": True}
    run.step("n2", "order-1", "saga", "cancel-requested", 1, **kw)
    run.step("n3", "order-1", "cancel-ship", "started", 2, skew_ms=SKEW_MS, **kw)
    result = check(run)
    [a] = result.anomalies
    assert a.fingerprint == "causal-inversion/saga/cancel-ship"
    assert "compensates after saga/cancel-requested" in a.details["rule"]
