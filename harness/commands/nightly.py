"""`seam nightly PLAN.toml`: a plan of tests within a wall-clock budget.

The plan's options are checked against ``seam test``'s own before anything
runs (a typo is one line and exit 3). The runs go least-tried fault x
workload combinations first (from the run index), one ``seam test``
subprocess at a time; SIGTERM, SIGHUP or Ctrl-C stops the running test
cleanly (it still heals and checks) and the night ends with what it has.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from harness.nightly.plan import OptionKind

EPILOG = """\b
Examples:
  seam nightly docs/nightly.toml                       # the plan's budget, results/
  seam nightly docs/nightly.toml --budget 2h --junit night.xml
  seam nightly docs/nightly.toml --dry-run             # the order the runs would go in
  0 1 * * *  cd /srv/seam && .venv/bin/seam nightly docs/nightly.toml >> results/nightly.log 2>&1
\b
Writes results/nights/<stamp>/: index.html (the summary), junit.xml, night.json,
logs/. Each run is an ordinary run under results/<test>/, in `seam runs`.
Exit codes: 1 if any run found anomalies, else 2 if any was unknown, else 3 if
any failed or nothing ran, else 0."""


@click.command("nightly", epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.argument("plan_file", metavar="PLAN.toml", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--budget", default=None, metavar="D", help="Override the plan's wall-clock budget: 90m, 6h, seconds.")
@click.option("--results", default=None, metavar="DIR", help="Override the plan's results directory (default results).")
@click.option("--seed", type=int, default=None, metavar="N", help="Seed of the night's run seeds. Default: random, in night.json.")
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="FILE",
              help="Also write the night's JUnit XML here (it is always in the night directory).")
@click.option("--dry-run", is_flag=True, help="Print the runs in the order they would go, run nothing.")
def nightly(plan_file: Path, budget: str | None, results: str | None, seed: int | None, junit: Path | None,
            dry_run: bool) -> int:
    """Run the tests of PLAN.toml one after another within its budget."""
    from harness.nightly import Night, aggregate_exit, finish_night, load_plan
    from harness.nightly.plan import parse_duration

    known = seam_test_options()
    plan = load_plan(plan_file, known)
    if budget is not None:
        plan.budget = parse_duration(budget, "--budget")
    if results is not None:
        plan.results = results
    seed = seed if seed is not None else int.from_bytes(os.urandom(4), "big") % 1_000_000
    if dry_run:
        _print_schedule(plan, seed)
        return 0
    night = Night(plan, known, seed=seed, say=click.echo)
    click.echo(f"seam nightly: night {night.stamp}, budget {plan.budget:g} s, seed {seed}, in {night.dir}")
    record = night.run()
    page, junit_path = finish_night(night, junit)
    done = [r for r in record.runs if r.status == "done"]
    new = sorted({f for r in done for f in r.new})
    click.echo(f"seam nightly: {len(done)} of {len(record.runs)} runs made"
               + (f", stopped by {record.stopped}" if record.stopped else "")
               + (f"; NEW fingerprints: {', '.join(new)}" if new else ""))
    click.echo(f"summary: {page}")
    click.echo(f"junit:   {junit_path}" + (f" (and {junit})" if junit else ""))
    return aggregate_exit(record.runs)


def seam_test_options() -> dict[str, OptionKind]:
    """``seam test``'s options by long name, with how each is given."""
    from harness.commands.test import test
    from harness.nightly.plan import OptionKind

    kinds: dict[str, OptionKind] = {}
    for p in test.params:
        for opt in getattr(p, "opts", []):
            if opt.startswith("--"):
                kinds[opt[2:]] = OptionKind(flag=bool(getattr(p, "is_flag", False)),
                                            multiple=bool(getattr(p, "multiple", False)))
    return kinds


def _print_schedule(plan: object, seed: int) -> None:
    from harness.index import RunIndex
    from harness.nightly.plan import Plan
    from harness.nightly.schedule import schedule

    assert isinstance(plan, Plan)
    with RunIndex(plan.results) as index:
        index.sync()
        slots = schedule(plan.tests, index.coverage(), seed)
    total = 0.0
    for s in slots:
        total += s.test.time_limit + plan.overhead
        fits = "" if total <= plan.budget else "  (past the budget: skipped unless runs go faster)"
        click.echo(f"{s.number:3d}. {s.test.name}: {s.test.workload}, faults {s.faults or 'none'}"
                   f"{', bugs ' + ','.join(s.test.bugs) if s.test.bugs else ''}, seed {s.seed}, "
                   f"tried {s.tried} times before{fits}")
