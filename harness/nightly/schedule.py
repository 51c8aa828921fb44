"""The order of a night's runs: least-tried fault x workload combinations first.

Pure, so it is tested without running anything. ``tried`` is how many runs
the index already holds of each combination (workload, fault set or scenario,
bug flags: ``harness.index.records.coverage_key``); every run the night
schedules counts too, so a test with ``count = 3`` over a mix of three fault
sets tries each once, and two tests of the same workload share the count.
When the budget runs out before the schedule does, what is left unrun is the
most-tried part: coverage grows where it is thinnest.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

from harness.index.records import coverage_key
from harness.nightly.plan import PlannedTest


@dataclass
class Slot:
    """One run to make: which test, which fault set, which seed; ``tried`` is how many
    runs of its (workload, faults) there were when it was chosen."""

    number: int
    test: PlannedTest
    faults: str
    seed: int
    tried: int


def key_of(test: PlannedTest, faults: str) -> tuple[str, str, str]:
    """The coverage combination a run of ``test`` with ``faults`` counts toward."""
    scenario = str(test.options.get("scenario") or "")
    return coverage_key(test.workload, faults, ",".join(sorted(test.bugs)), scenario)


def schedule(tests: list[PlannedTest], tried: Counter[tuple[str, str, str]], seed: int) -> list[Slot]:
    """Every run of every test, least-tried combination first; among equals, the test
    with the fewest runs so far this night (so a short budget still reaches every
    test), then plan order."""
    rng = random.Random(seed)
    counts = Counter(tried)
    left = {i: t.count for i, t in enumerate(tests)}
    slots: list[Slot] = []
    while any(left.values()):
        best: tuple[int, int, int, int] | None = None
        for i, t in enumerate(tests):
            if not left[i]:
                continue
            for j, faults in enumerate(t.mix):
                key = (counts[key_of(t, faults)], t.count - left[i], i, j)
                if best is None or key < best:
                    best = key
        assert best is not None
        n, _, i, j = best
        test = tests[i]
        slots.append(Slot(len(slots) + 1, test, test.mix[j], rng.randrange(1_000_000), n))
        counts[key_of(test, test.mix[j])] += 1
        left[i] -= 1
    return slots
