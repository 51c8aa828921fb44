"""``seam test --test-count N``: the same test N times, a fresh seed each, one exit code.

One run that passes says little about a rare interleaving; Jepsen's
``--test-count`` runs the test again and again and fails the whole series
if any run failed. Each run is a whole run (its own directory, its own
verdict); this module only picks the seeds, runs them in order, and folds
the exit codes, worst first: anomalies (1) beat unknown (2), which beats a
run that failed (3), which beats valid (0). Anomalies rank first because a
found bug is the answer the series exists for, whatever else went wrong.

A run stopped by a signal ends the series: whoever sent it wants the
process to finish, not to start the next run.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from harness.core.errors import EXIT_FAILED, EXIT_INVALID, EXIT_UNKNOWN, EXIT_VALID

#: Worst first: the aggregate is the first of these that any run exited with.
_PRECEDENCE = (EXIT_INVALID, EXIT_UNKNOWN, EXIT_FAILED)

#: Seeds drawn when none is given are below this, as a single run's are.
SEED_RANGE = 1_000_000


@dataclass
class SeriesRun:
    """One run of a series: its number (1-based), its seed and what it ended with (a RunOutcome)."""

    number: int
    seed: int
    outcome: Any

    @property
    def exit_code(self) -> int:
        return int(self.outcome.exit_code)


def seeds(count: int, first: int | None, draw: Callable[[], int] | None = None) -> list[int]:
    """``count`` seeds: ``first, first+1, ...`` when a seed was given (so the series repeats),
    else a fresh random one each."""
    if first is not None:
        return [first + i for i in range(count)]
    draw = draw or (lambda: int.from_bytes(os.urandom(4), "big") % SEED_RANGE)
    return [draw() for _ in range(count)]


def aggregate_exit(codes: Iterable[int]) -> int:
    """1 if any run found anomalies, else 2 if any was unknown, else 3 if any failed, else 0.

    An empty series (nothing ran) failed: 3."""
    seen = set(codes)
    if not seen:
        return EXIT_FAILED
    for code in _PRECEDENCE:
        if code in seen:
            return code
    return EXIT_VALID


def run_series(seed_list: Sequence[int], run_one: Callable[[int], Any],
               on_run: Callable[[SeriesRun], None] = lambda run: None) -> list[SeriesRun]:
    """Run ``run_one(seed)`` for each seed in order; ``on_run`` sees each finished run.

    Stops after a run that a signal stopped (``outcome.stopped_by``)."""
    runs: list[SeriesRun] = []
    for number, seed in enumerate(seed_list, 1):
        run = SeriesRun(number, seed, run_one(seed))
        runs.append(run)
        on_run(run)
        if getattr(run.outcome, "stopped_by", None):
            break
    return runs


def verdict_word(outcome: Any) -> str:
    """VALID, INVALID, UNKNOWN or FAILED: a RunOutcome's verdict in one word."""
    if outcome.valid is None:
        return "FAILED"
    return {True: "VALID", False: "INVALID"}.get(outcome.valid, "UNKNOWN")


def run_line(run: SeriesRun, count: int) -> str:
    """The one summary line of a run in a series."""
    o = run.outcome
    done = sum(o.counts.values())
    why = f" ({o.error})" if o.error and o.valid is not True else ""
    return (f"run {run.number}/{count}: seed {run.seed}, {verdict_word(o)}{why}, exit {o.exit_code}, "
            f"{done} ops, {o.path}")


def series_line(runs: Sequence[SeriesRun], count: int) -> str:
    """The series in one line: how many runs ended how, and the aggregate exit code."""
    words = [verdict_word(r.outcome) for r in runs]
    tally = ", ".join(f"{words.count(w)} {w.lower()}" for w in ("VALID", "INVALID", "UNKNOWN", "FAILED"))
    stopped = f" (stopped after {len(runs)} of {count})" if len(runs) < count else ""
    return f"series: {len(runs)} runs{stopped}: {tally}; exit {aggregate_exit(r.exit_code for r in runs)}"
