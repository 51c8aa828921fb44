"""``seam nightly``: run a plan of tests within a wall-clock budget, least-tried
fault x workload combinations first, and leave one night directory
``results/nights/<stamp>/`` (night.json, index.html, junit.xml, logs/).

``plan.py`` reads and checks the TOML plan; ``schedule.py`` orders the runs by
coverage (pure); ``night.py`` runs them as ``seam test`` subprocesses under the
budget and stops cleanly on SIGTERM/SIGHUP/SIGINT; ``summary.py`` writes the
page and the JUnit file.
"""

from __future__ import annotations

from pathlib import Path

from harness.index import RunIndex
from harness.nightly.night import Night, NightRecord, RunRow, aggregate_exit
from harness.nightly.plan import OptionKind, Plan, load_plan, parse_plan
from harness.nightly.summary import write_summary

__all__ = ["Night", "NightRecord", "OptionKind", "Plan", "RunRow", "aggregate_exit", "finish_night", "load_plan",
           "parse_plan"]


def finish_night(night: Night, junit_copy: Path | None = None) -> tuple[Path, Path]:
    """The night's page and JUnit file (and a copy of the JUnit at ``junit_copy``)."""
    with RunIndex(night.results) as index:
        fingerprints, coverage = index.fingerprints(), index.coverage()
    page, junit = write_summary(night.record, night.dir, night.results, fingerprints, coverage)
    if junit_copy is not None:
        junit_copy.parent.mkdir(parents=True, exist_ok=True)
        junit_copy.write_bytes(junit.read_bytes())
    return page, junit


