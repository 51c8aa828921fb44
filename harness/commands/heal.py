"""`seam heal`: undo every fault that stored runs left applied.

Which runs: the run directories given, or with none every run under
``--results`` whose ``nemesis.jsonl`` still has outstanding faults (a crash
can leave them in any run, and healing is idempotent and cheap, so the
default looks everywhere rather than at ``results/latest`` only). A run
whose `seam test` process is still alive is skipped (its own nemesis heals
it at the end) unless ``--all`` is given.
"""

from __future__ import annotations

from pathlib import Path

import click


@click.command("heal")
@click.argument("run_dirs", nargs=-1, type=click.Path(path_type=Path))
@click.option("--results", "results", default="results", show_default=True, type=click.Path(path_type=Path),
              help="Where stored runs live; searched when no RESULTS_DIR is given.")
@click.option("--all", "include_live", is_flag=True,
              help="Also heal runs whose `seam test` process is still running.")
def heal(run_dirs: tuple[Path, ...], results: Path, include_live: bool) -> None:
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
    """
    from harness.core.errors import InputError, NemesisError, SeamError
    from nemesis.recover import control_alive, find_runs, heal_run, load_run
    from nemesis.state import outstanding

    roots = list(run_dirs) or [results]
    for root in roots:
        if not root.exists():
            raise InputError(f"{root}: no such directory; give a run directory or --results DIR")
    runs = [r for r in find_runs(roots) if outstanding(r / "nemesis.jsonl")]
    healed = 0
    failures: list[str] = []
    skipped: list[str] = []
    for run_dir in runs:
        try:
            if not include_live and control_alive(load_run(run_dir)):
                skipped.append(str(run_dir))
                continue
            done = heal_run(run_dir, report=lambda line, d=run_dir: click.echo(f"{d}: {line}"))
            healed += len(done)
        except SeamError as e:
            failures.append(f"{run_dir}: {e}")
    for d in skipped:
        click.echo(f"{d}: skipped, its `seam test` is still running (it heals itself; --all heals it now)")
    if failures:
        raise NemesisError(f"could not heal {len(failures)} run(s): " + "; ".join(failures)
                           + " (fix what is named and run `seam heal` again)")
    where = ", ".join(str(r) for r in roots)
    if healed:
        runs_done = len(runs) - len(skipped)
        click.echo(f"seam heal: healed {healed} fault(s) in {runs_done} run(s) under {where}")
    elif not skipped:
        click.echo(f"seam heal: nothing to heal under {where}")
