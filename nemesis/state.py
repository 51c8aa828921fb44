"""A durable record of every fault applied, so heal survives a control-node crash.

Each fault is appended to ``nemesis.jsonl`` in the run directory *before* it
is applied (so a crash mid-apply still leaves a record) and marked healed
after it is undone. ``outstanding()`` replays the file: what was applied and
not healed is what ``seam heal`` and the next ``seam test`` must undo.
Healing is idempotent, so undoing a fault that never fully landed is safe.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Fault:
    """One applied fault: ``kind`` (partition, loss, pause, clock, kill, app), the node it
    touched, and what is needed to undo it (pids, chain, clock file, role)."""

    kind: str
    node: str
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return json.dumps([self.kind, self.node, self.detail], sort_keys=True)


class FaultLedger:
    def __init__(self, path: Path | None):
        self.path = path
        self._lock = threading.Lock()

    def _append(self, row: dict[str, Any]) -> None:
        if self.path is None:
            return
        line = json.dumps(row, sort_keys=True) + "\n"
        with self._lock, open(self.path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    def applied(self, fault: Fault) -> None:
        self._append({"event": "applied", **asdict(fault)})

    def healed(self, fault: Fault) -> None:
        self._append({"event": "healed", **asdict(fault)})

    def outstanding(self) -> list[Fault]:
        return outstanding(self.path) if self.path else []


def outstanding(path: Path) -> list[Fault]:
    """Faults applied and not healed, in the order they were applied.

    A torn last line (the control node died mid-write) is ignored: the fault
    it described was not applied yet, because the record is written first.
    """
    if not path.exists():
        return []
    open_faults: dict[str, Fault] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        fault = Fault(row["kind"], row["node"], row.get("detail", {}))
        if row.get("event") == "applied":
            open_faults[fault.key] = fault
        else:
            open_faults.pop(fault.key, None)
    return list(open_faults.values())
