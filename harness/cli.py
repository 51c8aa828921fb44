"""The `seam` command line: a registry of subcommands, loaded lazily.

Each subcommand lives in ``harness/commands/<name>.py`` and is imported only
when it runs, so ``seam check`` does not pay for paramiko or matplotlib.
This module and the command modules are the only places that name concrete
implementations (Remotes, targets, nemeses, checkers). The CLI catches only
``SeamError`` at its boundary and prints one line; exit codes follow
DESIGN section 6.
"""

from __future__ import annotations

import importlib
import sys

import click

#: name -> ("module:attribute", one-line help shown by `seam --help`)
COMMANDS: dict[str, tuple[str, str]] = {
    "check": ("harness.commands.check:check", "Check a history or a stored run for anomalies."),
    "export": ("harness.commands.export:export", "Write a history as EDN or in Porcupine's formats."),
    "test": ("harness.commands.test:test", "Run a chaos test against a cluster."),
    "cluster": ("harness.commands.cluster:cluster", "Create, inspect or remove the namespace cluster."),
    "nemeses": ("harness.commands.nemeses:nemeses", "List every nemesis and what it needs."),
    "targets": ("harness.commands.targets:targets", "List the systems Seam can test, their workloads and options."),
    "heal": ("harness.commands.heal:heal", "Undo every fault Seam applied."),
    "report": ("harness.commands.report:report", "Render a stored run's report again."),
    "serve": ("harness.commands.serve:serve", "Browse results/ on 127.0.0.1."),
    "regress": ("harness.commands.regress:regress", "Re-check every saved anomaly."),
    "runs": ("harness.commands.runs:runs", "List stored runs and fingerprints from the run index; prune old runs."),
    "nightly": ("harness.commands.nightly:nightly", "Run a plan of tests within a time budget; write a night summary."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name, (target, _) in COMMANDS.items() if _exists(target))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        target, _ = COMMANDS[name]
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name == module_name:
                return None
            raise
        return getattr(module, attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _exists(target: str) -> bool:
    import importlib.util

    module_name = target.split(":")[0]
    try:
        return importlib.util.find_spec(module_name) is not None
    except ModuleNotFoundError:
        return False


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="seam")
def cli() -> None:
    """Seam: fault injection and linearizability checking for distributed systems.

    Exit codes: 0 valid, 1 anomalies found, 2 unknown (a checker gave up),
    3 the run itself failed (bad input, setup, unreachable node).
    """


def main(argv: list[str] | None = None) -> None:
    """Console entry point. SeamError becomes one line on stderr and its exit code."""
    from harness.core.errors import SeamError

    _dump_stacks_on_sigusr1()
    try:
        rv = cli.main(args=argv, prog_name="seam", standalone_mode=False)
    except SeamError as e:
        click.echo(f"seam: {e}", err=True)
        sys.exit(e.exit_code)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.exceptions.Abort:
        click.echo("seam: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(3 if e.exit_code == 2 else e.exit_code)
    if isinstance(rv, int):
        sys.exit(rv)


def _dump_stacks_on_sigusr1() -> None:
    """`kill -USR1 <pid>` prints every thread's stack to stderr: where a slow or stuck seam is."""
    import faulthandler
    import signal

    if hasattr(signal, "SIGUSR1"):
        faulthandler.register(signal.SIGUSR1, file=2, all_threads=True)


if __name__ == "__main__":
    main()
