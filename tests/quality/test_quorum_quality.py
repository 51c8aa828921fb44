"""quorum.py: a weak configuration is flagged from the config alone; a stale read is caught."""

from __future__ import annotations

from checkers.pipeline.quorum import QuorumChecker
from tests.quality.fixtures.planted import PlantedRun


def test_weak_quorum_config_is_flagged_and_a_strict_one_is_not(tmp_path):
    run = PlantedRun(tmp_path)
    h = run.history()
    weak = QuorumChecker().check({"replication": {"n": 3, "w": 1, "r": 2}}, h, None)
    assert [a.fingerprint for a in weak.anomalies] == ["weak-quorum-config"]
    assert weak.valid is False and weak.anomalies[0].details["n"] == 3
    strict = QuorumChecker().check({"replication": {"n": 3, "w": 2, "r": 2}}, h, None)
    assert strict.valid is True and strict.anomalies == []


def test_the_weak_quorum_bug_is_linted_from_test_json(tmp_path):
    # test.json as the runner writes it: the bug forces W=R=1 whatever N, W, R say
    test_json = {
        "workload": "register",
        "target": {"bugs": ["weak-quorum"], "replication": [3, 2, 2]},
    }
    result = QuorumChecker().check(test_json, PlantedRun(tmp_path).history(), None)
    [a] = result.anomalies
    assert (a.details["w"], a.details["r"], a.details["configured"]) == (1, 1, [3, 2, 2])


def register_run(tmp_path, read_value):
    run = PlantedRun(tmp_path)
    run.call("write", ["k1", 1], node="n1")
    run.call("write", ["k1", 2], node="n1")
    run.call("read", ["k1", None], "ok", ["k1", read_value], node="n3")
    run.call("read", ["k2", None], "ok", ["k2", None], node="n2")  # never written: fine
    return run


def test_stale_read_is_reported_with_both_ops_and_the_nodes(tmp_path):
    run = register_run(tmp_path, read_value=1)
    result = QuorumChecker().check({"replication": [3, 2, 2]}, run.history(), None)
    assert result.valid is False
    stale = [a for a in result.anomalies if a.kind == "stale-read"]
    [a] = stale
    assert a.ops == [2, 3, 4, 5]  # the write of 2 (invoke, ok) and the read (invoke, ok)
    assert (a.details["read_node"], a.details["write_node"]) == ("n3", "n1")
    assert (a.details["read_value"], a.details["missed_value"]) == (1, 2)
    # the linearizability verdict agrees, per key
    assert "nonlinearizable" in {x.kind for x in result.anomalies}
    assert result.stats["linearizable"]["valid"] is False


def test_clean_twin_read_sees_the_last_write(tmp_path):
    run = register_run(tmp_path, read_value=2)
    result = QuorumChecker().check({"replication": [3, 2, 2]}, run.history(), None)
    assert result.valid is True and result.anomalies == [] and result.stats["stale_reads"] == 0


def test_seam_check_passes_no_test_so_the_run_directorys_test_json_is_linted(tmp_path):
    run = PlantedRun(tmp_path)
    (tmp_path / "test.json").write_text(
        '{"workload": "register", "target": {"replication": [3, 1, 1]}}'
    )
    result = QuorumChecker().check(None, run.history(), tmp_path)
    assert [a.fingerprint for a in result.anomalies] == ["weak-quorum-config"]
    assert QuorumChecker().check(None, run.history(), None).valid is True
