"""Undo faults from a fault ledger: what ``seam heal`` and the next ``seam test`` run.

The nemesis objects of a dead control node are gone; what is left is the
run's ``nemesis.jsonl`` (see ``nemesis.state``). Each fault kind is undone
from its record alone: a chain name, pids, a clock file, a role. Every undo
is idempotent, so healing twice, or healing a fault that never fully landed,
is safe.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.core.errors import NemesisError
from harness.core.protocols import Remote
from nemesis.clock import write_offset
from nemesis.net import remove_chain
from nemesis.pause import undo_pause
from nemesis.state import Fault, FaultLedger, outstanding


def undo(fault: Fault, remote: Remote, target: Any = None, test: Any = None) -> None:
    if fault.kind in ("partition", "loss"):
        remove_chain(remote, fault.node, fault.detail["chain"])
    elif fault.kind == "pause":
        undo_pause(remote, fault)
    elif fault.kind == "clock":
        write_offset(remote, fault.node, fault.detail["file"], 0)
    elif fault.kind in ("kill", "app"):
        if target is None:  # never mark these healed without doing it: they stay outstanding
            what = "restarting" if fault.kind == "kill" else "clearing the application faults of"
            raise NemesisError(f"{what} {fault.node} needs the run's target; `seam heal` rebuilds it from test.json")
        if fault.kind == "kill":
            target.start(test, fault.node, fault.detail.get("role"))
        else:
            target.clear_faults(test, fault.node)
    else:
        raise ValueError(f"do not know how to undo a {fault.kind!r} fault")


def heal_ledger(
    path: Path,
    remote: Remote,
    target: Any = None,
    test: Any = None,
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
