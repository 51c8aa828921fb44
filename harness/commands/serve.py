"""`seam serve`: browse results/ over HTTP, with an index of runs.

Standard library only (``http.server``). The server binds 127.0.0.1 unless
told otherwise, and never serves a file outside the results directory: a
request whose decoded path has a ``..`` or ``.`` segment, a backslash, a NUL
or an empty segment (``//etc/passwd``), or that is not a plain path (an
absolute-form ``http://...`` target), is refused with 403; so is anything
whose real path, after following symlinks, leaves the directory (a symlink
pointing out). Links inside it (``results/latest``) work as usual.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from html import escape
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import click

__all__ = ["ResultsHandler", "RunRow", "index_html", "list_runs", "make_server", "serve"]

log = logging.getLogger("seam.serve")


@dataclass
class RunRow:
    """One run in the index."""

    test: str
    stamp: str
    date: str
    verdict: str
    anomalies: int
    kinds: dict[str, int] = field(default_factory=dict)
    href: str = ""
    error: str | None = None


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _row(root: Path, run: Path) -> RunRow:
    from checkers.report.model import anomalies_of, verdict_of

    results = _json(run / "results.json")
    test = _json(run / "test.json")
    anomalies = anomalies_of(results) if results else []
    verdict = verdict_of(results.get("valid")) if results else "not checked"
    if results.get("valid") is None and (results.get("run") or {}).get("failed"):
        verdict = "run failed"
    date = str(test.get("start") or "")
    if not date:
        try:
            date = datetime.strptime(run.name[:15], "%Y%m%dT%H%M%S").isoformat(sep=" ")
        except ValueError:
            date = run.name
    page = "report.html" if (run / "report.html").is_file() else ""
    rel = run.relative_to(root).as_posix()
    return RunRow(
        test=str(test.get("name") or run.parent.name),
        stamp=run.name,
        date=date.replace("T", " "),
        verdict=verdict,
        anomalies=len(anomalies),
        kinds=dict(Counter(str(a.get("kind", "?")) for a in anomalies).most_common()),
        href="/" + urllib.parse.quote(f"{rel}/{page}"),
        error=results.get("error") if isinstance(results.get("error"), str) else None,
    )


def list_runs(root: Path) -> list[RunRow]:
    """Every run directory ``root/<test>/<stamp>/``, newest first; ``latest`` links are skipped."""
    rows = []
    for test_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink()):
        for run in test_dir.iterdir():
            if run.is_symlink() or not run.is_dir():
                continue
            if any((run / f).exists() for f in ("results.json", "history.jsonl", "test.json")):
                rows.append(_row(root, run))
    rows.sort(key=lambda r: (r.date, r.stamp), reverse=True)
    return rows


_STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; margin: 1.5em auto; max-width: 70em; padding: 0 1em; color: #222; }
table { border-collapse: collapse; width: 100%; } th, td { border-bottom: 1px solid #e4e4e4; padding: .35em .6em; text-align: left; }
th { background: #f6f6f6; } .valid { color: #1e7a32; } .invalid { color: #a93226; font-weight: 700; }
.unknown, .not, .run { color: #9a6b00; } .meta { color: #666; font-size: .9em; }
"""


def index_html(rows: list[RunRow], root_name: str) -> str:
    body = []
    for r in rows:
        kinds = ", ".join(f"{n} {k}" for k, n in r.kinds.items())
        cls = r.verdict.split()[0]
        err = f'<div class="meta">{escape(r.error)}</div>' if r.error else ""
        body.append(
            f'<tr><td>{escape(r.test)}</td><td><a href="{escape(r.href)}">{escape(r.date)}</a></td>'
            f'<td class="{escape(cls)}">{escape(r.verdict)}{err}</td><td>{r.anomalies}</td><td>{escape(kinds)}</td></tr>'
        )
    table = (
        "<table><tr><th>test</th><th>date</th><th>verdict</th><th>anomalies</th><th>kinds</th></tr>"
        + "".join(body)
        + "</table>"
        if rows
        else "<p>No runs yet: <code>seam test ...</code> writes them here.</p>"
    )
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Seam runs</title>'
        f"<style>{_STYLE}</style></head><body><h1>Seam runs</h1>"
        f'<p class="meta">{len(rows)} run{"" if len(rows) == 1 else "s"} in {escape(root_name)}/ · <a href="/latest/">latest</a></p>'
        f"{table}</body></html>"
    )


class ResultsHandler(SimpleHTTPRequestHandler):
    """Serves one directory, refusing anything that would leave it (see the module doc)."""

    extensions_map = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".jsonl": "text/plain; charset=utf-8",
        ".json": "application/json",
        ".log": "text/plain; charset=utf-8",
        ".edn": "text/plain; charset=utf-8",
    }

    def refusal(self) -> str | None:
        """Why this request may not be served, or None."""
        target = self.path
        if not target.startswith("/"):
            return "not a plain path"
        path = urllib.parse.urlsplit(target).path
        decoded = urllib.parse.unquote(path)
        if "\\" in decoded or "\x00" in decoded:
            return "backslash or NUL in the path"
        segments = decoded.split("/")[1:]
        if any(s in (".", "..") for s in segments):
            return "'.' or '..' in the path"
        if any(s == "" for s in segments[:-1]):
            return "empty path segment"
        root = os.path.realpath(self.directory)
        real = os.path.realpath(self.translate_path(target))
        if real != root and not real.startswith(root + os.sep):
            return "resolves outside the results directory"
        return None

    def send_head(self):  # type: ignore[no-untyped-def]
        why = self.refusal()
        if why is not None:
            self.send_error(HTTPStatus.FORBIDDEN, f"refused: {why}")
            return None
        if (
            urllib.parse.urlsplit(self.path).path in ("/", "/index.html")
            and not (Path(self.directory) / "index.html").exists()
        ):
            return self._index()
        return super().send_head()

    def _index(self):  # type: ignore[no-untyped-def]
        import io

        page = index_html(list_runs(Path(self.directory)), Path(self.directory).name).encode()
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        return io.BytesIO(page)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        log.info("%s %s", self.address_string(), format % args)


def make_server(results: Path, host: str = "127.0.0.1", port: int = 8080) -> ThreadingHTTPServer:
    """A server for ``results`` (not started); port 0 picks a free one (see ``server_address``)."""
    from harness.core.errors import ConfigError

    root = Path(results)
    if not root.is_dir():
        raise ConfigError(
            f"{root}: no such results directory; run `seam test` first or pass --results DIR"
        )
    try:
        server = ThreadingHTTPServer(
            (host, port), partial(ResultsHandler, directory=str(root.resolve()))
        )
    except OSError as e:
        raise ConfigError(
            f"cannot listen on {host}:{port}: {e.strerror}; pass another --port"
        ) from None
    server.daemon_threads = True
    return server


@click.command("serve", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--port", "-p", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to bind; keep it on loopback."
)
@click.option(
    "--results",
    type=click.Path(file_okay=False),
    default="results",
    show_default=True,
    help="The results directory.",
)
def serve(port: int, host: str, results: str) -> None:
    """Browse results/ over HTTP: an index of runs, their reports, graphs and files."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    server = make_server(Path(results), host, port)
    click.echo(f"serving {results}/ at http://{host}:{server.server_address[1]}/ (Ctrl-C stops)")
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(
            f"seam: warning: {host} is not loopback; anyone who can reach it can read results/",
            err=True,
        )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
