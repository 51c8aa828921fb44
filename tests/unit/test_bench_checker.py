"""bench/checker.py's rules for Porcupine: a ratio only when both sides were timed,
"not measured" otherwise, and every verdict disagreement counted.

The driver is faked by a small script that speaks its protocol (a manifest in,
one JSON line per file out), so no Go is needed.
"""

from __future__ import annotations

import importlib.util
import json
import stat
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "checker.py"

FAKE_DRIVER = """\
import json, os, sys
rows = json.load(open(sys.argv[-1]))
for row in rows:
    print(json.dumps({"file": row["file"], "model": row["model"], "ops": 1, "parse_s": 0.01,
                      "check_s": 0.02, "verdict": os.environ["FAKE_VERDICT"]}))
print(json.dumps({"summary": True, "go": "go-fake", "gomaxprocs": 1}))
"""


@pytest.fixture(scope="module")
def checker():
    spec = importlib.util.spec_from_file_location("seam_bench_checker", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def fake_driver(tmp_path: Path) -> Path:
    path = tmp_path / "fake-porcupine"
    path.write_text(f"#!{sys.executable}\n{FAKE_DRIVER}")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_a_ratio_needs_both_sides(checker):
    assert checker.ratio(2.5, 2.0) == "1.25x"
    assert checker.ratio(None, 2.0) == "not measured"
    assert checker.ratio(2.5, None) == "not measured"
    assert checker.ratio(2.5, 0.0) == "not measured"


def test_porcupine_giving_up_makes_the_ratio_an_upper_bound(checker):
    assert checker.ratio(3.0, 60.0, finished=False) == "< 0.05x (Porcupine gave up)"


def test_without_go_the_bench_says_how_to_get_it(checker, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no go
    driver, why = checker.locate(None)
    assert driver is None
    assert "golang-go" in why and "git clone https://github.com/anishathalye/porcupine" in why


def test_without_the_source_the_bench_says_how_to_get_it(checker, monkeypatch, tmp_path):
    go = tmp_path / "go"
    go.write_text("#!/bin/sh\nexit 1\n")
    go.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("PORCUPINE_SRC", raising=False)
    driver, why = checker.locate(None)
    assert driver is None
    assert "--porcupine-src" in why and "PORCUPINE_SRC" in why


def small_register(checker):
    return lambda p: checker.simulate(
        p, ops=200, keys=1, procs_per_key=3, crash_rate=0.05, seed=7, independent=False
    )


def generated(checker, porc, capsys) -> tuple[str, str]:
    text = checker.bench_generated(
        "3z. a small register",
        small_register(checker),
        ["--model", "cas-register"],
        {"format": "jsonl", "model": "cas-register"},
        porc,
    )
    return text, capsys.readouterr().out


def test_without_a_driver_section_3_prints_not_measured_where_the_ratio_was(checker, capsys):
    porc = checker.Porcupine(None, "no `go` on PATH", 1)
    text, out = generated(checker, porc, capsys)
    assert text.startswith("not measured")
    assert "seam/porcupine: not measured" in out
    assert "porcupine: not measured (no `go` on PATH)" in out
    assert "seam whole process:" in out  # Seam's own figures stay
    checker._print_headline({"3z wall seam/porcupine": text}, porc)
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.split() == ["porcupine", "not", "measured:", "no", "`go`", "on", "PATH"]


def test_with_a_driver_section_3_prints_the_measured_ratio(
    checker, capsys, monkeypatch, fake_driver
):
    monkeypatch.setenv("FAKE_VERDICT", "linearizable")
    porc = checker.Porcupine(checker.Driver(fake_driver), "fake", 1)
    text, out = generated(checker, porc, capsys)
    assert "not measured" not in out
    ratio_line = next(ln for ln in out.splitlines() if ln.startswith("seam/porcupine:"))
    assert ratio_line.split()[1].endswith("x")
    assert float(ratio_line.split()[1].rstrip("x")) > 0
    assert "linearizable" in out and "go-fake, GOMAXPROCS=1" in out
    assert porc.disagreements == []


def test_a_verdict_disagreement_is_printed_and_counted(checker, capsys, monkeypatch, fake_driver):
    monkeypatch.setenv("FAKE_VERDICT", "not-linearizable")  # the history is valid: Seam says so
    porc = checker.Porcupine(checker.Driver(fake_driver), "fake", 1)
    generated(checker, porc, capsys)
    assert porc.disagreements == [
        "3z: history.jsonl: Seam linearizable, Porcupine not-linearizable"
    ]
    checker._print_headline({}, porc)
    out = capsys.readouterr().out
    assert "verdict disagreements (seam vs porcupine)" in out and out.count("DISAGREE 3z") == 1


def test_an_unknown_on_either_side_is_not_a_disagreement(checker):
    porc = checker.Porcupine(None, "", 1)
    unknown = checker.Verdict("f", 1, 0.0, 60.0, "unknown")
    porc.compare("1", "f", True, unknown)
    porc.compare("1", "f", None, checker.Verdict("f", 1, 0.0, 0.1, "not-linearizable"))
    assert porc.disagreements == []


def test_the_driver_output_is_read_file_by_file(checker):
    lines = [
        {"file": "a.log", "ops": 3, "parse_s": 0.5, "check_s": 1.5, "verdict": "linearizable"},
        {
            "file": "b.log",
            "ops": 0,
            "parse_s": 0,
            "check_s": 0,
            "verdict": "error",
            "error": "b.log:2: bad",
        },
        {"summary": True, "go": "go1.19.8", "gomaxprocs": 2},
    ]
    driver = sys.modules[
        "porcupine_driver"
    ]  # bench/porcupine/porcupine_driver.py, as checker.py loads it
    run = driver.parse_output("\n".join(json.dumps(x) for x in lines), 2.5, 2.0)
    assert [v.file for v in run.results] == ["a.log", "b.log"]
    assert run.by_file()["b.log"].error == "b.log:2: bad"
    assert (run.go, run.gomaxprocs, run.wall, run.cpu) == ("go1.19.8", 2, 2.5, 2.0)


def test_a_driver_that_fails_is_not_measured_and_says_so(checker, tmp_path):
    broken = tmp_path / "broken-porcupine"
    broken.write_text("#!/bin/sh\necho 'seam-porcupine: manifest: bad' >&2\nexit 2\n")
    broken.chmod(0o755)
    porc = checker.Porcupine(checker.Driver(broken), "fake", 1)
    run = porc.best([{"file": "x.jsonl", "format": "jsonl", "model": "cas-register"}], tmp_path)
    assert run is None
    assert (
        porc.describe(run)
        == "not measured (the driver failed: driver exit 2: seam-porcupine: manifest: bad)"
    )
    assert checker.ratio(1.0, run and run.wall) == "not measured"
