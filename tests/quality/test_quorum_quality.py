"""quorum.py judges overlap from what the nodes report, never from the test's flags.

Both directions of issue 24's acceptance: a run with ``--bug weak-quorum`` whose
nodes reported nothing has no error-severity anomaly (empty or clean history
alike), and nodes that report quorums that cannot overlap are an error whatever
test.json asked for.
"""

from __future__ import annotations

import pytest

from checkers.compose import compose
from checkers.pipeline.quorum import QuorumChecker
from harness.core.op import History
from harness.core.stored import StoredTest
from harness.targets.pipeline.checkers import register_checkers
from tests.quality.fixtures.planted import PlantedRun

#: the test of `seam test --bug weak-quorum` as test.json keeps it (replication as configured)
WEAK_FLAG = StoredTest.from_json({"workload": "register", "options": {"workload": "register", "bugs": [
    "weak-quorum"], "replication": [3, 2, 2]}, "target": {"name": "pipeline", "bugs": ["weak-quorum"]}})
NO_FLAG = StoredTest.from_json({"workload": "register", "options": {"workload": "register",
                                                                    "replication": [3, 2, 2]}})


def report(run: PlantedRun, n: int, w: int, r: int, nodes=None) -> None:
    """Each node's final /metrics snapshot, with the store's gauges as target/store.py writes them."""
    for node in nodes or run.nodes:
        run.final_metrics(node, {"node": node, "counters": {}, "histograms": {}, "gauges": {
            "store_rows_written": 3, "store_replicas": n, "store_write_quorum": w, "store_read_quorum": r}})


def clean_register(run: PlantedRun) -> History:
    run.call("write", ["k", 1], node="n1")
    run.call("read", ["k", None], "ok", ["k", 1], node="n2")
    return run.history()


def errors(result) -> list[str]:
    return [a.kind for a in result.anomalies if a.severity == "error"]


@pytest.mark.parametrize("history", ["empty", "clean"])
def test_the_flag_alone_is_no_finding(tmp_path, history):
    run = PlantedRun(tmp_path)
    h = History([]) if history == "empty" else clean_register(run)
    result = compose(register_checkers()).check(WEAK_FLAG, h, tmp_path)
    assert errors(result) == [] and result.valid is True
    quorum = result.stats["quorum"]["stats"]
    assert quorum["reported"] == {} and quorum["overlap"] is None and "not checked" in quorum["note"]


@pytest.mark.parametrize("history", ["empty", "clean"])
def test_nodes_reporting_w1_r1_of_3_are_an_error_whatever_test_json_says(tmp_path, history):
    run = PlantedRun(tmp_path)
    report(run, 3, 1, 1)
    h = History([]) if history == "empty" else clean_register(run)
    for test in (WEAK_FLAG, NO_FLAG, None):
        result = compose(register_checkers()).check(test, h, tmp_path)
        assert errors(result) == ["weak-quorum-config"], test
        [a] = result.anomalies
        assert a.summary.startswith("n1, n2, n3 report N=3 W=1 R=1: R + W = 2 <= N = 3")
        assert a.details["reports"]["n2"] == {"n": 3, "w": 1, "r": 1, "source": "nodes/n2/metrics.json"}


def test_nodes_reporting_majorities_overlap_even_with_the_flag_set(tmp_path):
    run = PlantedRun(tmp_path)
    report(run, 3, 2, 2)
    result = QuorumChecker().check(WEAK_FLAG, clean_register(run), tmp_path)
    assert result.valid is True and result.anomalies == []
    assert result.stats["reported"] == {n: [3, 2, 2] for n in run.nodes} and result.stats["overlap"] is True


def test_the_boundary_r_plus_w_equal_n_cannot_overlap(tmp_path):
    run = PlantedRun(tmp_path, nodes=("n1", "n2", "n3", "n4"))
    report(run, 4, 2, 2)
    assert [a.kind for a in QuorumChecker().check(None, History([]), tmp_path).anomalies] == [
        "weak-quorum-config"]
    report(run, 4, 3, 2)
    assert QuorumChecker().check(None, History([]), tmp_path).anomalies == []


def test_one_weak_writer_among_strict_nodes_is_named(tmp_path):
    run = PlantedRun(tmp_path)
    report(run, 3, 2, 2, nodes=("n1", "n2"))
    report(run, 3, 1, 2, nodes=("n3",))  # n3 acknowledges after 1 replica; others read 2: 1 + 2 <= 3
    [a] = QuorumChecker().check(None, History([]), tmp_path).anomalies
    assert (a.details["write_node"], a.details["w"], a.details["r"]) == ("n3", 1, 2)
    assert a.summary.startswith("n3 reports W=1 and n1 R=2 with N=3")


def test_a_scrape_stands_in_for_a_node_that_was_down_at_collection(tmp_path):
    run = PlantedRun(tmp_path)
    run.scrape("n1", 1.0, gauges={"store_replicas": 3, "store_write_quorum": 1, "store_read_quorum": 1})
    run.scrape("n1", 2.0, gauges={"store_fsyncs": 4})  # a later scrape without the settings
    result = QuorumChecker().check(None, History([]), tmp_path)
    [a] = result.anomalies
    assert a.details["reports"]["n1"]["source"] == "nodes/n1/metrics.jsonl (t=1 s)"
    assert result.stats["silent"] == ["n2", "n3"]


def test_metrics_from_before_nodes_reported_settings_claim_nothing(tmp_path):
    # regression cases and runs collected before target/store.py reported its settings
    run = PlantedRun(tmp_path)
    for n in run.nodes:
        run.final_metrics(n, {"counters": {}, "gauges": {"store_fsyncs": 2}, "histograms": {}})
    result = QuorumChecker().check(WEAK_FLAG, History([]), tmp_path)
    assert result.valid is True and result.anomalies == [] and result.stats["silent"] == list(run.nodes)
