"""`seam targets`: every built-in target, from its declaration: workloads, options, roles,
faults it takes or refuses, bug flags and scenarios."""

from __future__ import annotations

from typing import Any

import click


def target_row(name: str) -> dict[str, Any]:
    """One target as data (``--json`` prints these)."""
    from harness.targets import get

    kind = get(name)
    return {
        "summary": kind.summary,
        "default_workload": kind.default_workload,
        "workloads": {w.name: w.summary for w in kind.workloads.values()},
        "options": {o.name: {"default": o.shown(), "accepts": o.accepts, "help": o.help} for o in kind.options},
        "roles": list(kind.roles),
        "faults": supported_faults(name),
        "refuses": dict(kind.refuses),
        "bugs": sorted(kind.bugs),
        "scenarios": sorted(kind.scenarios),
    }


def supported_faults(name: str) -> list[str] | None:
    """The faults whose ability the target's adapter has, less those it refuses; None when
    the adapter cannot be built without a cluster (then `seam test` says at start)."""
    from harness.core.errors import SeamError
    from harness.spec import TestSpec
    from harness.targets import MakeContext, get
    from nemesis.registry import faults

    kind = get(name)
    try:
        adapter = kind.make(MakeContext(remote=None, addrs={}, spec=TestSpec(target=name)))  # type: ignore[arg-type]
    except (SeamError, TypeError, AttributeError, ValueError):
        return None
    return [f for f, spec in faults().items()
            if f not in kind.refuses and (spec.ability is None or isinstance(adapter, spec.ability))]


@click.command("targets")
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON.")
@click.argument("names", nargs=-1, metavar="[TARGET]...")
def targets(as_json: bool, names: tuple[str, ...]) -> None:
    """List the systems `seam test --target` can test, with what each declares.

    For each target: its workloads (`-w`), its options (`--target-opt
    NAME=VALUE`, with defaults), the roles a fault may aim at
    (`--nemesis-opt pause.target=leader`), the faults it takes and those it
    refuses (with why), its `--bug` flags and its scenarios (`seam nemeses`
    describes them). Give a module path (`mypkg.mytarget`) to show a target
    that lives outside Seam.
    """
    from harness.targets import names as builtin

    rows = {n: target_row(n) for n in (names or builtin())}
    if as_json:
        import json

        click.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    out = Table(title="Seam targets (seam test --target NAME --target-opt NAME=VALUE)", show_lines=True)
    for column in ("target", "workloads", "options (default: what it does)", "roles / faults", "bugs / scenarios"):
        out.add_column(column, style="bold" if column == "target" else None)
    for name, row in rows.items():
        workloads = "\n".join(f"{w}{' (default)' if w == row['default_workload'] else ''}: {s}"
                              for w, s in row["workloads"].items())
        options = "\n".join(f"{o}={v['default']}: {v['help']} [{v['accepts']}]" for o, v in row["options"].items()) or "-"
        faults = "all it can: see `seam test`" if row["faults"] is None else ", ".join(row["faults"])
        refused = "".join(f"\nrefuses {f}: {why}" for f, why in row["refuses"].items())
        roles = f"roles: {', '.join(row['roles']) or '-'}\nfaults: {faults}{refused}"
        extras = f"bugs: {', '.join(row['bugs']) or '-'}\nscenarios: {', '.join(row['scenarios']) or '-'}"
        out.add_row(f"{name}\n{row['summary']}", workloads, options, roles, extras)
    Console().print(out)
