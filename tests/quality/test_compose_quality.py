"""The pipeline checkers composed: a checker that raises is unknown with its error; the rest still judge."""

from __future__ import annotations

from checkers.compose import compose
from harness.targets.pipeline.checkers import pipeline_checkers, register_checkers
from tests.quality.fixtures.planted import PlantedRun


def test_corrupt_ledger_makes_its_readers_unknown_and_the_others_still_judge(tmp_path):
    run = PlantedRun(tmp_path)
    run.complete("order-1")
    run.complete("order-2")
    run.settle()
    ledger = tmp_path / "nodes" / "n1" / "payment.ledger.jsonl"
    lines = ledger.read_text().splitlines()
    ledger.write_text(lines[0] + "\n{not json\n" + lines[1] + "\n")

    result = compose(pipeline_checkers()).check(None, run.history(), tmp_path)
    assert result.valid == "unknown"
    effects = result.stats["effects"]
    assert effects["valid"] == "unknown"
    assert (
        "nodes/n1/payment.ledger.jsonl:2" in effects["error"]
        and "ArtifactError" in effects["error"]
    )
    assert result.stats["causal"]["valid"] is True and result.stats["perf"]["valid"] is True


def test_a_checker_that_raises_is_unknown_with_the_error(tmp_path):
    class Broken:
        def check(self, test, history, artifacts):
            raise ZeroDivisionError("planted")

    run = PlantedRun(tmp_path)
    run.complete("order-1")
    run.settle()
    checkers = {**pipeline_checkers(), "broken": Broken()}
    result = compose(checkers).check(None, run.history(), tmp_path)
    assert result.valid == "unknown"
    assert result.stats["broken"] == {
        "valid": "unknown",
        "anomalies": [],
        "stats": {},
        "files": [],
        "error": "ZeroDivisionError: planted",
    }
    assert result.stats["effects"]["valid"] is True


def test_planted_double_refund_fails_the_composed_orders_verdict(tmp_path):
    run = PlantedRun(tmp_path)
    run.complete("order-1")
    run.cancel("order-1", refunds=2)
    run.settle()
    for n in run.nodes:
        run.final_metrics(n, {"counters": {}, "gauges": {}, "histograms": {}})
    result = compose(pipeline_checkers()).check(
        {}, run.history(), tmp_path
    )
    assert result.valid is False
    assert {a.fingerprint for a in result.anomalies} == {
        "duplicate-effect/refund",
        "conservation/money",
    }
    assert [name for name, r in result.stats.items() if r["valid"] is not True] == ["effects"]


def test_register_checkers_need_no_artifacts(tmp_path):
    run = PlantedRun(tmp_path)
    run.call("write", ["k", 1])
    run.call("read", ["k", None], "ok", ["k", 1])
    result = compose(register_checkers()).check(None, run.history(), None)
    assert result.valid is True, result.error
    assert set(result.stats) == {"linearizable", "stale-read", "quorum", "signals", "perf"}
