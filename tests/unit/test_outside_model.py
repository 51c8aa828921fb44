"""A model from outside the tree works end to end: check, capture as a case, re-check."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from harness.cli import cli
from harness.formats.case import read_case

MODEL = "tests.unit.outside_model:Counter"


def op(index: int, process: int, type_: str, f: str, value: object) -> dict:
    return {"index": index, "time": index * 1000, "process": process, "type": type_, "f": f, "value": value}


#: add 1 completes, then a read that starts later sees 0: not linearizable for a counter.
STALE = [op(0, 0, "invoke", "add", 1), op(1, 0, "ok", "add", 1),
         op(2, 1, "invoke", "read", None), op(3, 1, "ok", "read", 0)]
FINE = [op(0, 0, "invoke", "add", 1), op(1, 0, "ok", "add", 1),
        op(2, 1, "invoke", "read", None), op(3, 1, "ok", "read", 1)]


def write(path: Path, ops: list[dict]) -> Path:
    path.write_text("".join(json.dumps(o) + "\n" for o in ops))
    return path


def seam(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_an_outside_model_checks_captures_and_rechecks_by_its_module_path(tmp_path: Path) -> None:
    assert seam("check", str(write(tmp_path / "fine.jsonl", FINE)), "--model", MODEL).exit_code == 0
    r = seam("check", str(write(tmp_path / "stale.jsonl", STALE)), "--model", MODEL, "--out", str(tmp_path / "out"))
    assert r.exit_code == 1, r.output

    case = read_case(tmp_path / "out" / "anomalies" / "1.jsonl")
    assert (case.header.model, case.header.initial) == (MODEL, 0)  # found again by its path
    assert seam("check", str(tmp_path / "out" / "anomalies" / "1.jsonl")).exit_code == 1


def test_a_model_path_that_does_not_import_or_is_no_model_is_one_line_exit_3(tmp_path: Path) -> None:
    history = str(write(tmp_path / "h.jsonl", FINE))
    missing = seam("check", history, "--model", "nosuchpkg.models:Counter")
    assert missing.exit_code == 3 and "cannot import it" in missing.output and "PYTHONPATH" in missing.output
    not_model = seam("check", history, "--model", "json:dumps")
    assert not_model.exit_code == 3 and "is not a model" in not_model.output
