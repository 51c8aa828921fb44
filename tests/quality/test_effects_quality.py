"""effects.py catches every planted lost, duplicated or unbalanced effect, and nothing on a clean twin."""

from __future__ import annotations

from pathlib import Path

from checkers.pipeline.effects import EffectsChecker
from harness.core.stored import StoredTest
from tests.quality.fixtures.planted import PlantedRun

#: The test of an orders run, as the checkers read it (test.json's options).
ORDERS = StoredTest(options={"workload": "orders"})


def shop(
    tmp_path: Path,
    *,
    refunds: int = 1,
    charges: int = 1,
    refund_amount: float = 75,
    restocks: int = 1,
) -> PlantedRun:
    """Four orders: completed, completed then cancelled, declined (failed), completed.
    The keyword arguments plant a deviation in the cancelled order (order-2)."""
    run = PlantedRun(tmp_path)
    run.complete("order-1", amount=50, qty=2)
    run.complete("order-2", amount=75, home="n2", charges=charges)
    run.cancel("order-2", amount=refund_amount, home="n2", refunds=refunds, restocks=restocks)
    run.place(
        "order-3", amount=20_000
    )  # above the decline limit: reserve, rejected charge, restock
    run.step("n2", "order-3", "saga", "created", 1)
    run.step("n2", "order-3", "reserve", "started", 1)
    run.ledger("n3", "inventory", "reserve", "order-3", 1, sku="sku-a", qty=1)
    run.step("n2", "order-3", "reserve", "done", 1)
    run.step("n2", "order-3", "charge", "started", 1)
    run.step("n2", "order-3", "charge", "rejected", 1)
    run.step("n2", "order-3", "restock", "started", 1)
    run.ledger("n3", "inventory", "restock", "order-3", 1, sku="sku-a", qty=1, reserve_seq=0)
    run.step("n2", "order-3", "restock", "done", 1)
    run.step("n2", "order-3", "saga", "failed", 1)
    run.complete("order-4", amount=10)
    run.settle()
    return run


def check(run: PlantedRun, **kw):
    return EffectsChecker(**kw).check(ORDERS, run.history(), run.root)


def fingerprints(result) -> list[str]:
    return sorted(a.fingerprint for a in result.anomalies)


def test_clean_shop_is_valid(tmp_path):
    result = check(shop(tmp_path))
    assert result.valid is True, [a.summary for a in result.anomalies]
    assert result.stats["settled"] == 4 and result.stats["in_flight"] == []
    assert result.stats["rows"]["refund"] == 1 and result.stats["outcomes"]["failed"] == 1


def test_double_refund_is_a_duplicate_effect_naming_the_order_rows_and_ops(tmp_path):
    run = shop(tmp_path, refunds=2)
    result = check(run)
    assert result.valid is False
    assert fingerprints(result) == ["conservation/money", "duplicate-effect/refund"]
    dup = next(a for a in result.anomalies if a.kind == "duplicate-effect")
    assert dup.details["order"] == "order-2" and dup.details["count"] == 2
    assert [r["op"] for r in dup.details["rows"]] == ["refund", "refund"]
    assert all(
        r["source"].startswith("nodes/n2/payment.ledger.jsonl:") for r in dup.details["rows"]
    )
    assert dup.details["same_key"] is False  # the refund-without-key signature
    cancel_ops = [o.index for o in run.ops if o.f == "cancel"]
    place_ops = [
        o.index for o in run.ops if o.f == "place" and o.value.get("order_id") == "order-2"
    ]
    assert set(cancel_ops) | set(place_ops) == set(dup.ops)
    money = next(a for a in result.anomalies if a.kind == "conservation")
    assert money.details["difference"] == -75 and money.details["orders"][0]["order"] == "order-2"


def test_lost_refund_is_a_lost_effect(tmp_path):
    result = check(shop(tmp_path, refunds=0))
    assert fingerprints(result) == ["conservation/money", "lost-effect/refund"]
    lost = next(a for a in result.anomalies if a.kind == "lost-effect")
    assert lost.details["order"] == "order-2" and lost.details["saga"]["state"] == "cancelled"


def test_double_charge_and_lost_restock(tmp_path):
    assert "duplicate-effect/charge" in fingerprints(check(shop(tmp_path / "a", charges=2)))
    assert fingerprints(check(shop(tmp_path / "b", restocks=0))) == [
        "conservation/stock",
        "lost-effect/restock",
    ]


def test_a_refund_of_the_wrong_amount_breaks_only_conservation(tmp_path):
    result = check(shop(tmp_path, refund_amount=70))
    assert fingerprints(result) == ["conservation/money"]
    assert result.anomalies[0].details["difference"] == 5


def test_a_stalled_saga_is_lost_but_a_recent_one_is_in_flight(tmp_path):
    def run_with_stuck(root: Path, late: bool) -> PlantedRun:
        run = PlantedRun(root)
        run.complete("order-1")
        run.place("order-stuck")
        run.step("n2", "order-stuck", "saga", "created", 1)
        run.step("n2", "order-stuck", "reserve", "started", 1)
        run.ledger("n1", "inventory", "reserve", "order-stuck", 1, sku="sku-a", qty=1)
        run.tick(30)  # the orchestrator keeps working on other orders for 30 s
        run.complete("order-2")
        if late:
            run.step("n2", "order-stuck", "reserve", "resend", 1)  # still being retried at the end
        run.settle()
        return run

    stalled = check(run_with_stuck(tmp_path / "stalled", late=False))
    # the stuck order also still holds its reserved stock
    assert fingerprints(stalled) == ["conservation/stock", "lost-effect/order"]
    lost = next(a for a in stalled.anomalies if a.kind == "lost-effect")
    assert "stuck in running" in lost.summary and lost.details["order"] == "order-stuck"
    recent = check(run_with_stuck(tmp_path / "recent", late=True))
    assert recent.valid is True and recent.stats["in_flight"] == ["order-stuck"]


def test_an_acknowledged_order_the_saga_never_saw_is_lost_after_the_grace(tmp_path):
    run = PlantedRun(tmp_path)
    run.complete("order-1")
    run.place("order-ghost")
    run.settle(seconds=10)
    assert fingerprints(check(run)) == ["lost-effect/order"]
    assert check(run, grace=60).stats["in_flight"] == ["order-ghost"]


def test_no_artifacts_is_unknown_not_valid(tmp_path):
    run = shop(tmp_path)
    result = EffectsChecker().check(None, run.history(), None)
    assert result.valid == "unknown" and "ledgers" in result.error
