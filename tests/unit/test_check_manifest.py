"""`seam check --manifest`: many histories in one process, each with its own model,
initial state and expected verdict; bad manifests are one line and exit 3."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from harness.cli import cli
from tests.conftest import ORACLE, require_oracle
from tests.unit.test_cli_check import LINEAR, STALE, write

# Read 0 with no write before it: linearizable only from the initial state 0.
READ_ZERO = [
    {"process": 0, "type": "invoke", "f": "read", "value": None},
    {"process": 0, "type": "ok", "f": "read", "value": 0},
]
MUTEX_EDN = ORACLE / "knossos" / "mutex" / "bad" / "etcd.edn"


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, ["check", *args], catch_exceptions=False)


def manifest(tmp_path: Path, rows: list[dict[str, Any]]) -> Path:
    write(tmp_path / "linear.jsonl", LINEAR)
    write(tmp_path / "stale.jsonl", STALE)
    write(tmp_path / "zero.jsonl", READ_ZERO)
    path = tmp_path / "corpus.json"
    path.write_text(json.dumps(rows))
    return path


def test_each_file_gets_its_own_model_and_initial_state(tmp_path: Path) -> None:
    require_oracle(MUTEX_EDN)
    m = manifest(tmp_path, [
        {"file": "zero.jsonl", "model": "cas-register", "initial": 0, "expected": "linearizable"},
        {"file": "zero.jsonl", "expected": "not-linearizable", "note": "initial null: read 0 is stale"},
        {"file": "stale.jsonl", "model": "register", "expected": "not-linearizable"},
        {"file": str(MUTEX_EDN), "model": "mutex", "initial": "unlocked", "expected": "not-linearizable"},
    ])
    result = run("--manifest", str(m))
    lines = [line for line in result.output.splitlines() if not line.startswith("  ")]
    assert lines[0].startswith(f"{tmp_path}/zero.jsonl: linearizable")
    assert lines[1].startswith(f"{tmp_path}/zero.jsonl: NOT linearizable")
    assert "model register" in lines[2] and "model mutex" in lines[3]
    assert lines[-1] == f"{m}: 4 of 4 files have an expected verdict; every one gives it"
    assert result.exit_code == 0


def test_a_file_that_does_not_give_its_expected_verdict_fails_the_run(tmp_path: Path) -> None:
    m = manifest(tmp_path, [
        {"file": "linear.jsonl", "expected": "linearizable"},
        {"file": "stale.jsonl", "expected": "linearizable"},
    ])
    result = run("--manifest", str(m))
    assert "expected linearizable: this file does not give its expected verdict" in result.output
    assert result.output.splitlines()[-1].endswith(f"1 do not give it: {tmp_path}/stale.jsonl")
    assert result.exit_code == 1


def test_without_expectations_the_exit_code_is_the_usual_worst_verdict(tmp_path: Path) -> None:
    m = manifest(tmp_path, [{"file": "linear.jsonl"}, {"file": "stale.jsonl"}])
    result = run("--manifest", str(m))
    assert result.exit_code == 1 and "expected verdict" not in result.output


def test_a_missing_file_is_bad_input_and_the_others_are_still_checked(tmp_path: Path) -> None:
    m = manifest(tmp_path, [
        {"file": "gone.jsonl", "expected": "linearizable"},
        {"file": "linear.jsonl", "expected": "linearizable"},
    ])
    result = CliRunner().invoke(cli, ["check", "--manifest", str(m)])
    assert f"seam: {tmp_path}/gone.jsonl: no such file or directory" in result.output
    assert f"{tmp_path}/linear.jsonl: linearizable" in result.output
    assert "1 could not be checked" in result.output
    assert result.exit_code == 3


@pytest.mark.parametrize(("rows", "problem"), [
    ([{"file": "linear.jsonl", "intial": 0}], "entry 1: unknown key 'intial'"),
    ([{"file": "linear.jsonl"}, {"model": "mutex"}], 'entry 2: "file" must name a history file'),
    ([{"file": "linear.jsonl", "expected": "valid"}], '"expected" must be one of linearizable'),
    ([{"file": "linear.jsonl", "model": "regster"}], "unknown model 'regster'"),
    ([{"file": "linear.jsonl", "format": "csv"}], '"format" must be one of auto'),
    ([{"file": "linear.jsonl", "initial": float("nan")}], "not a manifest"),
    ({"file": "linear.jsonl"}, "a manifest is a non-empty JSON array"),
    ([], "a manifest is a non-empty JSON array"),
])
def test_a_bad_manifest_is_one_line_and_exit_3(tmp_path: Path, rows: Any, problem: str) -> None:
    m = manifest(tmp_path, rows)
    result = CliRunner().invoke(cli, ["check", "--manifest", str(m)])
    assert result.exit_code == 3
    assert problem in result.output and len(result.output.splitlines()) == 1
    assert "Traceback" not in result.output


@pytest.mark.parametrize(("args", "problem"), [
    (["h.jsonl"], "give FILE arguments or --manifest, not both"),
    (["--model", "mutex"], "--model with --manifest"),
    (["--initial", "0"], "--initial with --manifest"),
    (["--independent"], "--independent with --manifest"),
])
def test_options_the_manifest_sets_per_file_are_refused(tmp_path: Path, args: list[str],
                                                         problem: str) -> None:
    m = manifest(tmp_path, [{"file": "linear.jsonl"}])
    result = CliRunner().invoke(cli, ["check", "--manifest", str(m), *args])
    assert result.exit_code == 3 and problem in result.output


def test_no_file_and_no_manifest_says_what_to_give() -> None:
    result = CliRunner().invoke(cli, ["check"])
    assert result.exit_code == 3 and "or --manifest FILE" in result.output
