"""What a target says about its node files, so a regression case keeps the right rows.

An anomaly of a target's own checkers rests on node files as much as on
ops (the pipeline's ledgers, fence logs and step log). Which files those
are, and which of their rows concern the anomaly, only the target knows: it
declares a ``CaseFiles`` (``TargetKind.case_files``), and
``harness.regress.capture`` picks rows by it without naming any file.

Rows and ops are tied to an anomaly through *entities*: the things the
target's checkers reason about (the pipeline's orders). ``entities`` says
which an anomaly names, ``entity_of_row`` and ``entity_of_op`` which one a
row or an op is about.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.core.op import Op
from harness.core.verdict import Anomaly


def _none(_: Any) -> str | None:
    return None


def _no_entities(_: Anomaly) -> set[str]:
    return set()


@dataclass(frozen=True)
class CaseFiles:
    """A target's node files as regression cases need them (see the module docstring)."""

    #: JSON Lines files under nodes/<node>/, chosen row by row.
    rows: tuple[str, ...] = ()
    #: One-object files every case keeps whole (a node's config), and those only a
    #: checker's cases keep (checker name -> files).
    whole: tuple[str, ...] = ()
    whole_for: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: Whole files trimmed to the keys checkers read (the rest names this machine or is secret).
    keep_keys: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: Row files whose newest row every case keeps (the pipeline's step log: the run's clock).
    newest_row: tuple[str, ...] = ()
    #: Row files of record versions, where checkers read only a key's newest row.
    latest_by_key: tuple[str, ...] = ()
    entity_of_row: Callable[[dict[str, Any]], str | None] = _none
    entity_of_op: Callable[[Op], str | None] = _none
    entities: Callable[[Anomaly], set[str]] = _no_entities

    def whole_files(self, checker: str | None = None) -> tuple[str, ...]:
        """Every whole file (``checker=None``: the widest case) or those a checker's case keeps."""
        if checker is None:
            return tuple(dict.fromkeys([*self.whole, *(f for fs in self.whole_for.values() for f in fs)]))
        return (*self.whole, *self.whole_for.get(checker, ()))


#: A target that declares nothing: its cases hold ops only.
NO_FILES = CaseFiles()
