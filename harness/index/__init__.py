"""The cross-run index (``results/index.sqlite``): every run's test, options,
seed, start, duration, verdict, exit code, op counts, throughput, latency
quantiles, and each anomaly's kind and fingerprint.

``records.py`` reads one run directory into a row; ``db.py`` is the SQLite
index (add, sync with ``results/``, rebuild, query, fingerprints, coverage);
``retention.py`` decides and carries out ``seam runs --prune``. The run
directories stay the source of truth: the index can always be rebuilt.
"""

from __future__ import annotations

import logging
from pathlib import Path

from harness.index.db import (
    INDEX_FILE,
    NIGHT_JSON,
    NIGHTS_DIR,
    RUN_DIR_NAME,
    FingerprintRow,
    RunIndex,
    SyncReport,
)
from harness.index.records import VERDICTS, AnomalyRow, LatencyRow, RunRecord, read_run

__all__ = ["INDEX_FILE", "NIGHTS_DIR", "NIGHT_JSON", "VERDICTS", "AnomalyRow", "FingerprintRow", "LatencyRow",
           "RunIndex", "RunRecord", "SyncReport", "index_finished_run", "read_run"]

log = logging.getLogger("seam.index")


def index_finished_run(run_dir: Path) -> None:
    """Add a run that was just checked (``seam test``'s end, ``seam check RUN_DIR``) to
    the index of its results root. Only a directory laid out as
    ``<results>/<test>/<stamp>/`` is indexed; a failure is a warning, never a failed run
    (``seam runs`` catches up from the directories)."""
    run_dir = Path(run_dir).resolve()
    if not RUN_DIR_NAME.match(run_dir.name):
        return
    try:
        with RunIndex(run_dir.parent.parent) as index:
            index.index_run(run_dir)
    except Exception as e:
        log.warning("could not add %s to the run index (seam runs adds it later): %s", run_dir, e)
