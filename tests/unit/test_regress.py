"""Regression cases end to end: what a check writes, `seam check CASE`, `seam regress`,
--promote, and the pytest plugin, on copies of the committed corpus."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from harness.cli import cli
from harness.formats.case import read_case, write_case
from tests.conftest import REPO
from tests.unit.test_cli_check import STALE  # write 4 completes, then a read still returns 1

CORPUS = REPO / "regressions"


def seam(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def corpus_case(fingerprint: str) -> Path:
    found = sorted((CORPUS / fingerprint).glob("*.jsonl"))
    assert found, f"the corpus has no {fingerprint} case"
    return found[0]


def set_header(path: Path, **changes: Any) -> None:
    rows = path.read_text().splitlines()
    head = json.loads(rows[0])
    head.update(changes)
    path.write_text("\n".join([json.dumps(head), *rows[1:]]) + "\n")


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    copy = tmp_path / "regressions"
    shutil.copytree(CORPUS, copy)
    return copy


# ---------------------------------------------------------------------------
# the corpus


def test_the_committed_corpus_passes_and_holds_both_kinds_of_case() -> None:
    cases = sorted(CORPUS.rglob("*.jsonl"))
    checkers = {read_case(p).header.checker for p in cases}
    assert len(cases) >= 10
    assert {"linearizable", "effects", "fencing", "quorum", "causal", "signals"} <= checkers
    result = seam("regress", str(CORPUS))
    assert result.exit_code == 0, result.output
    assert result.output.count("still found") == len(cases)


def test_a_flipped_verdict_fails_the_corpus_and_names_the_case(corpus: Path) -> None:
    victim = next(corpus.glob("stale-fenced-write/*/*.jsonl"))
    set_header(victim, verdict="valid")
    result = seam("regress", str(corpus))
    assert result.exit_code == 1
    failing = [line for line in result.output.splitlines() if line.startswith("FAIL")]
    assert len(failing) == 1 and victim.name in failing[0] and "changed" in failing[0]
    assert "expected valid with stale-fenced-write/ship, got invalid" in failing[0]
    assert victim.name in result.output.splitlines()[-1]


def test_junit_has_one_failure_exactly_where_a_case_changed(corpus: Path, tmp_path: Path) -> None:
    junitparser = pytest.importorskip("junitparser")
    victim = next(corpus.glob("weak-quorum-config/*.jsonl"))
    set_header(victim, verdict="valid")
    xml = tmp_path / "regress.xml"
    assert seam("regress", str(corpus), "--junit", str(xml)).exit_code == 1
    suite = next(iter(junitparser.JUnitXml.fromfile(str(xml))))
    cases = list(suite)
    failed = [c for c in cases if c.result]
    assert len(cases) == len(list(corpus.rglob("*.jsonl"))) and len(failed) == 1
    assert victim.name in failed[0].name and failed[0].classname == "regressions.weak-quorum-config"
    assert failed[0].result[0].message.startswith("changed: expected valid")


def test_an_anomaly_that_no_longer_shows_is_reported_fixed(tmp_path: Path) -> None:
    case = corpus_case("nonlinearizable/cas-register")
    head = read_case(case).header
    fixed = tmp_path / "regressions" / "fixed.jsonl"
    write_case(fixed, head, STALE[:4])  # two writes: linearizable, the anomaly is gone
    result = seam("regress", str(fixed.parent))
    assert result.exit_code == 1
    assert "FAIL fixed" in result.output and "got valid" in result.output


def test_an_unreadable_case_is_an_error_not_a_pass(corpus: Path) -> None:
    (corpus / "broken.jsonl").write_text('{"seam_case": 1, "kind": "x"}\n')
    result = seam("regress", str(corpus))
    assert result.exit_code == 3
    assert "ERROR error       broken.jsonl" in result.output.replace(str(corpus) + "/", "")


def test_seam_check_a_case_gives_its_headers_verdict_without_flags() -> None:
    invalid = corpus_case("nonlinearizable/mutex")  # needs model mutex, initial unlocked
    warning = corpus_case("duplicate-key-alert")  # a warning: found, verdict valid
    pipeline = corpus_case("stale-fenced-write/ship")
    for path, code in ((invalid, 1), (warning, 0), (pipeline, 1)):
        result = seam("check", str(path))
        assert result.exit_code == code, result.output
        head = read_case(path).header
        assert f"expects {head.verdict} with {head.fingerprint}" in result.output
        assert head.fingerprint.split("/")[0] in result.output


def test_check_flags_override_the_case_header() -> None:
    case = CORPUS / "nonlinearizable/cas-register/knossos-immediate-failure.jsonl"  # read 3 from 0
    assert seam("check", str(case)).exit_code == 1
    result = seam("check", str(case), "--initial", "3")
    assert result.exit_code == 0 and "linearizable" in result.output
    result = seam("check", str(case), "--model", "register", "--initial", "3")
    assert result.exit_code == 0 and "model register" in result.output


# ---------------------------------------------------------------------------
# what a check writes


def test_seam_check_out_writes_a_linearizability_case_that_replays(tmp_path: Path) -> None:
    history = tmp_path / "stale.jsonl"
    history.write_text("".join(json.dumps(r) + "\n" for r in STALE))
    assert seam("check", str(history), "--initial", "0", "--out", str(tmp_path / "out")).exit_code == 1
    case = read_case(tmp_path / "out" / "anomalies" / "1.jsonl")
    h = case.header
    assert (h.checker, h.model, h.initial, h.independent, h.evidence) == ("linearizable", "cas-register", 0, False, "shrunk")
    assert h.source == {"file": "stale.jsonl", "anomaly": 1}
    assert seam("check", str(tmp_path / "out" / "anomalies" / "1.jsonl")).exit_code == 1


def test_a_pipeline_anomaly_is_written_with_focused_evidence_that_reproduces(tmp_path: Path) -> None:
    """A run directory rebuilt from a corpus case plus an unrelated order's rows:
    the results writer keeps the anomaly's order only, and verifies it."""
    from checkers.compose import compose
    from checkers.pipeline.effects import EffectsChecker
    from harness.formats import load
    from harness.store import write_results
    from harness.targets.pipeline.evidence import CASE_FILES

    source = read_case(corpus_case("duplicate-effect/refund"))
    run = tmp_path / "orders" / "20260101T000000"
    source.materialize(run)
    noise = [json.dumps({**a.row, "order_id": "order-noise", "key": "charge:order-noise"})
             for a in source.artifacts if a.row is not None and a.path.endswith("payment.ledger.jsonl")][:1]
    with open(run / "nodes/n1/payment.ledger.jsonl", "a") as fh:
        fh.writelines(line + "\n" for line in noise)
    (run / "history.jsonl").write_text("".join(json.dumps(op.to_json()) + "\n" for op in source.history))
    history = load(run / "history.jsonl")
    result = compose({"effects": EffectsChecker()}).check(None, history, run)
    test = {**source.header.test, "seed": 11}
    write_results(run, result, history=history, test=test, case_files=CASE_FILES)

    cases = [read_case(p) for p in sorted((run / "anomalies").glob("*.jsonl"))]
    dup = next(c for c in cases if c.header.fingerprint == "duplicate-effect/refund")
    assert (dup.header.evidence, dup.header.verified, dup.header.verdict) == ("focused", True, "invalid")
    assert dup.header.source == {"run": "orders/20260101T000000", "seed": 11, "anomaly": 1}
    assert not any("order-noise" in json.dumps(a.to_json()) for a in dup.artifacts)
    assert all(not str(v).startswith("/") for v in dup.header.test.get("options", {}).values())


def test_a_target_that_declares_no_node_files_gets_cases_of_ops_only(tmp_path: Path) -> None:
    """Capture names no file: without the target's CaseFiles, the same run's case keeps no rows."""
    from checkers.compose import compose
    from checkers.pipeline.effects import EffectsChecker
    from harness.formats import load
    from harness.store import write_results

    source = read_case(corpus_case("duplicate-effect/refund"))
    run = tmp_path / "orders" / "20260101T000000"
    source.materialize(run)
    (run / "history.jsonl").write_text("".join(json.dumps(op.to_json()) + "\n" for op in source.history))
    history = load(run / "history.jsonl")
    write_results(run, compose({"effects": EffectsChecker()}).check(None, history, run), history=history,
                  test={**source.header.test, "seed": 11})

    dup = next(c for c in (read_case(p) for p in (run / "anomalies").glob("*.jsonl"))
               if c.header.fingerprint == "duplicate-effect/refund")
    assert dup.artifacts == [] and dup.header.verified is False  # the ops alone do not show it


# ---------------------------------------------------------------------------
# promotion and the pytest plugin


def test_promote_copies_one_case_per_fingerprint_once(tmp_path: Path) -> None:
    run = tmp_path / "results" / "orders" / "20260101T000000"
    src = corpus_case("lost-effect/cancel-ship")
    for n in (1, 2):
        (run / "anomalies").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, run / "anomalies" / f"{n}.jsonl")
    set_header(run / "anomalies" / "2.jsonl", summary="the same bug, found again")
    target = tmp_path / "corpus"
    first = seam("regress", "--promote", str(run), str(target))
    assert first.exit_code == 0, first.output
    copied = list(target.rglob("*.jsonl"))
    assert [p.relative_to(target).parts[:2] for p in copied] == [("lost-effect", "cancel-ship")]
    assert copied[0].name.startswith("orders-20260101T000000-")
    again = seam("regress", "--promote", str(run), str(target))
    assert "promoted" not in again.output and len(list(target.rglob("*.jsonl"))) == 1


def test_pytest_runs_the_corpus_as_test_items(tmp_path: Path) -> None:
    corpus = tmp_path / "regressions"
    for fp in ("nonlinearizable/kv", "causal-inversion/ship/saga"):
        dst = corpus / fp / corpus_case(fp).name
        dst.parent.mkdir(parents=True)
        shutil.copyfile(corpus_case(fp), dst)
    set_header(next(corpus.glob("nonlinearizable/kv/*.jsonl")), verdict="valid")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(corpus)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert "1 failed, 1 passed" in done.stdout, done.stdout + done.stderr
    assert "changed: expected valid with nonlinearizable/kv, got invalid" in done.stdout
