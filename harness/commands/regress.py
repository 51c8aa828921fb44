"""`seam regress`: re-check every saved anomaly in the regression corpus.

One line per case (``ok still found``, ``FAIL fixed``, ``FAIL changed``,
``ERROR``) and a summary; the exit code is 0 only when every case still
gives the verdict its header expects, 1 when one does not, 3 when a case
cannot be read. ``--promote RUN_DIR`` copies a run's cases into the corpus
first.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from harness.regress import Judgement

EXIT_OK, EXIT_FAIL, EXIT_BAD = 0, 1, 3


@click.command(
    "regress",
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="""\b
Examples:
  seam regress                                   # every case under regressions/
  seam regress regressions/duplicate-effect      # one folder, or one case file
  seam regress --promote results/orders/latest   # add a run's cases, then re-check all
  seam check regressions/stale-read/x.jsonl      # one case, explained
\b
Exit codes: 0 every case gives its expected verdict, 1 some case does not
(fixed or changed), 3 a case cannot be read.""",
)
@click.argument("corpus", required=False, metavar="[DIR]", type=click.Path(path_type=Path))
@click.option("--promote", "promote_run", type=click.Path(file_okay=False, path_type=Path),
              metavar="RUN_DIR", help="Copy the run's anomalies/<n>.jsonl cases into DIR first "
              "(one per fingerprint).")
@click.option("--every", is_flag=True, help="With --promote: every case, not one per fingerprint.")
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Also write the judgements as JUnit XML (harness/junit.py).")
@click.pass_context
def regress(ctx: click.Context, corpus: Path | None, promote_run: Path | None, every: bool,
            junit: Path | None) -> None:
    """Re-check every regression case in DIR (default: regressions/ at the project root).

    A case is a JSON Lines file whose first line says which checker found
    the anomaly, with which model, initial state and --independent, and
    which verdict and fingerprint a re-check must give.
    """
    from harness.core.errors import InputError
    from harness.regress import DEFAULT_DIR, check_case, find_cases, promote

    root = corpus if corpus is not None else _project_corpus(DEFAULT_DIR)
    if promote_run is not None:
        for src, dst in promote(promote_run, root, every=every):
            click.echo(f"promoted {src} -> {dst}")
    if not root.exists():
        raise InputError(f"{root}: no such corpus; pass DIR, or promote a run into it with "
                         f"`seam regress --promote RUN_DIR {root}`")
    cases = find_cases(root)
    if not cases:
        raise InputError(f"{root}: no *.jsonl regression cases in it")
    judgements = []
    for path in cases:
        j = check_case(path)
        judgements.append(j)
        click.echo(_line(j))
    failed = [j for j in judgements if not j.ok]
    click.echo(_summary(judgements, failed))
    if junit is not None:
        _write_junit(junit, judgements)
    if any(j.status == "error" for j in failed):
        ctx.exit(EXIT_BAD)
    ctx.exit(EXIT_FAIL if failed else EXIT_OK)


def _line(j: Judgement) -> str:
    mark = "ok  " if j.ok else "ERROR" if j.status == "error" else "FAIL"
    color = "green" if j.ok else "red"
    return f"{click.style(mark, fg=color, bold=True)} {j.status:<11} {j.name}  ({j.detail}, {j.seconds:.2f} s)"


def _summary(judgements: list[Judgement], failed: list[Judgement]) -> str:
    if not failed:
        return f"{len(judgements)} cases: all give their expected verdict"
    names = ", ".join(f"{j.name} ({j.status})" for j in failed)
    return f"{len(judgements)} cases: {len(judgements) - len(failed)} pass, {len(failed)} FAIL: {names}"


def _project_corpus(name: str) -> Path:
    """``regressions/`` in the nearest folder up from here that has one next to a
    pyproject.toml (the project root); else ``./regressions``."""
    here = Path.cwd()
    for folder in (here, *here.parents):
        if (folder / name).is_dir() and (folder / "pyproject.toml").is_file():
            return folder / name
    return here / name


def _write_junit(path: Path, judgements: list[Judgement]) -> None:
    """One JUnit testcase per case, through harness/junit.py (the project's one writer):
    a pass is passed, fixed and changed are failures, an unreadable case an error."""
    from harness.junit import CaseResult, write_junit

    outcome = {"fixed": "failed", "changed": "failed", "error": "error"}
    cases = [CaseResult(name=j.name, classname=f"regressions.{_fingerprint(j)}",
                        outcome="passed" if j.ok else outcome[j.status], seconds=j.seconds,
                        message="" if j.ok else f"{j.status}: {j.detail}", details=j.detail,
                        report=str(j.path))
             for j in judgements]
    click.echo(f"wrote {write_junit(path, 'seam regress', cases)}")


def _fingerprint(j: Judgement) -> str:
    return j.header.fingerprint.replace("/", ".") if j.header is not None else "unreadable"
