"""The register workload kit any target can use: ops, final reads.

A target whose system is a key/value store with reads, writes and
compare-and-set gets Jepsen's independent cas-register test from here: a
seeded stream of ``read``/``write``/``cas`` ops on ``[key, value]`` over
rotating keys with unique values, and final reads of the newest keys. Its
client maps the three ops onto the system's API; ``checkers.linearizable``
with the ``cas-register`` model, ``independent=True``, judges the history.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass, replace
from typing import Any

from harness.core.op import NEMESIS, Op
from harness.core.protocols import Test
from harness.generator.context import PENDING, seed_state
from harness.generator.core import op as gen_op

__all__ = ["RegisterGen", "draws", "next_op", "register_final_reads"]


def draws(seed: int, salt: str, n: int) -> random.Random:
    """The randomness of op number ``n``: a function of (seed, n) alone, so the op
    sequence is the same under the same seed whatever the threads did."""
    return random.Random(seed_state(seed, salt, n))


#: How far back a cas looks for the latest value written to its key.
CAS_LOOKBACK = 64


#: Ops whose shapes are drawn together and cached as one block.
_BLOCK = CAS_LOOKBACK


def _shape(seed: int, keys: int, ops_per_key: int, n: int) -> tuple[str, str]:
    """Op ``n``'s key and function: its block's entry."""
    return _block(seed, keys, ops_per_key, n // _BLOCK)[n % _BLOCK]


@functools.lru_cache(maxsize=8)
def _block(seed: int, keys: int, ops_per_key: int, block: int) -> tuple[tuple[str, str], ...]:
    """The shapes of ops ``block * _BLOCK`` up to the next block, each from its own draws.

    Cached by block, not by op: a cas looks back at up to CAS_LOOKBACK ops before it,
    and an op cache was looked up that many times per cas (bench/harness.py's profile:
    the lookups were a tenth of the interpreter's bookkeeping)."""
    shapes = []
    for n in range(block * _BLOCK, (block + 1) * _BLOCK):
        rng = draws(seed, "register", n)
        k = f"k{rng.randrange(keys)}-{n // (keys * ops_per_key)}"
        roll = rng.random()
        shapes.append((k, "read" if roll < 0.5 else "write" if roll < 0.8 else "cas"))
    return tuple(shapes)


@dataclass(frozen=True, slots=True)
class RegisterGen:
    """A seeded stream of register ops over a rotating set of keys.

    ``keys`` keys are active at a time; after ``keys * ops_per_key`` ops
    every key is replaced by a fresh one (key ``k<slot>-<generation>``).
    Jepsen's independent generator does this for the same reason: a
    linearizability search is exponential in the concurrency of one key's
    history, so each key's history must stay short.

    Every write and cas writes a value no other op writes (op number ``n``
    writes ``n``), so a read names the one write it saw. With a few values
    only, a stale read could be explained by some other, crashed write of the
    same value, and a run with many timed-out writes would hide the very
    regressions it is looking for (and cost the search far more). A cas
    expects the value of the latest write issued to its key, so it can succeed.
    """

    seed: int
    keys: int = 8
    ops_per_key: int = 150
    count: int = 0

    def _shape(self, n: int) -> tuple[str, str]:
        """Op ``n``'s key and function, a function of (seed, n) alone."""
        return _shape(self.seed, self.keys, self.ops_per_key, n)

    def _latest_write(self, key: str, n: int) -> int | None:
        """The value of the newest write or cas to ``key`` among the ops just before ``n``."""
        lowest = max(0, n - CAS_LOOKBACK)
        for block in range((n - 1) // _BLOCK, lowest // _BLOCK - 1, -1):
            shapes = _block(self.seed, self.keys, self.ops_per_key, block)
            first = block * _BLOCK
            for m in range(min(n - 1, first + _BLOCK - 1), max(lowest, first) - 1, -1):
                k, f = shapes[m - first]
                if k == key and f != "read":
                    return m
        return None

    def template(self, n: int) -> dict[str, Any]:
        k, f = self._shape(n)
        if f == "read":
            return {"f": "read", "value": [k, None]}
        expected = self._latest_write(k, n) if f == "cas" else None
        if expected is None:
            return {"f": "write", "value": [k, n]}
        return {"f": "cas", "value": [k, [expected, n]]}

    def op(self, test: Test | None, ctx: Any) -> tuple[Any, Any]:
        filled, _ = gen_op(self.template(self.count), test, ctx)  # type: ignore[misc]
        if filled is PENDING:
            return PENDING, self
        # Not dataclasses.replace, which costs five times as much, once per op.
        return filled, RegisterGen(self.seed, self.keys, self.ops_per_key, self.count + 1)

    def update(self, test: Test | None, ctx: Any, event: Any) -> Any:
        return self


def next_op(gen: Any, template: dict[str, Any], test: Test | None, ctx: Any, **advance: Any) -> tuple[Any, Any]:
    """Fill the template (process, time) and advance ``gen`` only if an op was given."""
    filled, _ = gen_op(template, test, ctx)  # type: ignore[misc]
    if filled is PENDING:
        return PENDING, gen
    return filled, replace(gen, **advance)


def register_final_reads(history: list[Op]) -> list[dict[str, Any]]:
    """One read of every key of the newest generation seen in the history."""
    newest: dict[str, int] = {}
    for o in history:
        if o.type == "invoke" and o.process != NEMESIS and isinstance(o.value, list) and o.value:
            k = str(o.value[0])
            slot, _, generation = k.rpartition("-")
            if generation.isdigit():
                newest[k] = int(generation)
    if not newest:
        return []
    top = max(newest.values())
    return [{"f": "read", "value": [k, None]} for k in sorted(newest) if newest[k] == top]


