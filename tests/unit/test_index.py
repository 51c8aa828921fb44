"""The cross-run index: read from run directories, kept in step with them, queried,
and pruned without losing an anomaly the regression corpus does not hold."""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from harness.index import INDEX_FILE, RunIndex, index_finished_run, read_run
from harness.index.retention import corpus_fingerprints, delete_runs, plan_prune


def make_run(root: Path, test: str, stamp: str, *, valid: Any = True, anomalies: list[dict[str, Any]] = (),
             faults: tuple[str, ...] = ("partition",), bugs: tuple[str, ...] = (), workload: str = "register",
             results: bool = True, scenario: str | None = None, seed: int = 7) -> Path:
    run = root / test / stamp
    run.mkdir(parents=True)
    start = datetime.strptime(stamp[:15], "%Y%m%dT%H%M%S").isoformat()
    (run / "test.json").write_text(json.dumps({
        "name": test, "start": start, "seed": seed, "workload": workload,
        "options": {"workload": workload, "nemesis": list(faults), "bugs": list(bugs), "time_limit": 10},
        "target": {"name": "pipeline", "bugs": list(bugs)},
        "faults": {f: {"colour": "#000"} for f in faults},
        "scenario": {"name": scenario} if scenario else None}))
    if results:
        (run / "results.json").write_text(json.dumps({
            "schema": 2, "test": test, "seed": seed, "valid": valid,
            "exit_code": {True: 0, False: 1, None: 3}.get(valid, 2),
            "anomalies": list(anomalies),
            "checkers": {"perf": {"valid": True, "stats": {"latency": {
                "read/ok": {"f": "read", "type": "ok", "count": 90, "p50_ms": 2.0, "p95_ms": 5.0, "p99_ms": 9.0, "max_ms": 12.0},
                "write/ok": {"f": "write", "type": "ok", "count": 10, "p50_ms": 3.0, "p95_ms": 6.0, "p99_ms": 40.0, "max_ms": 50.0},
                "write/info": {"f": "write", "type": "info", "count": 2, "p50_ms": 5000.0, "p95_ms": 5000.0, "p99_ms": 5000.0, "max_ms": 5000.0},
            }}}},
            "run": {"ops": 204, "counts": {"ok": 100, "fail": 0, "info": 2}, "seconds": 10.2}}))
    return run


def anomaly(fp: str, kind: str | None = None, severity: str = "error") -> dict[str, Any]:
    return {"checker": "quorum", "kind": kind or fp.split("/")[0], "fingerprint": fp, "severity": severity,
            "summary": f"found {fp}"}


def write_night(root: Path, stamp: str, ids: list[str]) -> None:
    night = root / "nights" / stamp
    night.mkdir(parents=True)
    (night / "night.json").write_text(json.dumps({"stamp": stamp, "started": stamp, "budget_seconds": 60,
                                                  "runs": [{"id": i} for i in ids]}))


def test_a_run_directory_reads_into_one_record(tmp_path: Path) -> None:
    run = make_run(tmp_path, "register", "20261201T010000", valid=False, bugs=("weak-quorum",),
                   faults=("pause", "partition"), anomalies=[anomaly("weak-quorum-config"), anomaly("weak-quorum-config")])
    rec = read_run(run, tmp_path)
    assert rec is not None
    assert (rec.id, rec.test, rec.verdict, rec.exit_code, rec.seed) == ("register/20261201T010000", "register", "invalid", 1, 7)
    assert (rec.faults, rec.bugs, rec.workload, rec.target) == ("partition,pause", "weak-quorum", "register", "pipeline")
    assert (rec.ops, rec.ok, rec.info, rec.seconds) == (102, 100, 2, 10.2)
    assert rec.throughput == pytest.approx(10.0)
    # the main op (most ok completions) gives the summary quantiles; every kind is kept
    assert (rec.latency_f, rec.p50_ms, rec.p99_ms) == ("read", 2.0, 9.0)
    assert {(r.f, r.type) for r in rec.latency} == {("read", "ok"), ("write", "ok"), ("write", "info")}
    assert rec.fingerprints == ["weak-quorum-config"]


def test_verdicts_of_unknown_failed_and_unchecked_runs(tmp_path: Path) -> None:
    assert read_run(make_run(tmp_path, "t", "20261201T010000", valid="unknown"), tmp_path).verdict == "unknown"
    failed = read_run(make_run(tmp_path, "t", "20261201T010001", valid=None), tmp_path)
    assert (failed.verdict, failed.exit_code) == ("failed", 3)
    unchecked = read_run(make_run(tmp_path, "t", "20261201T010002", results=False), tmp_path)
    assert (unchecked.verdict, unchecked.exit_code) == ("incomplete", None)
    assert read_run(tmp_path / "t", tmp_path) is None  # not a run: no test.json


def test_sync_imports_old_runs_follows_rechecks_and_deletions(tmp_path: Path) -> None:
    a = make_run(tmp_path, "register", "20261201T010000")
    make_run(tmp_path, "orders", "20261201T020000", workload="orders")
    (tmp_path / "latest").symlink_to("orders/20261201T020000")
    (tmp_path / ".cluster").mkdir()
    with RunIndex(tmp_path) as index:
        first = index.sync()
        assert sorted(first.added) == ["orders/20261201T020000", "register/20261201T010000"]
        assert index.sync().added == []  # nothing new: nothing read again
        doc = json.loads((a / "results.json").read_text())
        doc.update(valid=False, exit_code=1, anomalies=[anomaly("stale-read")])
        (a / "results.json").write_text(json.dumps(doc))
        os.utime(a / "results.json", (1, 1))  # a re-check changes results.json
        assert index.sync().updated == ["register/20261201T010000"]
        assert [r.verdict for r in index.runs(test="register")] == ["invalid"]
        import shutil

        shutil.rmtree(tmp_path / "orders")
        assert index.sync().removed == ["orders/20261201T020000"]
        assert [r.id for r in index.runs()] == ["register/20261201T010000"]


def test_rebuild_and_a_schema_change_give_the_same_rows(tmp_path: Path) -> None:
    make_run(tmp_path, "register", "20261201T010000", valid=False, anomalies=[anomaly("stale-read")])
    with RunIndex(tmp_path) as index:
        index.sync()
        before = index.runs()
        assert len(index.rebuild().added) == 1
        assert index.runs() == before
    with sqlite3.connect(tmp_path / INDEX_FILE) as db:
        db.execute("PRAGMA user_version = 999")
    with RunIndex(tmp_path) as index:
        assert index.runs() == []  # an index of another schema is thrown away ...
        index.sync()
        assert index.runs() == before  # ... and read again from the directories


def test_filters_by_test_start_and_verdict(tmp_path: Path) -> None:
    make_run(tmp_path, "register", "20261201T010000")
    make_run(tmp_path, "register", "20261203T010000", valid=False, anomalies=[anomaly("stale-read")])
    make_run(tmp_path, "orders", "20261202T010000", workload="orders")
    with RunIndex(tmp_path) as index:
        index.sync()
        assert [r.id for r in index.runs()] == ["register/20261201T010000", "orders/20261202T010000",
                                                "register/20261203T010000"]
        assert [r.id for r in index.runs(test="orders")] == ["orders/20261202T010000"]
        assert [r.id for r in index.runs(since="2026-12-02T00:00:00")] == ["orders/20261202T010000",
                                                                           "register/20261203T010000"]
        assert [r.id for r in index.runs(verdicts=["invalid"])] == ["register/20261203T010000"]


def test_fingerprints_first_last_runs_and_new_in_the_latest_night(tmp_path: Path) -> None:
    make_run(tmp_path, "t", "20261201T010000", valid=False, anomalies=[anomaly("stale-read")])
    make_run(tmp_path, "t", "20261202T010000", valid=False, anomalies=[anomaly("stale-read"), anomaly("lost-effect/refund")])
    make_run(tmp_path, "t", "20261202T020000", valid=False, anomalies=[anomaly("lost-effect/refund")])
    write_night(tmp_path, "20261201T000000", ["t/20261201T010000"])
    write_night(tmp_path, "20261202T000000", ["t/20261202T010000", "t/20261202T020000"])
    with RunIndex(tmp_path) as index:
        index.sync()
        assert index.latest_night() == "20261202T000000"
        rows = {r.fingerprint: r for r in index.fingerprints()}
        assert (rows["stale-read"].first_seen, rows["stale-read"].last_seen, rows["stale-read"].runs) == (
            "2026-12-01T01:00:00", "2026-12-02T01:00:00", 2)
        assert not rows["stale-read"].new  # first seen in an earlier night
        assert rows["lost-effect/refund"].new and rows["lost-effect/refund"].runs == 2
        assert rows["lost-effect/refund"].first_run == "t/20261202T010000"
        # a later night without it: known from then on
        make_run(tmp_path, "t", "20261203T010000")
        write_night(tmp_path, "20261203T000000", ["t/20261203T010000"])
        index.sync()
        assert not any(r.new for r in index.fingerprints())


def test_coverage_counts_workload_faults_scenario_and_bugs_apart(tmp_path: Path) -> None:
    make_run(tmp_path, "a", "20261201T010000", faults=("pause", "partition"))
    make_run(tmp_path, "a", "20261201T010001", faults=("partition", "pause"))
    make_run(tmp_path, "b", "20261201T010002", faults=("partition",), bugs=("weak-quorum",))
    make_run(tmp_path, "c", "20261201T010003", faults=("pause", "stall"), workload="orders", scenario="paused-leader")
    with RunIndex(tmp_path) as index:
        index.sync()
        assert index.coverage() == {("register", "partition,pause", ""): 2,
                                    ("register", "partition", "weak-quorum"): 1,
                                    ("orders", "scenario:paused-leader", ""): 1}


def test_a_finished_run_indexes_itself_only_under_results_layout(tmp_path: Path) -> None:
    run = make_run(tmp_path / "results", "register", "20261201T010000")
    index_finished_run(run)
    with RunIndex(tmp_path / "results") as index:
        assert [r.id for r in index.runs()] == ["register/20261201T010000"]
    odd = make_run(tmp_path / "elsewhere", "x", "20261201T010000")
    os.rename(odd, odd.parent / "not-a-stamp")
    index_finished_run(odd.parent / "not-a-stamp")
    assert not (tmp_path / "elsewhere" / INDEX_FILE).exists()


def test_write_check_of_a_stored_run_adds_it_to_the_index(tmp_path: Path) -> None:
    from harness.assemble.stored import write_check
    from harness.core.op import History
    from harness.core.verdict import CheckResult

    run = make_run(tmp_path, "register", "20261201T010000", results=False)
    write_check(run, CheckResult(valid=True, stats={"perf": {"valid": True, "anomalies": []}}), History([]),
                stored_run=True)
    with RunIndex(tmp_path) as index:
        (rec,) = index.runs()
    assert (rec.id, rec.verdict) == ("register/20261201T010000", "valid")


# ---------------------------------------------------------------------------
# retention


def case_file(corpus: Path, name: str, fingerprint: str) -> None:
    corpus.mkdir(parents=True, exist_ok=True)
    (corpus / name).write_text(json.dumps({"seam_case": 1, "kind": "x", "checker": "quorum",
                                           "fingerprint": fingerprint}) + "\n")


def test_corpus_fingerprints_come_from_case_headers(tmp_path: Path) -> None:
    case_file(tmp_path / "regressions" / "quorum", "a.jsonl", "weak-quorum-config")
    (tmp_path / "regressions" / "plain.jsonl").write_text('{"index": 0, "type": "invoke"}\n')
    assert corpus_fingerprints(tmp_path / "regressions") == {"weak-quorum-config"}
    assert corpus_fingerprints(tmp_path / "missing") == set()


def test_prune_keeps_new_invalid_unchecked_and_uncorpused_runs(tmp_path: Path) -> None:
    results = tmp_path / "results"
    make_run(results, "t", "20261101T010000")  # old and clean: goes
    make_run(results, "t", "20261102T010000", valid=False, anomalies=[anomaly("stale-read")])  # in the corpus
    make_run(results, "t", "20261103T010000", valid=False, anomalies=[anomaly("lost-effect/refund")])  # not
    make_run(results, "t", "20261104T010000", results=False)  # never checked
    make_run(results, "t", "20261130T010000")  # recent
    now = datetime(2026, 12, 1)
    with RunIndex(results) as index:
        index.sync()
        runs = index.runs()
        decide = {d.run.id.split("/")[1]: d for d in plan_prune(runs, now=now, keep_days=7, keep_invalid=False,
                                                                 corpus={"stale-read"}, force=False)}
        assert {k for k, d in decide.items() if d.delete} == {"20261101T010000", "20261102T010000"}
        assert "lost-effect/refund not in the regression corpus" in decide["20261103T010000"].reason
        assert "never checked" in decide["20261104T010000"].reason
        assert "newer than 7 days" in decide["20261130T010000"].reason
        keep_invalid = plan_prune(runs, now=now, keep_days=7, keep_invalid=True, corpus={"stale-read"}, force=False)
        assert {d.run.id for d in keep_invalid if d.delete} == {"t/20261101T010000"}
        forced = plan_prune(runs, now=now, keep_days=7, keep_invalid=False, corpus=set(), force=True)
        assert {d.run.id for d in forced if not d.delete} == {"t/20261130T010000"}

        (results / "t" / "latest").symlink_to("20261101T010000")
        (results / "latest").symlink_to("t/20261101T010000")
        deleted = delete_runs(index, plan_prune(runs, now=now, keep_days=7, keep_invalid=False,
                                                corpus={"stale-read"}, force=False))
        assert sorted(deleted) == ["t/20261101T010000", "t/20261102T010000"]
        assert not (results / "t" / "20261101T010000").exists()
        assert (results / "t" / "20261103T010000").is_dir()
        assert [r.id.split("/")[1] for r in index.runs()] == ["20261103T010000", "20261104T010000", "20261130T010000"]
    # latest links that pointed at a deleted run now point at the newest left
    assert os.readlink(results / "t" / "latest") == "20261130T010000"
    assert os.readlink(results / "latest") == "t/20261130T010000"


# ---------------------------------------------------------------------------
# seam runs


def seam_runs(*args: str) -> Any:
    from harness.commands.runs import runs

    return CliRunner().invoke(runs, list(args), standalone_mode=False, catch_exceptions=True)


def test_seam_runs_lists_filters_and_prints_json(tmp_path: Path) -> None:
    results = tmp_path / "results"
    make_run(results, "register", "20261201T010000")
    make_run(results, "orders", "20261202T010000", workload="orders", valid=False,
             anomalies=[anomaly("lost-effect/refund")])
    r = seam_runs("--results", str(results))
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0].split()[:3] == ["RUN", "VERDICT", "EXIT"]
    assert "register/20261201T010000" in lines[1] and "orders/20261202T010000" in lines[2]
    assert "INVALID" in lines[2] and "lost-effect/refund" in lines[2]
    assert lines[-1] == "2 runs: 1 invalid, 1 valid"
    r = seam_runs("--results", str(results), "--invalid", "--json")
    rows = json.loads(r.output)
    assert [(x["id"], x["verdict"], x["fingerprints"]) for x in rows] == [
        ("orders/20261202T010000", "invalid", ["lost-effect/refund"])]
    r = seam_runs("--results", str(results), "--since", "2026-12-02", "--json")
    assert [x["id"] for x in json.loads(r.output)] == ["orders/20261202T010000"]


def test_seam_runs_fingerprints_and_prune_dry_run(tmp_path: Path) -> None:
    results = tmp_path / "results"
    make_run(results, "orders", "20250101T010000", workload="orders", valid=False,
             anomalies=[anomaly("lost-effect/refund")])
    make_run(results, "orders", "20250102T010000", workload="orders")
    write_night(results, "20250102T000000", ["orders/20250102T010000"])
    r = seam_runs("--results", str(results), "--fingerprints")
    assert r.exit_code == 0, r.output
    (row,) = [line for line in r.output.splitlines() if "lost-effect/refund" in line]
    assert not row.startswith("NEW")  # first seen outside the latest night
    r = seam_runs("--results", str(results), "--prune", "--keep-days", "1", "--dry-run",
                  "--corpus", str(tmp_path / "regressions"))
    assert r.exit_code == 0, r.output
    assert "kept orders/20250101T010000: lost-effect/refund not in the regression corpus" in r.output
    assert "would delete orders/20250102T010000" in r.output
    assert (results / "orders" / "20250102T010000").is_dir()  # a dry run deletes nothing


def test_seam_runs_bad_options_are_one_line_errors(tmp_path: Path) -> None:
    from harness.core.errors import ConfigError

    r = seam_runs("--results", str(tmp_path), "--since", "yesterday")
    assert isinstance(r.exception, ConfigError) and "--since 'yesterday'" in str(r.exception)
    r = seam_runs("--results", str(tmp_path), "--prune")
    assert isinstance(r.exception, ConfigError) and "--keep-days" in str(r.exception)
    r = seam_runs("--results", str(tmp_path), "--force")
    assert isinstance(r.exception, ConfigError)


def test_runs_finishing_at_once_all_land_in_one_index(tmp_path: Path) -> None:
    """Eight processes create the index and add a run each at the same moment."""
    import subprocess
    import sys

    dirs = [make_run(tmp_path, "t", f"20261201T0100{i:02d}") for i in range(8)]
    import time

    # every process waits for the same instant, so they race to create the tables
    code = "import sys, time; from pathlib import Path; from harness.index import RunIndex; " \
           "time.sleep(max(0, float(sys.argv[3]) - time.time())); " \
           "RunIndex(Path(sys.argv[1])).index_run(Path(sys.argv[2]))"
    start = str(time.time() + 3)
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path), str(d), start], stderr=subprocess.PIPE,
                              text=True) for d in dirs]
    errors = [p.communicate(timeout=60)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errors
    with RunIndex(tmp_path) as index:
        assert len(index.runs()) == 8
