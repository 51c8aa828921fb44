"""bench/detect.py's weak-quorum row counts what the history shows, never the config finding alone."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "detect.py"


@pytest.fixture(scope="module")
def detect():
    spec = importlib.util.spec_from_file_location("seam_bench_detect_wq", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def outcome(detect, tmp_path, kinds):
    """A weak-quorum scenario run whose results.json lists ``kinds`` (all errors)."""
    workload, scenario, _ = detect.ZOO["weak-quorum"]
    r = detect.Run("scenario", workload, "weak-quorum", scenario, [], 1)
    r.exit_code = 1 if kinds else 0
    (tmp_path / "latest").mkdir(parents=True, exist_ok=True)
    (tmp_path / "latest" / "results.json").write_text(json.dumps(
        {"valid": not kinds, "anomalies": [{"kind": k, "severity": "error"} for k in kinds]}))
    detect._read_outcome(r, "", "", tmp_path)
    return r


@pytest.mark.parametrize("kinds,detected", [
    (["weak-quorum-config"], False),  # the nodes' settings alone: a finding, not a detection
    ([], False),
    (["weak-quorum-config", "stale-read"], True),
    (["nonlinearizable"], True),
])
def test_only_the_historys_kinds_detect_the_flag(detect, tmp_path, kinds, detected):
    assert outcome(detect, tmp_path, kinds).detected is detected


def test_the_row_shows_the_config_finding_beside_the_rate(detect, tmp_path, capsys):
    from rich.console import Console

    runs = [outcome(detect, tmp_path / str(i), k) for i, k in
            enumerate((["weak-quorum-config", "stale-read"], ["weak-quorum-config"]))]
    args = detect._parse(["--only", "weak-quorum", "--seeds", "2", "--skip-mix", "--skip-clean"])
    detect._report(Console(width=250), runs, ["weak-quorum"], {}, args, "local", 60.0, False)
    out = capsys.readouterr().out
    assert "stale-read or nonlinearizable (config: weak-quorum-config in 2/2 runs)" in out
    assert "1/2 50%: not met" in out


def test_base_port_is_passed_to_every_run(detect, tmp_path):
    args = detect._parse(["--only", "weak-quorum", "--seeds", "1", "--skip-mix", "--skip-clean",
                          "--base-port", "7300"])
    [run] = detect._plan(args, ["weak-quorum"], {}, iter(range(5, 9)))
    argv = detect._argv(run, args, "local", tmp_path)
    assert argv[argv.index("--base-port") + 1] == "7300" and argv[argv.index("--bug") + 1] == "weak-quorum"
