"""`seam nemeses`: every nemesis, what it does and what it needs, from the registry."""

from __future__ import annotations

import click


@click.command("nemeses")
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON.")
def nemeses(as_json: bool) -> None:
    """List every nemesis `seam test --nemesis` accepts.

    Combine them with commas (`--nemesis partition,pause`); with
    `--nemesis-concurrency 2` two different faults are active at once.
    Every fault is healed at the end of a run, on error and on Ctrl-C, and
    `seam heal` undoes what a crashed run left behind.
    """
    from nemesis.combined import REGISTRY

    if as_json:
        import json

        rows = {name: {"does": e.summary, "needs": e.needs} for name, e in REGISTRY.items()}
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Seam nemeses", show_lines=False)
    table.add_column("name", style="bold")
    table.add_column("what it does")
    table.add_column("what it needs")
    for name, entry in REGISTRY.items():
        table.add_row(name, entry.summary, entry.needs)
    Console().print(table)
