"""Hybrid logical clock (Kulkarni et al. 2014).

A timestamp is (wall_ms, logical, node): it stays close to the process's wall
clock (so libfaketime skews it, as it would skew a real node), yet it never
goes backwards and every ``update`` from a message moves it past the sender,
so causally later events always compare greater. The node name breaks ties so
two nodes never produce equal timestamps.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple


class Timestamp(NamedTuple):
    """Ordered as a tuple; JSON-encodes as ``[wall_ms, logical, node]``."""

    wall_ms: int
    logical: int
    node: str

    @classmethod
    def from_json(cls, raw: Any) -> Timestamp:
        """Parse ``[wall_ms, logical, node]``; raises ValueError naming what is wrong."""
        if not isinstance(raw, (list, tuple)) or len(raw) != 3:
            raise ValueError(f"timestamp must be [wall_ms, logical, node], got {raw!r}")
        wall, logical, node = raw
        if isinstance(wall, bool) or not isinstance(wall, int) or wall < 0:
            raise ValueError(f"timestamp wall_ms must be a non-negative integer, got {wall!r}")
        if isinstance(logical, bool) or not isinstance(logical, int) or logical < 0:
            raise ValueError(f"timestamp logical must be a non-negative integer, got {logical!r}")
        if not isinstance(node, str):
            raise ValueError(f"timestamp node must be a string, got {node!r}")
        return cls(wall, logical, node)

    def to_json(self) -> list[Any]:
        return [self.wall_ms, self.logical, self.node]


ZERO = Timestamp(0, 0, "")


class HLC:
    """A thread-safe hybrid logical clock for one node."""

    def __init__(self, node: str = "", clock: Callable[[], float] = time.time):
        self.node = node
        self._clock = clock
        self._wall = 0
        self._logical = 0
        self._lock = threading.Lock()

    def _physical(self) -> int:
        return int(self._clock() * 1000)

    def now(self) -> Timestamp:
        """A timestamp for a local or send event: greater than every earlier one."""
        with self._lock:
            pt = self._physical()
            if pt > self._wall:
                self._wall, self._logical = pt, 0
            else:
                self._logical += 1
            return Timestamp(self._wall, self._logical, self.node)

    def update(self, remote: Timestamp | Any) -> Timestamp:
        """A timestamp for receiving ``remote``: greater than it and than every local one."""
        r = remote if isinstance(remote, Timestamp) else Timestamp.from_json(remote)
        with self._lock:
            pt = self._physical()
            wall = max(self._wall, r.wall_ms, pt)
            if wall == self._wall and wall == r.wall_ms:
                logical = max(self._logical, r.logical) + 1
            elif wall == self._wall:
                logical = self._logical + 1
            elif wall == r.wall_ms:
                logical = r.logical + 1
            else:
                logical = 0
            self._wall, self._logical = wall, logical
            return Timestamp(wall, logical, self.node)

    def peek(self) -> Timestamp:
        """The last timestamp issued, without advancing the clock."""
        with self._lock:
            return Timestamp(self._wall, self._logical, self.node)
