"""Run several named checkers as one, Jepsen's ``compose``.

Each checker runs through ``check_safe``: a checker that raises is reported
as ``unknown`` with the error (a crashed checker never gives a verdict),
except for ``InputError``, which means the history itself is bad: that is
the run failing (exit 3), not a checker giving up, so it propagates.
Verdicts merge with ``merge_valid`` (``False`` beats ``"unknown"`` beats
``True``); the composed result's ``stats`` hold each checker's full result
under its name, in the order given. Each checker's time goes to the
``seam.check`` log (a run's ``seam.log``): which one made a check slow.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.core.errors import InputError
from harness.core.op import History
from harness.core.protocols import Test
from harness.core.verdict import UNKNOWN_VERDICT, CheckResult, merge_valid

if TYPE_CHECKING:  # annotations only: `seam check` need not load every protocol
    from harness.core.protocols import Checker

__all__ = ["Composed", "check_safe", "compose"]

log = logging.getLogger("seam.check")


def check_safe(
    checker: Checker, test: Test | None, history: History, artifacts: Path | None
) -> CheckResult:
    """``checker.check(...)``, with any exception but bad input turned into ``unknown``."""
    try:
        result = checker.check(test, history, artifacts)
    except InputError:
        raise
    except Exception as e:  # noqa: BLE001 - a crashed checker must not take the others down
        return CheckResult(valid=UNKNOWN_VERDICT, error=f"{type(e).__name__}: {e}")
    if not isinstance(result, CheckResult):
        return CheckResult(
            valid=UNKNOWN_VERDICT,
            error=f"TypeError: {type(checker).__name__}.check returned {type(result).__name__}, not CheckResult",
        )
    return result


class Composed:
    """A Checker made of named checkers; see the module docstring."""

    def __init__(self, checkers: Mapping[str, Checker]):
        self.checkers = dict(checkers)

    def check(self, test: Test | None, history: History, artifacts: Path | None) -> CheckResult:
        results = {name: self._timed(name, c, test, history, artifacts) for name, c in self.checkers.items()}
        return CheckResult(
            valid=merge_valid([r.valid for r in results.values()]),
            anomalies=[a for r in results.values() for a in r.anomalies],
            stats={name: self._entry(name, r) for name, r in results.items()},
            files=[f for r in results.values() for f in r.files],
            error="; ".join(f"{name}: {r.error}" for name, r in results.items() if r.error) or None,
        )

    def _entry(self, name: str, result: CheckResult) -> dict[str, Any]:
        """A checker's result as results.json keeps it, with the causes it declares
        (``explains``: Explains rules the results writer links anomalies by)."""
        entry = result.to_json()
        rules = getattr(self.checkers[name], "explains", ())
        if rules:
            entry["explains"] = [rule.to_json() for rule in rules]
        return entry

    @staticmethod
    def _timed(name: str, checker: Checker, test: Test | None, history: History, artifacts: Path | None) -> CheckResult:
        t0 = time.monotonic()
        log.info("checker %s: started", name)
        result = check_safe(checker, test, history, artifacts)
        log.info("checker %s: %s in %.2fs", name, result.valid, time.monotonic() - t0)
        return result


def compose(checkers: Mapping[str, Checker]) -> Composed:
    """One Checker running every named checker (each isolated by ``check_safe``)."""
    return Composed(checkers)
