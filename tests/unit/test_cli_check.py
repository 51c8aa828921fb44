"""`seam check` end to end: verdict lines, narratives, files under --out, exit codes,
and one clear line for every kind of bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from harness.cli import cli
from tests.conftest import ORACLE, REPO, require_oracle

LINEAR = [
    {"process": 0, "type": "invoke", "f": "write", "value": 1},
    {"process": 0, "type": "ok", "f": "write", "value": 1},
    {"process": 1, "type": "invoke", "f": "read", "value": None},
    {"process": 1, "type": "ok", "f": "read", "value": 1},
]
# write 4 completes, then a read still returns 1: a stale read.
STALE = [
    {"process": 0, "type": "invoke", "f": "write", "value": 1},
    {"process": 0, "type": "ok", "f": "write", "value": 1},
    {"process": 1, "type": "invoke", "f": "write", "value": 4},
    {"process": 1, "type": "ok", "f": "write", "value": 4},
    {"process": 2, "type": "invoke", "f": "read", "value": None},
    {"process": 2, "type": "ok", "f": "read", "value": 1},
]


def write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def hard_rows(n: int = 24, k: int = 3) -> list[dict[str, Any]]:
    """n concurrent writes of p % k, then read 0 and read 1 one after the other.

    No order works (both reads follow every write), yet each read has a write
    that could explain it, so nothing refutes it early: the search must visit
    a large share of the write subsets, far beyond any sub-second budget."""
    rows = [{"process": p, "type": "invoke", "f": "write", "value": p % k} for p in range(n)]
    rows += [{"process": p, "type": "ok", "f": "write", "value": p % k} for p in range(n)]
    for p, t, f, v in [
        (99, "invoke", "read", None),
        (99, "ok", "read", 0),
        (98, "invoke", "read", None),
        (98, "ok", "read", 1),
    ]:
        rows.append({"process": p, "type": t, "f": f, "value": v})
    return rows


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, ["check", *args], catch_exceptions=False)


def test_linearizable_file_exits_0(tmp_path: Path) -> None:
    f = write(tmp_path / "ok.jsonl", LINEAR)
    r = run(str(f), "--initial", "0")
    assert r.exit_code == 0, r.output
    assert f"{f}: linearizable (4 ops" in r.stdout
    assert "model cas-register, default for jsonl" in r.stdout


def test_non_linearizable_file_exits_1_and_prints_the_narrative(tmp_path: Path) -> None:
    f = write(tmp_path / "stale.jsonl", STALE)
    r = run(str(f), "--model", "register")
    assert r.exit_code == 1, r.output
    assert f"{f}: NOT linearizable (6 ops" in r.stdout
    assert "process 2's read → 1 (ops 4–5)" in r.stdout
    assert "process 1's write 4 (ops 2–3)" in r.stdout
    assert "a contradiction" in r.stdout


def test_out_writes_results_timeline_and_a_replayable_anomaly(tmp_path: Path) -> None:
    f = write(tmp_path / "stale.jsonl", STALE)
    out = tmp_path / "out"
    r = run(str(f), "--model", "register", "--out", str(out))
    assert r.exit_code == 1, r.output
    doc = json.loads((out / "results.json").read_text())
    assert doc["valid"] is False
    lin = doc["checkers"]["linearizable"]
    assert lin["valid"] is False and lin["stats"]["keys"] == 1
    (anomaly,) = lin["anomalies"]
    assert (
        anomaly["kind"] == "nonlinearizable"
        and anomaly["fingerprint"] == "nonlinearizable/register"
    )
    assert anomaly["history"] == "anomalies/1.jsonl"
    assert "anomalies/1.jsonl" in doc["files"] and "linear.html" in doc["files"]
    assert "read → 1" in (out / "linear.html").read_text()
    assert (out / "linear-1.png").read_bytes().startswith(b"\x89PNG")
    # The shrunk sub-history is a regression case: checking it fails again.
    again = run(str(out / anomaly["history"]), "--model", "register")
    assert again.exit_code == 1, again.output


def test_a_run_directory_gets_results_written_into_it(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    write(run_dir / "history.jsonl", STALE)
    (run_dir / "results.json").write_text(
        json.dumps({"valid": True, "checkers": {"perf": {"valid": True}}})
    )
    r = run(str(run_dir), "--model", "register")
    assert r.exit_code == 1, r.output
    doc = json.loads((run_dir / "results.json").read_text())
    assert set(doc["checkers"]) == {"perf", "linearizable"}
    assert doc["valid"] is False
    assert (run_dir / "anomalies" / "1.jsonl").exists()


def test_a_run_directory_is_rechecked_with_its_workload_checkers(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    write(run_dir / "history.jsonl", [dict(r, value=["k7", r["value"]]) for r in STALE])
    (run_dir / "test.json").write_text(
        json.dumps({"workload": "register", "options": {"workload": "register"}})
    )
    (run_dir / "results.json").write_text(json.dumps({"valid": True, "run": {"ops": 6}}))
    r = run(str(run_dir))
    assert r.exit_code == 1, r.output
    assert "checkers of workload register" in r.stdout
    assert "On key 'k7'" in r.stdout
    doc = json.loads((run_dir / "results.json").read_text())
    assert doc["valid"] is False and doc["run"] == {"ops": 6}
    assert doc["anomalies"][0]["history"] == "anomalies/1.jsonl"
    assert doc["checkers"]["linearizable"]["anomalies"][0]["history"] == "anomalies/1.jsonl"


def test_timeout_is_unknown_exit_2(tmp_path: Path) -> None:
    f = write(tmp_path / "hard.jsonl", hard_rows())
    r = run(str(f), "--initial", "0", "--timeout", "0.3")
    assert r.exit_code == 2, r.output
    assert "unknown (timeout after 0.3 s)" in r.stdout


def test_verbose_prints_a_line_per_key(tmp_path: Path) -> None:
    rows = [dict(r, value=["k1", r["value"]]) for r in LINEAR] + [
        dict(r, value=["k2", r["value"]]) for r in STALE
    ]
    f = write(tmp_path / "keys.jsonl", rows)
    r = run(str(f), "--model", "register", "--independent", "--verbose")
    assert r.exit_code == 1, r.output
    assert "key k1: linearizable" in r.stdout
    assert "key k2: NOT linearizable" in r.stdout
    assert "On key 'k2'" in r.stdout


BAD_INPUTS = {
    "truncated-json": (
        '{"process": 0, "type": "invoke", "f": "write", "value": 1}\n{"process": 0, "type": "ok", "f": "wri',
        2,
    ),
    "completion-without-invoke": ('{"process": 0, "type": "ok", "f": "write", "value": 1}\n', 1),
    "second-invoke": (
        '{"process": 0, "type": "invoke", "f": "write", "value": 1}\n{"process": 0, "type": "invoke", "f": "write", "value": 2}\n',
        2,
    ),
    "wrong-shape": (
        '{"process": 0, "type": "invoke", "f": "write", "value": 1}\n{"process": 0, "type": "ok", "f": "write", "value": 1}\n{"process": 0, "type": "invoke", "f": "cas", "value": 3}\n{"process": 0, "type": "ok", "f": "cas", "value": 3}\n',
        3,
    ),
    "empty": ("", None),
    "blank-lines-only": ("\n\n", None),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_one_line_naming_file_and_line(tmp_path: Path, case: str) -> None:
    text, line = BAD_INPUTS[case]
    f = tmp_path / f"{case}.jsonl"
    f.write_text(text)
    r = run(str(f))
    assert r.exit_code == 3, r.output
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    if line is None:  # nothing to point at: the file itself is the problem
        assert lines[0].startswith(f"seam: {f}: no operations"), lines[0]
    else:
        assert lines[0].startswith(f"seam: {f}:{line}: "), lines[0]


def test_missing_file_and_unknown_model(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    r = run(str(missing))
    assert r.exit_code == 3 and r.stderr == f"seam: {missing}: no such file or directory\n"
    f = write(tmp_path / "ok.jsonl", LINEAR)
    r = run(str(f), "--model", "queue")
    assert r.exit_code == 3 and r.stderr.count("\n") == 1 and "unknown model 'queue'" in r.stderr
    r = run(str(tmp_path), "--model", "register")
    assert r.exit_code == 3 and "no history.jsonl" in r.stderr


def test_worst_verdict_wins_across_files(tmp_path: Path) -> None:
    ok = write(tmp_path / "ok.jsonl", LINEAR)
    stale = write(tmp_path / "stale.jsonl", STALE)
    hard = write(tmp_path / "hard.jsonl", hard_rows())
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert run(str(ok), str(stale), "--initial", "0").exit_code == 1
    assert run(str(ok), str(hard), "--initial", "0", "--timeout", "0.3").exit_code == 2
    assert run(str(hard), str(stale), "--initial", "0", "--timeout", "0.3").exit_code == 1
    r = run(str(stale), str(empty), str(ok), "--initial", "0")
    assert r.exit_code == 3
    assert r.stdout.count("linearizable (") == 2  # the good files were still checked


def test_several_files_with_out_get_one_directory_each(tmp_path: Path) -> None:
    a = write(tmp_path / "a.jsonl", STALE)
    (tmp_path / "b").mkdir()
    b = write(tmp_path / "b" / "a.jsonl", LINEAR)
    out = tmp_path / "out"
    assert run(str(a), str(b), "--model", "register", "--out", str(out)).exit_code == 1
    assert json.loads((out / "a" / "results.json").read_text())["valid"] is False
    assert json.loads((out / "a-2" / "results.json").read_text())["valid"] is True


def test_formats_listed_match_the_readers() -> None:
    import harness.formats as formats
    from harness.commands.check import FORMATS

    assert getattr(formats, "FORMATS", FORMATS) == FORMATS


def test_console_script_prints_one_line_and_no_traceback(tmp_path: Path) -> None:
    f = tmp_path / "bad.jsonl"
    f.write_text('{"process": 0, "type": "ok", "f": "read", "value": 1}\n')
    seam = REPO / ".venv" / "bin" / "seam"
    argv = [str(seam)] if seam.exists() else [sys.executable, "-m", "harness.cli"]
    p = subprocess.run([*argv, "check", str(f)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 3
    assert p.stderr.startswith(f"seam: {f}:1: ") and p.stderr.count("\n") == 1, p.stderr
    assert "Traceback" not in p.stderr


# Oracle histories (Knossos EDN, Porcupine etcd and kv logs), one of each verdict.
ORACLE_CASES = [
    ("knossos/cas-register/bad/cas-failure.edn", ["--initial", "0"], 1),
    ("knossos/cas-register/good/memstress3-12.edn", ["--initial", "0"], 0),
    ("porcupine/jepsen/etcd_000.log", [], 1),
    ("porcupine/jepsen/etcd_007.log", [], None),
    ("porcupine/kv/c10-bad.txt", [], 1),
    ("porcupine/kv/c10-ok.txt", [], 0),
    ("porcupine/jepsen/etcd_095.log", [], 3),
]


@pytest.mark.parametrize(("name", "extra", "code"), ORACLE_CASES)
def test_oracle_files(name: str, extra: list[str], code: int | None) -> None:
    path = ORACLE / name
    if not path.exists():
        require_oracle(path)
    manifest = {m["file"]: m for m in json.loads((ORACLE / "MANIFEST.json").read_text())}
    if code is None:
        code = {"linearizable": 0, "not-linearizable": 1, "unknown": 3}[manifest[name]["expected"]]
    r = run(str(path), *extra)
    assert r.exit_code == code, r.output
    if code == 1:
        assert "a contradiction" in r.stdout
    if code == 3:
        assert r.stderr.startswith(f"seam: {path}")


def test_checking_a_valid_file_loads_no_rendering_libraries(tmp_path: Path) -> None:
    """Many small files must stay fast: networkx, jinja2 and matplotlib load only to explain."""
    f = write(tmp_path / "ok.jsonl", LINEAR)
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from harness.cli import cli\n"
        f"r = CliRunner().invoke(cli, ['check', {str(f)!r}, '--initial', '0'])\n"
        "heavy = [m for m in ('networkx', 'jinja2', 'matplotlib') if m in sys.modules]\n"
        "print(r.exit_code, heavy)\n"
    )
    p = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO
    )
    assert p.stdout.strip() == "0 []", p.stdout + p.stderr


def test_rechecking_a_stored_run_rewrites_results_anomalies_and_the_report(tmp_path: Path) -> None:
    """One results writer: a re-check leaves the layout a run leaves, and no stale report."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    write(run_dir / "history.jsonl", [dict(r, value=["k7", r["value"]]) for r in STALE])
    (run_dir / "test.json").write_text(json.dumps(
        {"name": "register", "seed": 9, "workload": "register", "target": {"name": "pipeline"},
         "options": {"workload": "register", "seed": 9}}))
    (run_dir / "results.json").write_text(json.dumps({"valid": True, "run": {"ops": 6}}))
    (run_dir / "report.html").write_text("<html>OLD-REPORT: VALID</html>")
    r = run(str(run_dir))
    assert r.exit_code == 1, r.output
    doc = json.loads((run_dir / "results.json").read_text())
    assert (doc["schema"], doc["test"], doc["seed"], doc["valid"], doc["exit_code"]) == (2, "register", 9, False, 1)
    assert doc["run"] == {"ops": 6}  # what the re-check did not redo is kept
    (first,) = [a for a in doc["anomalies"] if a["kind"] == "nonlinearizable"]
    assert first["history"] == "anomalies/1.jsonl" and (run_dir / first["history"]).exists()
    report = (run_dir / "report.html").read_text()
    assert "OLD-REPORT" not in report and "INVALID" in report.upper()
    # And again: the same files, the same verdict (a re-check replaces, never appends).
    assert run(str(run_dir)).exit_code == 1
    again = json.loads((run_dir / "results.json").read_text())
    named = {a["history"] for a in again["anomalies"] if a.get("history")}
    assert {f"anomalies/{p.name}" for p in (run_dir / "anomalies").iterdir()} == named
