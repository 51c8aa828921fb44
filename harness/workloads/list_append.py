"""The list-append workload kit any transactional target can use: ops, final reads.

A target whose system runs transactions gets Elle's list-append test from
here: a seeded stream of ``txn`` ops whose value is a list of micro-ops,
``["r", k, None]`` (the completion fills in the list read) and
``["append", k, v]``, over a rotating set of integer keys. Its client runs
each op as one transaction; ``checkers.txn.TxnChecker`` (workload
``list-append``) judges the history.

The shape is Elle's generator (``elle.list-append/gen``) with its defaults:
3 keys active at a time, 1 to 2 micro-ops per transaction, reads and appends
equally likely, a key retired after 32 appends. Two choices differ, both so
that an op is a function of (seed, op number) alone, like ``RegisterGen``:

* appended values are unique over the whole run (op ``n``'s ``j``-th
  micro-op appends ``n * max_txn_length + j + 1``), not a counter per key;
  unique per key is all the checker needs, and no state is carried;
* a key slot is retired after its expected share of appends rather than an
  exact count: slot ``s`` moves to a fresh key every ``period`` ops, each
  slot at its own offset, so keys retire one at a time as in Elle.

Keys are ints (slot ``s`` of generation ``g`` is ``g * key_count + s``), so a
SQL target can keep them in an integer primary key.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from harness.core.op import NEMESIS, Op
from harness.core.protocols import Test
from harness.workloads.register import draws, next_op

__all__ = ["ListAppendGen", "list_append_final_reads"]


@dataclass(frozen=True, slots=True)
class ListAppendGen:
    """A seeded stream of list-append transactions; see the module docstring.

    ``key_count`` keys are active at a time; a transaction has between
    ``min_txn_length`` and ``max_txn_length`` micro-ops, each a read with
    probability ``read_fraction``, else an append; a key gets about
    ``max_writes_per_key`` appends before its slot moves to a fresh key.
    """

    seed: int
    key_count: int = 3
    min_txn_length: int = 1
    max_txn_length: int = 2
    max_writes_per_key: int = 32
    read_fraction: float = 0.5
    count: int = 0

    def __post_init__(self) -> None:
        if self.key_count < 1:
            raise ValueError(f"key_count {self.key_count}: need at least one key")
        if not 1 <= self.min_txn_length <= self.max_txn_length:
            raise ValueError(f"txn length {self.min_txn_length}..{self.max_txn_length}: need 1 <= min <= max")
        if self.max_writes_per_key < 1:
            raise ValueError(f"max_writes_per_key {self.max_writes_per_key}: need at least 1")
        if not 0.0 <= self.read_fraction <= 1.0:
            raise ValueError(f"read_fraction {self.read_fraction}: need 0 <= p <= 1")

    @property
    def period(self) -> int:
        """Ops between two retirements of one slot: about ``max_writes_per_key`` appends to its key."""
        mean_length = (self.min_txn_length + self.max_txn_length) / 2
        appends_per_op_per_key = mean_length * (1.0 - self.read_fraction) / self.key_count
        if appends_per_op_per_key <= 0:
            return 1 << 62  # reads only: keys never fill up
        return max(1, math.ceil(self.max_writes_per_key / appends_per_op_per_key))

    def key(self, slot: int, n: int) -> int:
        """The key of ``slot`` at op ``n``: each slot rotates at its own offset in the period."""
        period = self.period
        generation = (n + slot * period // self.key_count) // period
        return generation * self.key_count + slot

    def template(self, n: int) -> dict[str, Any]:
        rng = draws(self.seed, "list-append", n)
        length = rng.randint(self.min_txn_length, self.max_txn_length)
        mops: list[list[Any]] = []
        for j in range(length):
            k = self.key(rng.randrange(self.key_count), n)
            if rng.random() < self.read_fraction:
                mops.append(["r", k, None])
            else:
                mops.append(["append", k, n * self.max_txn_length + j + 1])
        return {"f": "txn", "value": mops}

    def op(self, test: Test | None, ctx: Any) -> tuple[Any, Any]:
        return next_op(self, self.template(self.count), test, ctx, count=self.count + 1)

    def update(self, test: Test | None, ctx: Any, event: Any) -> Any:
        return self


def list_append_final_reads(history: list[Op], *, lookback: int = 200, most: int = 64) -> list[dict[str, Any]]:
    """One read-only transaction of the keys that the last ``lookback`` transactions used
    (at most ``most`` of them), so the appends at the end of the run are read once more."""
    keys: dict[int, None] = {}
    looked = 0
    for o in reversed(history):
        if looked >= lookback or len(keys) >= most:
            break
        if o.type != "invoke" or o.process == NEMESIS or o.f != "txn" or not isinstance(o.value, list):
            continue
        looked += 1
        for mop in o.value:
            if isinstance(mop, list | tuple) and len(mop) == 3 and isinstance(mop[1], int):
                keys.setdefault(mop[1])
    if not keys:
        return []
    return [{"f": "txn", "value": [["r", k, None] for k in sorted(keys)[:most]]}]
