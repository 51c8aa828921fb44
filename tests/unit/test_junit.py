"""JUnit XML: written with junitparser, read back with it, one testcase per case,
a failure only for an invalid verdict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from junitparser import Error, Failure, JUnitXml, Skipped

from harness.junit import CaseResult, case_for_run, write_junit
from tests.unit.test_index import anomaly, make_run


def load(path: Path) -> list:
    xml = JUnitXml.fromfile(str(path))
    (suite,) = list(xml)
    return [suite, list(suite)]


def test_every_outcome_round_trips_through_junitparser(tmp_path: Path) -> None:
    cases = [
        CaseResult("ok run", "seam.test", "passed", 12.5, report="r/1/report.html"),
        CaseResult("bad run", "seam.test", "failed", 3.0, message="1 anomaly: stale-read",
                   details="stale-read [stale-read]: k1 read 3 after 4", report="r/2/report.html"),
        CaseResult("gave up", "seam.test", "error", message="unknown: timeout"),
        CaseResult("no time", "seam.nightly", "skipped", message="budget: 10 s left"),
    ]
    out = write_junit(tmp_path / "sub" / "junit.xml", "night", cases, properties={"seed": "4"})
    suite, tcs = load(out)
    assert (suite.name, suite.tests, suite.failures, suite.errors, suite.skipped) == ("night", 4, 1, 1, 1)
    assert suite.time == pytest.approx(15.5)
    assert [tc.name for tc in tcs] == ["ok run", "bad run", "gave up", "no time"]
    assert tcs[0].is_passed and tcs[0].system_out == "report: r/1/report.html"
    (failure,) = tcs[1].result
    assert isinstance(failure, Failure) and failure.message == "1 anomaly: stale-read"
    assert "k1 read 3 after 4" in failure.text and "report: r/2/report.html" in failure.text
    assert isinstance(tcs[2].result[0], Error) and isinstance(tcs[3].result[0], Skipped)
    assert {p.name: p.value for p in suite.properties()} == {"seed": "4"}


def test_an_unknown_outcome_is_refused() -> None:
    with pytest.raises(ValueError, match="expected one of passed"):
        CaseResult("x", "y", "flaky")


def test_run_directories_map_to_pass_failure_and_error(tmp_path: Path) -> None:
    valid = case_for_run(make_run(tmp_path, "t", "20261201T010000"))
    assert (valid.name, valid.outcome, valid.seconds) == ("t/20261201T010000", "passed", 10.2)
    bad = case_for_run(make_run(tmp_path, "t", "20261201T010001", valid=False, seed=42,
                                anomalies=[anomaly("stale-read"), anomaly("stale-read"),
                                           anomaly("duplicate-key-alert", severity="warning")]),
                       name="night #2", seconds=30.0)
    assert (bad.name, bad.outcome, bad.seconds) == ("night #2", "failed", 30.0)
    assert bad.message.startswith("2 anomalies: stale-read x2; found stale-read")  # errors only in the headline
    assert "duplicate-key-alert" in bad.details and "seed 42" in bad.details
    assert bad.report.endswith("t/20261201T010001")  # no report.html: the run directory
    unknown = case_for_run(make_run(tmp_path, "t", "20261201T010002", valid="unknown"))
    failed = case_for_run(make_run(tmp_path, "t", "20261201T010003", valid=None))
    unchecked = case_for_run(make_run(tmp_path, "t", "20261201T010004", results=False))
    assert [c.outcome for c in (unknown, failed, unchecked)] == ["error", "error", "error"]
    assert unknown.message.startswith("unknown") and failed.message.startswith("the run failed")
    assert "no results.json" in unchecked.message


def test_a_written_run_case_names_the_report(tmp_path: Path) -> None:
    run = make_run(tmp_path, "t", "20261201T010000", valid=False, anomalies=[anomaly("lost-effect/refund")])
    (run / "report.html").write_text("<html></html>")
    out = write_junit(tmp_path / "j.xml", "seam test", [case_for_run(run)])
    _, (tc,) = load(out)
    assert f"report: {run / 'report.html'}" in tc.result[0].text
    assert json.loads((run / "results.json").read_text())["valid"] is False
