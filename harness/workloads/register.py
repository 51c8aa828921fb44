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


@functools.lru_cache(maxsize=4 * CAS_LOOKBACK)
def _shape(seed: int, keys: int, ops_per_key: int, n: int) -> tuple[str, str]:
    """Op ``n``'s key and function. Cached: a cas looks back at the ops before it, and
    an op the interpreter could not hand out yet (no free process) is asked for again,
    so without the cache each op's draws were made about ten times (bench/harness.py's
    profile: the generator was 40% of the interpreter loop's time)."""
    rng = draws(seed, "register", n)
    k = f"k{rng.randrange(keys)}-{n // (keys * ops_per_key)}"
    roll = rng.random()
    return k, "read" if roll < 0.5 else "write" if roll < 0.8 else "cas"


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
        for m in range(n - 1, max(-1, n - 1 - CAS_LOOKBACK), -1):
            k, f = self._shape(m)
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
        return next_op(self, self.template(self.count), test, ctx, count=self.count + 1)

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


