"""signals.py: retry amplification and duplicate-key alerts are raised; faults get their first signal."""

from __future__ import annotations

from pathlib import Path

from checkers.pipeline.signals import SignalsChecker, Thresholds
from harness.core.stored import StoredTest
from tests.quality.fixtures.planted import PlantedRun

#: The test of an orders run, as the checkers read it (test.json's options).
ORDERS = StoredTest(options={"workload": "orders"})


def scraped(
    root: Path, *, retries: int, first: int, dup_hits: int, seconds: int = 20
) -> PlantedRun:
    """Three nodes scraped once a second for ``seconds``; a partition from 5 s to 12 s.
    Quorum writes slow down at 6 s, the leader changes at 8 s, consumer lag grows at 9 s.
    n1's retry counters and duplicate-key hits grow linearly to the given totals."""
    run = PlantedRun(root)
    run.at(5.0)
    run.nemesis("start-partition", "halves", fault="partition", phase="start")
    run.at(12.0)
    run.nemesis("stop-partition", fault="partition", phase="stop")
    run.at(float(seconds))
    run.call("read", {"order_id": "order-1"})
    for node in run.nodes:
        for s in range(seconds + 1):
            frac = s / seconds
            leader_term = 1 if s < 8 else 2
            gauges = {
                "election_term": leader_term,
                "consumer_lag": 40 if (node == "n2" and 9 <= s <= 14) else 0,
                "retry_retries": round(retries * frac) if node == "n1" else 0,
                "retry_first_attempts": round(first * frac) if node == "n1" else 0,
                'retry_budget_used_percent{downstream="payment@n1"}': 10.0,
                'retry_retries{downstream="payment@n1"}': round(retries * frac)
                if node == "n1"
                else 0,
            }
            counters = {
                "duplicate_key_hits": round(dup_hits * frac) if node == "n1" else 0,
                'duplicate_key_hits{service="payment"}': round(dup_hits * frac)
                if node == "n1"
                else 0,
            }
            write_p99 = 0.9 if 6 <= s <= 13 else 0.02
            run.scrape(
                node,
                s + 0.01 * int(node[1:]),
                counters=counters,
                gauges=gauges,
                histograms={
                    "store_write_seconds": {
                        "count": s,
                        "sum": 0,
                        "p50": 0.01,
                        "p99": write_p99,
                        "max": 1,
                    },
                    "store_read_seconds": {
                        "count": s,
                        "sum": 0,
                        "p50": 0.01,
                        "p99": 0.02,
                        "max": 0.1,
                    },
                },
            )
    return run


def check(run: PlantedRun, **kw):
    return SignalsChecker(**kw).check(ORDERS, run.history(), run.root)


def test_clean_run_raises_nothing_and_attributes_the_partition(tmp_path):
    result = check(scraped(tmp_path, retries=12, first=200, dup_hits=1))
    assert result.valid is True, [a.summary for a in result.anomalies]
    [fault] = result.stats["faults"]
    assert (fault["f"], fault["start"], fault["end"]) == ("start-partition", 5.001, 12.001)
    assert fault["first"] == "quorum_write_p99" and 0.9 < fault["after_seconds"] < 1.1
    assert 2.9 < fault["crossings"]["leader_churn"] < 3.1
    assert 3.9 < fault["crossings"]["consumer_lag"] < 4.1
    assert 5.9 < fault["crossings"]["duplicate_key_hits"] < 6.1  # the single hit, at 11 s
    assert (
        fault["crossings"]["retry_budget"] is None and fault["crossings"]["quorum_read_p99"] is None
    )
    lag = result.stats["series"]["consumer_lag"]
    assert max(lag["value"]) == 40 and len(lag["t"]) == 21


def test_retry_amplification_is_an_anomaly(tmp_path):
    result = check(scraped(tmp_path, retries=600, first=200, dup_hits=0))
    [a] = result.anomalies
    assert a.kind == "retry-amplification" and a.details["node"] == "n1"
    assert a.severity == "error" and result.valid is False  # unbounded retries overload: a bug
    assert (a.details["retries"], a.details["first_attempts"], a.details["bound"]) == (600, 200, 30)


def test_node_json_retry_budget_is_the_bound(tmp_path):
    run = scraped(tmp_path, retries=600, first=200, dup_hits=0)
    (tmp_path / "nodes" / "n1" / "node.json").write_text(
        '{"retry": {"budget_ratio": 3.0, "budget_floor": 10}}'
    )
    assert check(run).valid is True


def test_duplicate_key_hits_above_the_threshold_raise_an_alert(tmp_path):
    result = check(scraped(tmp_path, retries=12, first=200, dup_hits=40))
    [a] = result.anomalies
    assert a.kind == "duplicate-key-alert" and a.details["total"] == 40
    # An alert by design: reported as a warning, never a failed verdict.
    assert a.severity == "warning" and result.valid is True
    assert a.details["by_service"] == {'{service="payment"}': 40}
    [fault] = result.stats["faults"]
    assert fault["already_above"] == [
        "duplicate_key_hits"
    ]  # 2 hits/s all along, not the fault's doing
    quiet = check(
        scraped(tmp_path / "b", retries=12, first=200, dup_hits=40),
        thresholds=Thresholds(duplicate_key_alert=100),
    )
    assert quiet.valid is True


def test_final_metrics_json_wins_over_the_last_scrape(tmp_path):
    run = scraped(tmp_path, retries=12, first=200, dup_hits=0)
    run.final_metrics("n2", {"counters": {"duplicate_key_hits": 9}, "gauges": {}, "histograms": {}})
    assert [a.kind for a in check(run).anomalies] == ["duplicate-key-alert"]


def _budget_gauges(payment_retries: int, payment_first: int) -> dict:
    """Final gauges of a node whose retries to payment@n2 spend its own budget, while
    inventory's many first attempts would hide them in a run-wide total."""
    return {"counters": {}, "histograms": {}, "gauges": {
        "retry_retries": payment_retries, "retry_first_attempts": payment_first + 2000,
        'retry_retries{downstream="payment@n2"}': payment_retries,
        'retry_first_attempts{downstream="payment@n2"}': payment_first,
        'retry_retries{downstream="inventory@n2"}': 0,
        'retry_first_attempts{downstream="inventory@n2"}': 2000,
    }}


def test_retries_over_one_downstreams_budget_are_amplification_even_when_the_total_looks_fine(tmp_path):
    run = scraped(tmp_path, retries=0, first=200, dup_hits=0)
    run.final_metrics("n1", _budget_gauges(payment_retries=40, payment_first=150))  # bound 0.1*150+10 = 25
    [a] = [a for a in check(run).anomalies if a.kind == "retry-amplification"]
    assert "payment@n2" in a.summary and a.details["over_budget"] == {
        "payment@n2": {"retries": 40.0, "first_attempts": 150.0}}
    # The same retries within that downstream's budget: nothing to say.
    ok = scraped(tmp_path / "ok", retries=0, first=200, dup_hits=0)
    ok.final_metrics("n1", _budget_gauges(payment_retries=25, payment_first=150))
    assert not [a for a in check(ok).anomalies if a.kind == "retry-amplification"]


def burst_run(root: Path, retries_at) -> PlantedRun:
    """One node scraped once a second for 60 s: 20 first attempts to payment@n2 a second,
    and cumulative retries given by ``retries_at(second)``."""
    run = PlantedRun(root)
    run.at(60.0)
    run.call("read", {"order_id": "order-1"})
    for s in range(61):
        first = 20 * s
        gauges = {"retry_retries": retries_at(s), "retry_first_attempts": first,
                  'retry_retries{downstream="payment@n2"}': retries_at(s),
                  'retry_first_attempts{downstream="payment@n2"}': first}
        run.scrape("n1", float(s), gauges=gauges)
    return run


def test_a_burst_of_retries_over_the_budget_in_a_few_seconds_is_amplification(tmp_path):
    """Run-wide 60 retries for 1200 first attempts is within 0.1*1200+10, but 60 retries
    between 20 s and 26 s, when 120 first attempts allow 22, is not: the bucket holds 10."""
    run = burst_run(tmp_path, lambda s: 0 if s < 20 else min(60, 10 * (s - 20)))
    [a] = [a for a in check(run).anomalies if a.kind == "retry-amplification"]
    burst = a.details["over_budget"]["payment@n2"]
    assert burst["retries"] == 60 and burst["first_attempts"] == 120
    assert (burst["from_time"], burst["to_time"]) == (20.0, 26.0)


def test_retries_a_token_bucket_allows_are_never_a_burst_and_a_restart_starts_over(tmp_path):
    """2 retries a second against 20 first attempts (exactly ratio 0.1), plus the full
    bucket of 10 at once; then the node restarts and its counters begin again at 0."""
    def retries(s):
        return 2 * s + (10 if s >= 5 else 0) if s < 30 else 2 * (s - 30) + 10
    run = burst_run(tmp_path, retries)
    assert not [a for a in check(run).anomalies if a.kind == "retry-amplification"]
