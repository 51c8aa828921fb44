"""`seam nemeses`: every fault, what it does, what it needs and its options, from the declarations."""

from __future__ import annotations

from typing import Any

import click


def rows() -> dict[str, dict[str, Any]]:
    """The table, from ``nemesis.registry``: one row per fault, its options with defaults."""
    from nemesis.registry import faults

    return {
        name: {
            "does": spec.summary,
            "needs": spec.needs,
            "root": spec.needs_root,
            "starts": spec.start,
            "stops": spec.stop,
            "options": {
                o.name: {"default": o.shown(), "accepts": o.accepts, "help": o.help}
                for o in spec.options
            },
        }
        for name, spec in faults().items()
    }


def _options_text(options: dict[str, dict[str, str]]) -> str:
    return (
        "\n".join(
            f"{name}={o['default']}: {o['help']} [{o['accepts']}]" for name, o in options.items()
        )
        or "-"
    )


def scenario_rows(target: str) -> dict[str, dict[str, Any]]:
    """The target's scenarios: what each does, which faults, which bug it exposes as which kind."""
    from harness.targets import get

    return {
        name: {"does": s.summary, "workload": s.workload, "faults": list(s.faults),
               "exposes": dict(s.exposes), "proof": s.proof, "lead_in": s.lead_in}
        for name, s in sorted(get(target).scenarios.items())
    }


@click.command("nemeses")
@click.option("--json", "as_json", is_flag=True, help="Print the tables as JSON.")
@click.option("--target", "-t", default="pipeline", show_default=True, metavar="NAME",
              help="Whose scenarios to list (a built-in target or a module path).")
def nemeses(as_json: bool, target: str) -> None:
    """List every nemesis `seam test --nemesis` accepts, with its options.

    Combine them with commas (`--nemesis partition,pause`); with
    `--nemesis-concurrency 2` two different faults are active at once. Set an
    option with `--nemesis-opt FAULT.OPTION=VALUE`, e.g. `--nemesis-opt
    loss.p=0.3`. Every fault is healed at the end of a run, on error and on
    Ctrl-C, and `seam heal` undoes what a crashed run left behind.

    Scenarios (`seam test --scenario NAME`) are named fault schedules that a
    target declares: each runs its own workload and faults and exposes one
    `--bug` flag with its own anomaly kind.
    """
    table = rows()
    scenarios = scenario_rows(target)
    if as_json:
        import json

        click.echo(json.dumps({"nemeses": table, "scenarios": scenarios}, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    out = Table(title="Seam nemeses (options: --nemesis-opt FAULT.OPTION=VALUE)", show_lines=True)
    out.add_column("name", style="bold")
    out.add_column("what it does")
    out.add_column("what it needs")
    out.add_column("options (default: what it does)")
    for name, row in table.items():
        out.add_row(name, row["does"], row["needs"], _options_text(row["options"]))
    console = Console()
    console.print(out)
    if not scenarios:
        return
    sc = Table(title=f"Scenarios of target {target} (seam test --scenario NAME [--bug FLAG])", show_lines=True)
    for column in ("name", "what it does", "workload / faults", "exposes (bug: kind)"):
        sc.add_column(column, style="bold" if column == "name" else None)
    for name, row in scenarios.items():
        exposes = "\n".join(f"{b}: {k}" for b, k in row["exposes"].items()) or "- (a sustained soak)"
        first = f"\nfirst round after {row['lead_in']:g} s" if row["lead_in"] else ""
        sc.add_row(name, row["does"], f"{row['workload']}: {', '.join(row['faults'])}{first}", exposes)
    console.print(sc)
