"""Stored runs, from their files alone: heal them, stop what they left, re-check them,
and write a check's results (the same way for a run and a re-check).

Part of the composition root: it rebuilds a run's Remote (``nodes``) and
what heal needs of its target (the target folder's ``recover``) from
``test.json``, and hands them to ``harness.recover``, which names nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.assemble import nodes
from harness.core.errors import InputError
from harness.core.op import History
from harness.core.placement import NodeAddr
from harness.core.protocols import Checker
from harness.core.verdict import CheckResult, exit_code
from harness.recover import StoredRun, control_alive, find_runs, load_run
from harness.regress.evidence import NO_FILES, CaseFiles
from harness.spec import TestSpec
from harness.store import TEST_JSON, read_json_object, write_results
from harness.targets import TargetKind, WorkloadKind, of_run

log = logging.getLogger("seam.runner")
Report = Callable[[str], None]


def target_of(test: dict[str, Any]) -> TargetKind:
    """The target a stored run ran (``harness.targets.of_run``)."""
    return of_run(test)


def workload_of(test: dict[str, Any], source: Path) -> WorkloadKind:
    kind = target_of(test)
    name = str(test.get("workload") or "")
    if name not in kind.workloads:
        raise InputError(f"{source}: workload {name!r} is not one of target {kind.name}'s "
                         f"({', '.join(sorted(kind.workloads))}); give --model to check it as a plain history")
    return kind.workloads[name]


def checker_for_run(test: dict[str, Any], source: Path) -> Checker:
    """The composed checker a stored run's workload used, rebuilt from its test.json."""
    options = test.get("options") if isinstance(test.get("options"), dict) else {}
    return workload_of(test, source).checker(TestSpec.from_json(options or {}))


# ---------------------------------------------------------------------------
# results


def write_check(out_dir: Path, result: CheckResult, history: History, *, stored_run: bool,
                run: dict[str, Any] | None = None) -> list[str]:
    """What a check leaves in ``out_dir``: each non-linearizable key drawn, then
    results.json, anomalies/ and series.json; for a stored run (``seam test`` at its
    end, ``seam check RUN_DIR``) also test.json's name and seed in results.json and
    the report rendered again, so a run and a re-check leave the same files and
    report.html never shows a stale verdict. Returns the files written, relative."""
    drawn = render_failures(out_dir, result)
    result.files = [*result.files, *drawn]
    test = read_json_object(out_dir / TEST_JSON) if stored_run else None
    written = write_results(out_dir, result, history=history, test=test, run=run,
                            case_files=_case_files(test)) + drawn
    if stored_run:
        render_report(out_dir)
        if (out_dir / "report.html").exists():
            written.append("report.html")
        from harness.index import index_finished_run

        index_finished_run(out_dir)  # seam runs finds it; a failure here is only a warning
    return written


def _case_files(test: dict[str, Any] | None) -> CaseFiles:
    """Which node files the run's target keeps in a case; none for a plain history or a
    run whose target cannot be found any more (its cases then hold ops only)."""
    if not test:
        return NO_FILES
    try:
        return target_of(test).case_files
    except Exception as e:  # noqa: BLE001 - an unknown target still gets its results written
        log.warning("regression cases without node files: %s", e)
        return NO_FILES


def finish(run_dir: Path, result: CheckResult, history: History, *, run: dict[str, Any] | None = None) -> int:
    """The end of a run: ``write_check`` on its directory; returns the exit code."""
    write_check(run_dir, result, history, stored_run=True, run=run)
    return exit_code(result.valid)


def render_failures(out_dir: Path, result: CheckResult) -> list[str]:
    """linear.html and linear-<n>.png for each non-linearizable key; the files, relative.

    Drawn before results.json is written, so its ``files`` lists them."""
    failures = [a.details for a in result.anomalies if a.kind == "nonlinearizable"]
    if not failures:
        return []
    from checkers.report.linear import render_all

    return [str(f.relative_to(out_dir)) for f in render_all(failures, out_dir)]


def render_report(run_dir: Path) -> None:
    """report.html and graphs/; a rendering failure is logged, never a failed run."""
    ui_log = logging.getLogger("seam.report")
    try:
        from checkers.report.render import render_run

        ui_log.info("report: %s", render_run(run_dir))
    except Exception as e:
        ui_log.warning("could not render the report (seam report %s tries again): %s", run_dir, e)


# ---------------------------------------------------------------------------
# heal and leftovers


def _addrs(run: StoredRun) -> dict[str, NodeAddr]:
    return {n: NodeAddr.from_json(n, info) for n, info in run.nodes.items()}


def _recover_options(run: StoredRun) -> dict[str, Any]:
    """The options the target's ``recover`` gets: the run's, plus whether it ran under fake time."""
    described = run.test.get("faults")
    if not isinstance(described, dict):
        described = {}
    skew = any(isinstance(f, dict) and f.get("ability") == "Skewable" for f in described.values())
    skew = skew or "clock" in (run.options.get("nemesis") or [])  # runs from before test.json said
    return {**run.options, "skew": skew}


def heal_run(run_dir: Path, *, report: Report = lambda line: None) -> list[Any]:
    """Undo every outstanding fault of the stored run in ``run_dir`` (``seam heal``)."""
    from harness.recover import heal_run as heal

    run = load_run(run_dir)
    kind = target_of(run.test)
    remote = nodes.remote_for_run(run.options, list(run.nodes), run.path / TEST_JSON)

    def target_for(say: Report) -> Any:
        if kind.recover is None:
            return None
        return kind.recover(remote, _addrs(run), _recover_options(run), say)

    return heal(run, remote=remote, target_for=target_for,
                gone=nodes.gone_nodes(run.options, list(run.nodes)), report=report)


def stop_leftovers(run_dir: Path, *, report: Report = lambda line: None) -> list[int]:
    """SIGKILL the node processes a dead run left running (``seam heal --stop-nodes``)."""
    from harness.recover import stop_leftovers as stop

    run = load_run(run_dir)
    remote = nodes.remote_for_run(run.options, list(run.nodes), run.path / TEST_JSON)
    return stop(run, remote=remote, report=report)


def heal_previous(test_dir: Path, current: Path) -> None:
    """Undo what earlier runs of this test left behind when their control node died:
    open faults in their fault ledgers, then their node processes (which would
    otherwise still hold this run's ports)."""

    def say(line: str) -> None:
        log.info("previous run: %s", line)

    for run_dir in find_runs([test_dir], TEST_JSON):
        if run_dir.resolve() == current.resolve():
            continue
        try:
            if control_alive(load_run(run_dir)):
                continue
            heal_run(run_dir, report=say)
            stop_leftovers(run_dir, report=say)
        except Exception as e:  # its nodes may be gone; this run's own heal does not depend on it
            log.warning("could not heal what %s left: %s", run_dir, e)
