"""fencing.py: a stale token that lands is caught; a stale token that was rejected is the proof log."""

from __future__ import annotations

from pathlib import Path

from checkers.pipeline.fencing import FencingChecker
from harness.core.stored import StoredTest
from tests.quality.fixtures.planted import PlantedRun

#: The test of an orders run, as the checkers read it (test.json's options).
ORDERS = StoredTest(options={"workload": "orders"})


def paused_leader(root: Path, *, fenced: bool) -> PlantedRun:
    """Leader n2 (term 1) takes its token for order-5's ship and pauses; n3 wins term 2,
    cancels order-5 (a void cancel-ship raises shipping's token to 2); n2 wakes and ships.
    With the fence the ship is rejected; with fence-after-write it lands late."""
    run = PlantedRun(root)
    run.complete("order-1", home="n1", leader="n2", term=1)
    run.place("order-5")
    run.step("n2", "order-5", "saga", "created", 1)
    run.step("n2", "order-5", "reserve", "started", 1)
    run.ledger("n1", "inventory", "reserve", "order-5", 1, sku="sku-a", qty=1)
    run.step("n2", "order-5", "reserve", "done", 1)
    run.step("n2", "order-5", "charge", "started", 1)
    run.ledger("n1", "payment", "charge", "order-5", 1, amount=50)
    run.step("n2", "order-5", "charge", "done", 1)
    run.step("n2", "order-5", "ship", "started", 1)  # token 1 taken; SIGSTOP here
    run.tick(3)
    run.call("cancel", {"order_id": "order-5"})
    run.step("n3", "order-5", "saga", "cancel-requested", 2)
    run.step("n3", "order-5", "cancel-ship", "started", 2)
    run.ledger("n1", "shipping", "cancel", "order-5", 2, void=True)
    run.step("n3", "order-5", "cancel-ship", "done", 2)
    if fenced:
        run.reject("n1", "shipping", "ship:order-5", 1, 2)
    else:
        run.ledger("n1", "shipping", "ship", "order-5", 1, shipment="shp-order-5", late=True)
    run.settle()
    return run


def check(run: PlantedRun):
    return FencingChecker().check(ORDERS, run.history(), run.root)


def test_rejected_stale_token_is_valid_and_listed_as_proof(tmp_path):
    result = check(paused_leader(tmp_path, fenced=True))
    assert result.valid is True, [a.summary for a in result.anomalies]
    [rej] = result.stats["rejected"]
    assert (rej["node"], rej["ledger"], rej["key"], rej["token"], rej["highest"]) == (
        "n1",
        "shipping",
        "ship:order-5",
        1,
        2,
    )
    terms = [(t["term"], t["node"]) for t in result.stats["terms"]]
    assert terms == [(1, "n2"), (2, "n3")]
    assert [s["token"] for s in result.stats["tokens"]["n1/shipping"]] == [1, 2]


def test_stale_token_that_landed_is_a_stale_fenced_write(tmp_path):
    run = paused_leader(tmp_path, fenced=False)
    result = check(run)
    assert result.valid is False
    [a] = result.anomalies
    assert a.kind == "stale-fenced-write" and a.fingerprint == "stale-fenced-write/ship"
    assert (a.details["token"], a.details["highest_before"], a.details["order"]) == (
        1,
        2,
        "order-5",
    )
    assert a.details["row"]["shipment"] == "shp-order-5"
    assert a.details["stale"]["source"] == "nodes/n1/shipping.fence.jsonl:3"
    order5 = {
        o.index
        for o in run.ops
        if isinstance(o.value, dict) and o.value.get("order_id") == "order-5"
    }
    assert set(a.ops) == order5 and a.ops


def test_without_fence_logs_the_ledger_order_still_shows_the_stale_write(tmp_path):
    run = paused_leader(tmp_path, fenced=False)
    for f in (tmp_path / "nodes").glob("*/*.fence.jsonl"):
        f.unlink()
    assert [a.fingerprint for a in check(run).anomalies] == ["stale-fenced-write/ship"]
