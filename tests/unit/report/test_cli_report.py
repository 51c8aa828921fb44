"""`seam report DIR` through the real entry point: exit codes and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main
from tests.unit.report.synthetic import write_run


def _seam(argv: list[str]) -> int:
    """Run the console entry point; its exit status (it returns normally on success)."""
    try:
        main(argv)
    except SystemExit as e:
        return int(e.code or 0)
    return 0


def test_report_renders_a_run_given_as_results_latest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = write_run(tmp_path / "results")
    (tmp_path / "results" / "latest").symlink_to(run.relative_to(tmp_path / "results"))
    assert _seam(["report", str(tmp_path / "results" / "latest")]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {run.resolve() / 'report.html'}"
    assert (run / "report.html").stat().st_size > 1000
    assert (run / "graphs" / "latency.png").exists()


def test_report_on_a_directory_that_is_not_a_run_exits_3_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _seam(["report", str(tmp_path)]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("seam: ") and "not a stored run" in err[0]


def test_report_and_serve_are_registered_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert _seam(["--help"]) == 0
    out = capsys.readouterr().out
    assert "report" in out and "serve" in out
    assert _seam(["serve", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--port" in out and "127.0.0.1" in out


def test_serve_on_a_missing_results_directory_exits_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _seam(["serve", "--port", "0", "--results", str(tmp_path / "nope")]) == 3
    assert "no such results directory" in capsys.readouterr().err
