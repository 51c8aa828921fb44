"""Undo faults from a fault ledger: what ``seam heal`` and the next ``seam test`` run.

The nemesis objects of a dead control node are gone; what is left is the
run's ``nemesis.jsonl`` (see ``nemesis.state``). Each fault kind is undone
from its record alone (a chain name, pids, a clock file, a role) by the
``undo`` its fault module declares (``nemesis.registry.by_kind``). Every undo
is idempotent, so healing twice, or healing a fault that never fully landed,
is safe.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.core.errors import NemesisError
from harness.core.protocols import Remote, Test
from nemesis import registry
from nemesis.state import Fault, FaultLedger, outstanding


def undo(fault: Fault, remote: Remote, target: Any = None, test: Test | None = None) -> None:
    """Undo one ledger row through the declaration of its kind (``FaultSpec.undo``)."""
    registry.undo(fault, remote, target, test)


def heal_ledger(
    path: Path,
    remote: Remote,
    target: Any = None,
    test: Test | None = None,
    *,
    report: Callable[[str], None] = lambda line: None,
) -> list[Fault]:
    """Undo every outstanding fault in ``path`` (newest first); return what was undone.

    Faults whose undo fails stay outstanding in the ledger and are reported,
    so a later ``seam heal`` tries them again.
    """
    ledger = FaultLedger(path)
    done: list[Fault] = []
    failures: list[str] = []
    for fault in reversed(outstanding(path)):
        try:
            undo(fault, remote, target, test)
        except Exception as e:
            failures.append(f"{fault.kind} on {fault.node}: {e}")
            continue
        ledger.healed(fault)
        done.append(fault)
        report(f"healed {fault.kind} on {fault.node}")
    if failures:
        raise NemesisError("could not heal " + "; ".join(failures) + " (run `seam heal` again)")
    return done
