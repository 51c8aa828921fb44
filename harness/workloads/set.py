"""The set workload kit any target can use: unique adds, reads of the whole set, final reads.

A target whose system can add an element to a set and read the whole set
back (Redis SADD and SMEMBERS, a table with an insert and a select, ...)
gets Jepsen's set-full test from here: a seeded stream of ``add`` and
``read`` ops and, after the final heal and the recovery wait, one final read
of every set the run used. ``checkers.set_full.SetFullChecker`` judges the
history: acknowledged adds that vanish (``lost-write``), elements nobody
added (``unexpected``), elements read twice (``duplicate``), and how long
each acknowledged add took to become visible.

Ops carry ``[key, v]``:

* ``{"f": "add", "value": ["s0", 17]}``: add element 17 to set ``s0``;
  every element is added once in the whole run (op ``n`` adds ``n``), so a
  read names the one add it saw, and no add is ever retried;
* ``{"f": "read", "value": ["s0", null]}``; the completion's value is
  ``["s0", [elements...]]``;
* a final read also carries ``"final": true``: a client may serve it more
  carefully (ask a quorum who the primary is), and the checker names it.

Sets are replaced by fresh ones every ``ops_per_key`` ops, so a read returns
at most a few hundred elements and the history stays small over a long run;
the final reads cover every set, so a write lost early is still caught.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.core.op import NEMESIS, Op
from harness.core.protocols import Test
from harness.workloads.register import draws, next_op

__all__ = ["SetGen", "set_final_reads", "set_key"]


def set_key(generation: int) -> str:
    return f"s{generation}"


@dataclass(frozen=True, slots=True)
class SetGen:
    """A seeded stream of adds and reads over one set at a time; see the module docstring.

    Op ``n`` works on set ``s<n // ops_per_key>``; it is a read with
    probability ``read_fraction``, else the add of element ``n``.
    """

    seed: int
    ops_per_key: int = 1000
    read_fraction: float = 0.25
    count: int = 0

    def __post_init__(self) -> None:
        if self.ops_per_key < 1:
            raise ValueError(f"ops_per_key {self.ops_per_key}: need at least 1")
        if not 0.0 <= self.read_fraction <= 1.0:
            raise ValueError(f"read_fraction {self.read_fraction}: need 0 <= p <= 1")

    def template(self, n: int) -> dict[str, Any]:
        key = set_key(n // self.ops_per_key)
        if draws(self.seed, "set", n).random() < self.read_fraction:
            return {"f": "read", "value": [key, None]}
        return {"f": "add", "value": [key, n]}

    def op(self, test: Test | None, ctx: Any) -> tuple[Any, Any]:
        return next_op(self, self.template(self.count), test, ctx, count=self.count + 1)

    def update(self, test: Test | None, ctx: Any, event: Any) -> Any:
        return self


def set_final_reads(history: list[Op]) -> list[dict[str, Any]]:
    """One final read of every set the history added to or read, oldest first."""
    keys: dict[str, None] = {}
    for o in history:
        if (o.type == "invoke" and o.process != NEMESIS and o.f in ("add", "read")
                and isinstance(o.value, list) and o.value):
            keys.setdefault(str(o.value[0]))
    return [{"f": "read", "value": [k, None], "final": True} for k in keys]
