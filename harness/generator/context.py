"""The immutable context a generator sees, and the seeded randomness it draws from.

A generator never reads a clock or a global random state. Time comes from
``Context.time`` (ns since the test began, on the control node's monotonic
clock, or virtual time in ``simulate``); randomness comes from a small pure
PRNG (splitmix64) whose state a combinator carries in its own record, seeded
from ``Context.rng_seed``. So the same seed and the same configuration give
the same op sequence, with or without threads.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

NEMESIS = "nemesis"

_MASK = (1 << 64) - 1
_NEMESIS_SET = frozenset((NEMESIS,))


class _Pending:
    """Nothing to do right now, but maybe later (when a thread frees up or time passes)."""

    _instance: _Pending | None = None

    def __new__(cls) -> _Pending:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "PENDING"

    def __reduce__(self) -> str:
        return "PENDING"


PENDING: Any = _Pending()


def thread_order(thread: Any) -> tuple[int, Any]:
    """Client threads ascending, then the nemesis: the order free threads are handed out."""
    return (1, 0) if thread == NEMESIS else (0, thread)


@dataclass(frozen=True, slots=True)
class Context:
    """What a generator may know: the time, which threads are free, who runs where.

    ``workers`` maps every thread (ints ``0..concurrency-1`` and ``"nemesis"``)
    to the process it runs now; a client thread gets a new process when its
    op crashes (``info``). ``step`` counts the events the driver has seen; it
    only seeds randomness (``rng``) so that draws differ from op to op.
    A context restricted with ``restrict`` (``clients``, ``on_threads``,
    ``each_thread``) shows only the allowed threads, so ``phases`` inside
    ``clients`` waits for the clients alone.

    ``shared`` caches what depends on ``workers`` alone (the reverse map,
    restricted views); a driver passes the same dict for as long as it passes
    the same ``workers`` object, and a fresh one when a process is retired.
    """

    time: int
    free_threads: frozenset
    workers: Mapping[Any, Any]
    rng_seed: int = 0
    step: int = 0
    shared: dict = field(default_factory=dict, compare=False, repr=False)

    # -- threads and processes -------------------------------------------------
    def all_threads(self) -> frozenset:
        got = self.shared.get("all")
        if got is None:
            got = self.shared["all"] = frozenset(self.workers)
        return got

    def sorted_free_threads(self) -> list:
        """Free threads, client threads ascending, then the nemesis."""
        free = self.free_threads
        if NEMESIS in free:
            return sorted(free - _NEMESIS_SET) + [NEMESIS]
        return sorted(free)

    def free_processes(self) -> list:
        """Processes of the free threads, client threads first, in thread order."""
        return [self.workers[t] for t in self.sorted_free_threads()]

    def some_free_process(self) -> Any | None:
        """The process a template without one is given: a free client thread's, in turn.

        Turns move with ``step`` (the first free client thread at or after a
        position drawn from ``step``), so under a rate limit, where usually every
        thread is free, ops still spread over all threads (and so over all
        nodes) instead of piling on thread 0. Deterministic: the same events
        give the same choice.
        """
        free = self.free_threads
        if not free:
            return None
        clients = free - _NEMESIS_SET if NEMESIS in free else free
        if not clients:
            return self.workers[NEMESIS]
        if len(clients) == 1:
            return self.workers[next(iter(clients))]
        width = self.shared.get("width")
        if width is None:
            width = self.shared["width"] = max(t for t in self.workers if t != NEMESIS) + 1
        # A mixed step, not the step itself: the step may advance by two per op.
        start = ((self.step * 0x9E3779B1) >> 11) % width
        after = [t for t in clients if t >= start]
        return self.workers[min(after) if after else min(clients)]

    def process_of(self, thread: Any) -> Any:
        return self.workers[thread]

    def thread_of(self, process: Any) -> Any | None:
        """The thread running ``process`` now, or None (retired, or outside this view)."""
        by_process = self.shared.get("by_process")
        if by_process is None:
            by_process = self.shared["by_process"] = {p: t for t, p in self.workers.items()}
        return by_process.get(process)

    def all_free(self) -> bool:
        return len(self.free_threads) == len(self.workers)

    # -- views ----------------------------------------------------------------
    def restrict(self, allowed: Callable[[Any], bool]) -> Context:
        """The same moment seen by a generator that may use only threads where ``allowed``."""
        view = self.shared.get(allowed)
        if view is None:
            workers = {t: p for t, p in self.workers.items() if allowed(t)}
            view = self.shared[allowed] = (workers, frozenset(workers), {})
        workers, threads, shared = view
        free = self.free_threads
        if len(threads) != len(self.workers):
            free = free & threads
        return Context(self.time, free, workers, self.rng_seed, self.step, shared)

    def only(self, thread: Any) -> Context:
        """The view of a single thread (``each_thread``)."""
        free = frozenset((thread,)) if thread in self.free_threads else frozenset()
        return Context(self.time, free, {thread: self.workers[thread]}, self.rng_seed, self.step)

    # -- randomness -----------------------------------------------------------
    def rng(self, salt: str = "") -> random.Random:
        """A ``random.Random`` seeded from (seed, step, salt): for values inside ``fn`` templates.

        Deterministic under ``simulate``; under real threads ``step`` follows
        the interleaving, as any draw must.
        """
        return random.Random(seed_state(self.rng_seed, salt, self.step))


def seed_state(seed: int, salt: str, step: int = 0) -> int:
    """A 64-bit PRNG state from a seed, a stable salt (crc32, not ``hash``) and a step."""
    x = (seed * 0x9E3779B97F4A7C15 + zlib.crc32(salt.encode()) * 0xBF58476D1CE4E5B9 + step) & _MASK
    return _mix(x)


def _mix(z: int) -> int:
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def next_u64(state: int) -> tuple[int, int]:
    """splitmix64: (a 64-bit draw, the next state). Pure, so a record can carry its state."""
    state = (state + 0x9E3779B97F4A7C15) & _MASK
    return _mix(state), state


def next_float(state: int) -> tuple[float, int]:
    """A float uniform in [0, 1) and the next state."""
    x, state = next_u64(state)
    return (x >> 11) / float(1 << 53), state


def next_below(state: int, n: int) -> tuple[int, int]:
    """An int uniform in [0, n) and the next state (n is small, so modulo bias is negligible)."""
    x, state = next_u64(state)
    return x % n, state


def make_context(
    time: int,
    free: Iterable,
    workers: Mapping[Any, Any],
    seed: int = 0,
    step: int = 0,
) -> Context:
    """A context for tests and drivers: ``free`` may be any iterable of threads."""
    return Context(time, frozenset(free), workers, seed, step)
