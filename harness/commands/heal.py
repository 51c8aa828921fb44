"""`seam heal`: undo every fault that stored runs left applied.

Which runs: the run directories given, or with none every run under
``--results`` whose ``nemesis.jsonl`` still has outstanding faults (a crash
can leave them in any run, and healing is idempotent and cheap, so the
default looks everywhere rather than at ``results/latest`` only). A run
whose `seam test` process is still alive is skipped (its own nemesis heals
it at the end) unless ``--all`` is given. ``--stop-nodes`` then stops the
node processes that dead runs left running (a SIGKILLed `seam test` never
stopped them), by the pids their seam.log records.
"""

from __future__ import annotations

from pathlib import Path

import click


@click.command("heal")
@click.argument("run_dirs", nargs=-1, metavar="[RESULTS_DIR]...", type=click.Path(path_type=Path))
@click.option(
    "--results",
    "results",
    default="results",
    show_default=True,
    type=click.Path(path_type=Path),
    help="Where stored runs live; searched when no RESULTS_DIR is given.",
)
@click.option(
    "--all",
    "include_live",
    is_flag=True,
    help="Also heal runs whose `seam test` process is still running.",
)
@click.option(
    "--stop-nodes",
    is_flag=True,
    help="Then stop the node processes that dead runs left running (by pid, from each run's seam.log).",
)
def heal(run_dirs: tuple[Path, ...], results: Path, include_live: bool, stop_nodes: bool) -> None:
    """Undo every fault Seam applied and did not heal.

    Reads each run's fault ledger (nemesis.jsonl), reaches its nodes as the
    run did (from test.json: local, netns or ssh) and removes Seam's iptables
    chains, SIGCONTs paused processes, resets skewed clocks, restarts killed
    nodes and clears application faults. Prints one line per fault and a
    summary. Running it twice is safe: the second run says there is nothing
    to heal. Exit 0 when everything is healed, 3 (with one line) otherwise.

    RESULTS_DIR may be a run (results/register/20261124T031500), a test's
    runs (results/register) or a whole results directory.

    \b
    Examples:
      seam heal                                  every run under results/
      seam heal results/latest                   the newest run only
      seam heal --results /data/seam-results
      seam heal --all                            include runs still in progress
      seam heal --stop-nodes                     and stop what crashed runs left running
    """
    from harness.core.errors import InputError, NemesisError

    roots = list(run_dirs) or [results]
    for root in roots:
        if not root.exists():
            raise InputError(
                f"{root}: no such directory; run where `seam test` ran, or give a run directory "
                "or --results DIR"
            )
    healed, runs, skipped, failures = _heal_runs(roots, include_live)
    stopped = 0
    if stop_nodes and not failures:
        stopped, failures = _stop_nodes(roots)
    for d in skipped:
        click.echo(
            f"{d}: skipped, its `seam test` is still running (it heals itself; --all heals it now)"
        )
    if failures:
        raise NemesisError(
            f"could not heal {len(failures)} run(s): "
            + "; ".join(failures)
            + " (fix what is named and run `seam heal` again)"
        )
    where = ", ".join(str(r) for r in roots)
    stops = f"; stopped {stopped} node process(es)" if stopped else ""
    if healed:
        click.echo(
            f"seam heal: healed {healed} fault(s) in {runs - len(skipped)} run(s) under {where}{stops}"
        )
    elif not skipped:
        click.echo(f"seam heal: nothing to heal under {where}{stops}")


def _echo_for(run_dir: Path):
    return lambda line: click.echo(f"{run_dir}: {line}")


def _heal_runs(roots: list[Path], include_live: bool) -> tuple[int, int, list[str], list[str]]:
    """Heal every run under ``roots`` with outstanding faults: (faults healed, runs, skipped, failures)."""
    from harness.assemble.stored import heal_run
    from harness.core.errors import SeamError
    from harness.recover import control_alive, find_runs, load_run
    from nemesis.state import outstanding

    runs = [r for r in find_runs(roots) if outstanding(r / "nemesis.jsonl")]
    healed, skipped, failures = 0, [], []
    for run_dir in runs:
        try:
            if not include_live and control_alive(load_run(run_dir)):
                skipped.append(str(run_dir))
                continue
            healed += len(heal_run(run_dir, report=_echo_for(run_dir)))
        except SeamError as e:  # heal the other runs, then report every failure
            failures.append(f"{run_dir}: {e}")
    return healed, len(runs), skipped, failures


def _stop_nodes(roots: list[Path]) -> tuple[int, list[str]]:
    """Stop the node processes of every dead, unfinished run under ``roots``: (stopped, failures)."""
    from harness.assemble.stored import stop_leftovers
    from harness.core.errors import SeamError
    from harness.recover import TEST_JSON, find_runs

    stopped, failures = 0, []
    for run_dir in find_runs(roots, TEST_JSON):
        try:
            stopped += len(stop_leftovers(run_dir, report=_echo_for(run_dir)))
        except SeamError as e:
            failures.append(f"{run_dir}: stopping its nodes: {e}")
    return stopped, failures
