"""On-call runbook entries, declared beside the code that reports each kind or signal.

A checker module that reports an anomaly kind ends with ``RUNBOOK = (Runbook(...), ...)``,
one entry per kind it reports (or one family entry naming every kind it
covers, as the transactional checker does for Elle's names); the signals
checker declares one per signal it computes. ``entries`` finds them by
walking the ``checkers`` package, so a new checker needs nothing here, and
tests/unit/test_runbook.py fails when a kind some checker reports, or a signal
in ``SIGNALS``, has no entry.

``docs/oncall.md`` is rendered from the entries::

    python -m checkers.runbook --write docs/oncall.md   # regenerate
    python -m checkers.runbook --check docs/oncall.md   # exit 1 when it is stale

The report (checkers/report/html.py, through ``for_results``) copies the
entries of the kinds and fired signals a run shows into report.html, so the
links work offline from the run directory.
"""

from __future__ import annotations

import argparse
import importlib
import math
import pkgutil
import re
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

#: Packages whose modules never report (the report reads results; this module declares).
SKIPPED = ("checkers.report", "checkers.runbook")


@dataclass(frozen=True)
class Runbook:
    """What the person on call needs for one anomaly kind or one signal.

    ``look`` is the first three things to look at in the run directory (real
    paths and commands); ``verify`` the ``seam test --scenario ... --bug ...``
    pair and the ``seam regress`` case that prove a fix. ``covers`` lists the
    other kinds a family entry answers for. ``source`` is filled in by
    ``entries`` with the module that declared it.
    """

    name: str
    what: str
    fires: str
    cause: str
    look: tuple[str, str, str]
    verify: str
    signal: bool = False
    covers: tuple[str, ...] = ()
    source: str = ""

    def __post_init__(self) -> None:
        for field_name in ("name", "what", "fires", "cause", "verify"):
            if not str(getattr(self, field_name)).strip():
                raise ValueError(f"runbook entry {self.name!r}: {field_name} is empty; say it in a sentence")
        if len(self.look) != 3 or not all(s.strip() for s in self.look):
            raise ValueError(f"runbook entry {self.name!r}: look needs exactly three things to look at")

    @property
    def anchor(self) -> str:
        """The id of its section in docs/oncall.md and report.html."""
        return anchor(self.name, signal=self.signal)

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.covers)


def anchor(name: str, *, signal: bool = False) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return ("signal-" if signal else "kind-") + slug


def modules() -> list[str]:
    """Every module under ``checkers`` that may declare entries."""
    import checkers

    found = ["checkers"]
    for info in pkgutil.walk_packages(checkers.__path__, "checkers."):
        if not info.name.startswith(SKIPPED):
            found.append(info.name)
    return sorted(found)


def entries() -> list[Runbook]:
    """Every declared entry, anomaly kinds first, then signals, each by name.

    Raises ValueError when two entries answer for the same kind or signal: one
    place to read per name."""
    out: list[Runbook] = []
    for name in modules():
        module = importlib.import_module(name)
        for entry in getattr(module, "RUNBOOK", ()) or ():
            if not isinstance(entry, Runbook):
                raise ValueError(f"{name}.RUNBOOK holds {entry!r}; expected Runbook(...) entries")
            out.append(replace(entry, source=name))
    seen: dict[tuple[bool, str], str] = {}
    for e in out:
        for n in e.names:
            if (e.signal, n) in seen:
                raise ValueError(f"runbook: {n!r} has entries in both {seen[(e.signal, n)]} and {e.source}; keep one")
            seen[(e.signal, n)] = e.source
    return sorted(out, key=lambda e: (e.signal, e.name))


def by_kind(found: list[Runbook] | None = None) -> dict[str, Runbook]:
    """Anomaly kind -> its entry (a family entry under each kind it covers)."""
    return {n: e for e in (entries() if found is None else found) if not e.signal for n in e.names}


def by_signal(found: list[Runbook] | None = None) -> dict[str, Runbook]:
    """Signal name -> its entry."""
    return {n: e for e in (entries() if found is None else found) if e.signal for n in e.names}


# ---------------------------------------------------------------------------
# a run's entries, for its report.html


def fired_signals(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each signal whose series in results.json reached its threshold at some scrape.

    The signals checker is found by the shape of its stats (``series`` and
    ``thresholds``), as the report finds it, never by name."""
    checkers = results.get("checkers")
    for r in (checkers.values() if isinstance(checkers, dict) else ()):
        stats = r.get("stats") if isinstance(r, dict) else None
        if isinstance(stats, dict) and isinstance(stats.get("series"), dict) and isinstance(stats.get("thresholds"), dict):
            break
    else:
        return []
    out = []
    for name, series in sorted(stats["series"].items()):
        limit = stats["thresholds"].get(name)
        values = [v for v in (series.get("value") or []) if isinstance(v, (int, float)) and math.isfinite(v)]
        if isinstance(limit, (int, float)) and values and max(values) >= limit:
            out.append({"name": name, "peak": max(values), "threshold": limit})
    return out


def for_results(results: dict[str, Any], kinds: list[str]) -> dict[str, Any]:
    """What report.html shows: copies of the entries of ``kinds`` and of every fired signal
    (``entries``), the anchor of each kind (``kind_anchor``) and signal (``signal_anchor``),
    and the fired signals with their peak and threshold (``fired``). A kind with no entry
    gets no link (tests/unit/test_runbook.py keeps that from shipping)."""
    found = entries()
    kind_entry, signal_entry = by_kind(found), by_signal(found)
    fired = fired_signals(results)
    wanted: list[Runbook] = []
    for e in [kind_entry[k] for k in kinds if k in kind_entry] + [signal_entry[f["name"]] for f in fired
                                                                   if f["name"] in signal_entry]:
        if e not in wanted:
            wanted.append(e)
    for f in fired:
        f["anchor"] = signal_entry[f["name"]].anchor if f["name"] in signal_entry else None
    return {
        "entries": [{**asdict(e), "anchor": e.anchor} for e in wanted],
        "kind_anchor": {k: kind_entry[k].anchor for k in kinds if k in kind_entry},
        "signal_anchor": {n: e.anchor for n, e in signal_entry.items()},
        "fired": fired,
    }


# ---------------------------------------------------------------------------
# docs/oncall.md

HEADER = """# On-call runbook

Generated from the `RUNBOOK` entries beside each checker's code by
`python -m checkers.runbook --write docs/oncall.md`; do not edit by hand
(tests/unit/test_runbook.py fails when this file is stale, and when a kind or
a signal has no entry). Every anomaly and every fired signal in a run's
`report.html` links to a copy of its section.

In the commands below `RUN` is a run directory
(`results/<test>/<stamp>/`, or `results/latest`), and `ORDER` an order id
from the anomaly. "Seed 000" and the like are the seed material the pipeline
was built from (`../shared/seeds/000_*.txt`): 000 the order pipeline whose
seams leak, 002 the honest admissions (at-least-once, ordering, consensus
cost), 003 the config and code reading (quorum sizes, fencing, keys, retries).
"""


def _section(e: Runbook) -> list[str]:
    kind = "signal" if e.signal else "anomaly kind"
    lines = [f'<a id="{e.anchor}"></a>', "", f"### `{e.name}` ({kind}, `{e.source}`)", ""]
    if e.covers:
        lines += ["Also answers for: " + ", ".join(f"`{c}`" for c in e.covers) + ".", ""]
    lines += [f"**What it measures.** {e.what}", "", f"**What fires it.** {e.fires}", "",
              f"**Most likely composition failure.** {e.cause}", "",
              "**First three things to look at.**", ""]
    lines += [f"{i}. {step}" for i, step in enumerate(e.look, 1)]
    lines += ["", f"**Verify the fix.** {e.verify}", ""]
    return lines


def render_markdown(found: list[Runbook] | None = None) -> str:
    found = entries() if found is None else found
    kinds = [e for e in found if not e.signal]
    signals = [e for e in found if e.signal]
    lines = [HEADER, "## Contents", ""]
    lines.append("Anomaly kinds: " + ", ".join(f"[`{e.name}`](#{e.anchor})" for e in kinds) + ".")
    lines += ["", "Signals: " + ", ".join(f"[`{e.name}`](#{e.anchor})" for e in signals) + ".", ""]
    lines += ["## Anomaly kinds", ""]
    for e in kinds:
        lines += _section(e)
    lines += ["## Signals", ""]
    for e in signals:
        lines += _section(e)
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m checkers.runbook", description="Render docs/oncall.md.")
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--write", metavar="FILE", help="write the runbook to FILE")
    group.add_argument("--check", metavar="FILE", help="exit 1 when FILE is not what --write would write")
    args = ap.parse_args(argv)
    text = render_markdown()
    if args.write:
        Path(args.write).write_text(text)
    elif args.check:
        current = Path(args.check).read_text() if Path(args.check).exists() else ""
        if current != text:
            print(f"{args.check} is stale: run python -m checkers.runbook --write {args.check}", file=sys.stderr)
            return 1
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    # Run as checkers.runbook, not __main__: the checkers' entries are instances of that module's Runbook.
    from checkers.runbook import main as _main

    sys.exit(_main())
