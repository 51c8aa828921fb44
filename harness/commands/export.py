"""`seam export`: write a history in a format Knossos or Porcupine can check again.

The history is read by Seam's own readers (any format ``seam check``
reads, a stored run, or ``-`` for stdin) and written by
``harness.formats.edn_writer`` or ``harness.formats.porcupine_writer``,
which keep each format's meaning and say, as notes on stderr, where the
target format means less than Seam's (a ``null`` read in EDN, nemesis ops
in Porcupine's formats). The whole output is built before anything is
written, so an op the format cannot hold leaves no half-written file.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING

import click

from harness.commands.check import EXIT_FAILED, FORMATS, STDIN

if TYPE_CHECKING:
    from harness.core.op import History

#: Output formats: ``porcupine`` picks kv lines for get/put/append histories, else an etcd log.
TARGETS = ("edn", "porcupine", "porcupine-etcd", "porcupine-kv")


@click.command(
    "export",
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="""\b
Examples:
  seam export results/latest --format edn -o history.edn     # for Knossos
  seam export h.jsonl --format porcupine > etcd_000.log        # for Porcupine
  seam export - --format edn < h.jsonl
\b
Exit codes: 0 written, 3 bad input (nothing is written).""",
)
@click.argument("file", metavar="FILE|RUN_DIR|-")
@click.option(
    "--format",
    "target",
    type=click.Choice(TARGETS),
    required=True,
    help="edn (Knossos/Jepsen), or porcupine: kv lines for get/put/append, else an etcd log.",
)
@click.option(
    "--from",
    "source_fmt",
    type=click.Choice(FORMATS),
    default="auto",
    show_default=True,
    help="Format of FILE; auto picks by content.",
)
@click.option(
    "--out", "-o", type=click.Path(dir_okay=False), default=None, help="Write here, not stdout."
)
@click.pass_context
def export(ctx: click.Context, file: str, target: str, source_fmt: str, out: str | None) -> None:
    """Write a history (or a stored run's) as EDN or in Porcupine's formats."""
    from harness.core.errors import SeamError

    try:
        history = _read(file, source_fmt)
        buf = io.StringIO()
        notes = _writer(target)(history, buf)
        _emit(buf.getvalue(), out)
    except SeamError as e:
        click.echo(f"seam: {e}", err=True)
        ctx.exit(EXIT_FAILED)
    for note in notes:
        click.echo(f"seam: note: {note}", err=True)


def _read(file: str, fmt: str) -> History:
    from harness.core.errors import HistoryError
    from harness.formats import load, read_data

    if file == STDIN:
        return read_data(sys.stdin.buffer.read(), fmt, source="<stdin>")
    path = Path(file)
    if path.is_dir():
        if not (path / "history.jsonl").is_file():
            raise HistoryError(
                "a directory, but not a stored run (it has no history.jsonl)", source=file
            )
        path = path / "history.jsonl"
    return load(path, fmt)


def _writer(target: str) -> Callable[[History, IO[str]], list[str]]:
    from harness.formats import edn_writer, porcupine_writer

    return {
        "edn": edn_writer.write_edn,
        "porcupine": porcupine_writer.write_porcupine,
        "porcupine-etcd": porcupine_writer.write_etcd_log,
        "porcupine-kv": porcupine_writer.write_kv,
    }[target]


def _emit(text: str, out: str | None) -> None:
    if out is None:
        click.echo(text, nl=False)
        return
    from harness.core.errors import InputError

    try:
        Path(out).write_text(text, encoding="utf-8")
    except OSError as e:
        raise InputError(f"--out {out}: cannot write it ({e.strerror or e})") from None
