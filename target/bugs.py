"""Bug flags: each name turns exactly one safety mechanism off.

A flag reproduces one composition bug from the seed material, so the harness
can prove it catches each one. Code asks ``ctx.bugs.on("name")``; asking for a
name that is not in ``KNOWN`` raises, so a typo cannot silently mean "off".
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

KNOWN: dict[str, str] = {
    "weak-quorum": "store uses W=1, R=1 (R+W <= N): a read can miss an acknowledged write (seed snippet 1)",
    "no-write-back": "store reads skip the write-back, so reads are regular, not linearizable",
    "fence-after-write": "resources write first, then remember the token: a stale leader's write lands (snippet 2)",
    "refund-without-key": "the refund compensation sends no idempotency key: a retried refund lands twice (snippet 3)",
    "naive-retry": "retries use a fixed 1 s delay, no jitter, no budget, no breaker, 6 attempts (snippet 4)",
    "wall-clock-order": "saga steps are ordered and stamped by wall clock instead of HLC",
    "commit-before-effect": "the event consumer commits its offset before applying the effect",
}


class UnknownBug(ValueError):
    """A bug name that target/bugs.py does not define."""

    def __init__(self, name: str):
        super().__init__(
            f"unknown bug flag {name!r}; known flags: {', '.join(sorted(KNOWN))} (see target/bugs.py)"
        )
        self.name = name


class Bugs:
    """An immutable set of enabled bug flags."""

    def __init__(self, names: Iterable[str] = ()):
        names = tuple(names)
        for name in names:
            if name not in KNOWN:
                raise UnknownBug(name)
        self._names = frozenset(names)

    def on(self, name: str) -> bool:
        """True when the mechanism named by this flag is switched OFF."""
        if name not in KNOWN:
            raise UnknownBug(name)
        return name in self._names

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._names))

    def __len__(self) -> int:
        return len(self._names)

    def __repr__(self) -> str:
        return f"Bugs({sorted(self._names)!r})"
