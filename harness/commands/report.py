"""`seam report DIR`: render a stored run's report again from its files.

Reads ``results.json``, ``history.jsonl`` and ``nodes/*/metrics.jsonl``;
never contacts a node and never re-runs a checker (``seam check DIR`` does
that). Writes ``graphs/`` and ``report.html`` into the run directory.
"""

from __future__ import annotations

from pathlib import Path

import click


@click.command(
    "report",
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="""\b
Examples:
  seam report results/latest
  seam report results/orders/20261124T030000 --open""",
)
@click.argument("run_dir", metavar="DIR", type=click.Path(file_okay=False))
@click.option(
    "--open", "open_", is_flag=True, help="Open report.html in the default browser afterwards."
)
def report(run_dir: str, open_: bool) -> None:
    """Write DIR/report.html and DIR/graphs/ from the stored run in DIR."""
    from checkers.report.render import render_run

    path = render_run(Path(run_dir))
    click.echo(f"wrote {path}")
    if open_:
        import webbrowser

        if not webbrowser.open(path.as_uri()):
            click.echo(f"seam: no browser found; open {path.as_uri()} yourself", err=True)
