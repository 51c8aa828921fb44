"""`seam runs`: every stored run from the cross-run index, the fingerprints
seen across runs, and retention (``--prune``).

Each call first brings the index in step with ``results/`` (``sync``), so runs
made before the index existed, runs re-checked and runs deleted by hand are
all accounted for; ``--rebuild`` throws the index away and reads every run
directory again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click

from harness.core.errors import ConfigError

EPILOG = """\b
Examples:
  seam runs                                  # every run, oldest first
  seam runs --test orders --since 7d         # one test, the last week
  seam runs --invalid --json                 # runs that found anomalies, as JSON
  seam runs --fingerprints                   # each bug found: first/last seen, NEW
  seam runs --prune --keep-days 30 --keep-invalid --dry-run
\b
--prune never deletes a run with an anomaly whose fingerprint is not in the
regression corpus (--corpus, default regressions/) unless --force, nor a run
that was never checked. The index (results/index.sqlite) is rebuilt from the
run directories with --rebuild."""

_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@click.command("runs", epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--results", default="results", show_default=True, metavar="DIR", help="Where runs are stored.")
@click.option("--test", "test_name", default=None, metavar="NAME", help="Only runs of this test (results/<NAME>/).")
@click.option("--since", default=None, metavar="WHEN", help="Only runs started since: 36h, 7d, 2w, or a date 2026-12-01[T08:00].")
@click.option("--invalid", is_flag=True, help="Only runs that found anomalies.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--fingerprints", is_flag=True, help="Each anomaly fingerprint: first and last seen, runs, NEW if first seen in the latest night.")
@click.option("--rebuild", is_flag=True, help="Forget the index and read every run directory again.")
@click.option("--prune", is_flag=True, help="Delete old runs (with --keep-days); see below for what is always kept.")
@click.option("--keep-days", type=float, default=None, metavar="D", help="--prune: keep runs started in the last D days.")
@click.option("--keep-invalid", is_flag=True, help="--prune: keep every invalid run, however old.")
@click.option("--force", is_flag=True, help="--prune: also delete runs whose anomalies are not in the corpus, and unchecked runs.")
@click.option("--dry-run", is_flag=True, help="--prune: say what would go, delete nothing.")
@click.option("--corpus", default="regressions", show_default=True, metavar="DIR", help="The regression corpus --prune consults.")
def runs(results: str, test_name: str | None, since: str | None, invalid: bool, as_json: bool, fingerprints: bool,
         rebuild: bool, prune: bool, keep_days: float | None, keep_invalid: bool, force: bool, dry_run: bool,
         corpus: str) -> int:
    """List stored runs, the fingerprints found across them, or prune old ones."""
    from harness.index import RunIndex

    if not prune and (keep_days is not None or keep_invalid or force or dry_run):
        raise ConfigError("--keep-days, --keep-invalid, --force and --dry-run go with --prune")
    with RunIndex(results) as index:
        synced = index.rebuild() if rebuild else index.sync()
        if rebuild:
            click.echo(f"seam: index rebuilt from {results}: {len(synced.added)} runs", err=True)
        if prune:
            return _prune(index, keep_days, keep_invalid, force, dry_run, Path(corpus), as_json)
        if fingerprints:
            _print_fingerprints(index.fingerprints(), index.latest_night(), as_json)
            return 0
        found = index.runs(test=test_name, since=parse_since(since, datetime.now()) if since else None,
                           verdicts=("invalid",) if invalid else ())
    _print_runs(found, as_json)
    return 0


def parse_since(text: str, now: datetime) -> str:
    """``--since`` as the ISO time the index compares runs' starts with."""
    m = _RELATIVE.match(text.strip())
    if m:
        return (now - timedelta(**{_UNITS[m.group(2)]: float(m.group(1))})).isoformat(timespec="seconds")
    try:
        return datetime.fromisoformat(text.strip()).isoformat(timespec="seconds")
    except ValueError:
        raise ConfigError(f"--since {text!r}: give an age such as 36h, 7d, 2w, or a date such as "
                          "2026-12-01 or 2026-12-01T08:00") from None


def _print_runs(found: list[Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps([{**asdict(r), "fingerprints": r.fingerprints} for r in found], indent=2, default=str))
        return
    if not found:
        click.echo("no runs (seam test writes them under results/)")
        return
    rows = [("RUN", "VERDICT", "EXIT", "SECS", "OPS", "OPS/S", "P99 MS", "FAULTS", "BUGS", "FINGERPRINTS")]
    for r in found:
        p99 = f"{r.p99_ms:.0f} {r.latency_f}" if r.p99_ms is not None else "-"
        rows.append((r.id, r.verdict.upper() if r.verdict == "invalid" else r.verdict,
                     "-" if r.exit_code is None else str(r.exit_code), _num(r.seconds, "{:.0f}"), str(r.ops),
                     _num(r.throughput, "{:.1f}"), p99, r.faults or "-", r.bugs or "-",
                     ", ".join(r.fingerprints) or "-"))
    _table(rows)
    counts: dict[str, int] = {}
    for r in found:
        counts[r.verdict] = counts.get(r.verdict, 0) + 1
    click.echo(f"{len(found)} runs: " + ", ".join(f"{n} {v}" for v, n in sorted(counts.items())))


def _print_fingerprints(rows: list[Any], latest: str | None, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"latest_night": latest, "fingerprints": [asdict(r) for r in rows]}, indent=2))
        return
    if not rows:
        click.echo("no anomalies in any indexed run")
        return
    table = [("", "FINGERPRINT", "SEVERITY", "FIRST SEEN", "LAST SEEN", "RUNS", "LAST RUN")]
    for r in rows:
        table.append(("NEW" if r.new else "", r.fingerprint, r.severity, r.first_seen, r.last_seen, str(r.runs), r.last_run))
    _table(table)
    click.echo(f"latest night: {latest}" if latest else "no nightly runs yet: NEW marks fingerprints first seen in the latest `seam nightly`")


def _prune(index: Any, keep_days: float | None, keep_invalid: bool, force: bool, dry_run: bool, corpus: Path,
           as_json: bool) -> int:
    from harness.index.retention import corpus_fingerprints, delete_runs, plan_prune

    if keep_days is None or keep_days < 0:
        raise ConfigError("--prune needs --keep-days D (D >= 0): runs started in the last D days are kept")
    known = corpus_fingerprints(corpus)
    decisions = plan_prune(index.runs(), now=datetime.now(), keep_days=keep_days, keep_invalid=keep_invalid,
                           corpus=known, force=force)
    deleted = [] if dry_run else delete_runs(index, decisions)
    if as_json:
        click.echo(json.dumps([{"run": d.run.id, "delete": d.delete, "reason": d.reason} for d in decisions], indent=2))
    else:
        verb = "would delete" if dry_run else "deleted"
        for d in decisions:
            if d.delete or "corpus" in d.reason or "never checked" in d.reason:
                click.echo(f"{verb if d.delete else 'kept'} {d.run.id}: {d.reason}")
        chosen = sum(d.delete for d in decisions)
        click.echo(f"{verb} {chosen if dry_run else len(deleted)} of {len(decisions)} runs "
                   f"(corpus {corpus}: {len(known)} fingerprints)")
    return 0


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None else fmt.format(value)


def _table(rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
