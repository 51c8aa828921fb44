"""Skew this node's wall clock for the clock nemesis, cheaply; and make the
node safe to run under libfaketime when that is used instead.

Two ways to skew: a node started with ``SEAM_CLOCK_FILE`` reads its offset
(libfaketime's syntax, ``+5s`` / ``-3s`` / ``+0s``) from that file itself:
``time.time`` and ``time.time_ns`` add it, and the file is looked at (one
``stat``) at most every 50 ms of monotonic time, so an unskewed node pays
nothing measurable. Monotonic clocks are never touched, so leases and
timeouts keep real time while HLC and wall-clock stamps drift. This is the
pipeline's default: measured on 127.0.0.x, libfaketime (even with a cache
duration) slowed GET /health from 0.5 ms to 19-35 ms and a put+get from
2.4 ms to 53-64 ms, because it also intercepts timed waits.

The other way, the adapter's ``clock="libfaketime"`` (for comparison; the
clock nemesis uses the shim above by default), runs services with
libfaketime preloaded and ``FAKETIME_DONT_FAKE_MONOTONIC=1`` so that only
the wall clock is skewed.
With libfaketime 0.9.10 that combination makes ``clock_nanosleep`` fail with
EINVAL, which is what ``time.sleep`` calls, while timed waits on locks and
events keep working. When libfaketime is preloaded we therefore replace
``time.sleep`` with a timed wait on an event that is never set. This must run
before any module binds ``time.sleep`` (e.g. as a default argument), which is
why ``target/__init__.py`` calls it.
"""

from __future__ import annotations

import os
import threading
import time

_real_sleep = time.sleep


def _event_sleep(seconds: float) -> None:
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    threading.Event().wait(seconds)


def under_faketime() -> bool:
    return "faketime" in os.environ.get("LD_PRELOAD", "")


class FileOffset:
    """The offset in ``path``, re-read when the file changes (checked every ``every`` s)."""

    def __init__(self, path: str, every: float = 0.05):
        self.path = path
        self.every = every
        self.offset = 0.0
        self._checked = -1e18
        self._mtime = -1

    def seconds(self) -> float:
        now = _real_monotonic()
        if now - self._checked >= self.every:
            self._checked = now
            try:
                st = os.stat(self.path)
                if st.st_mtime_ns != self._mtime:
                    self._mtime = st.st_mtime_ns
                    self.offset = parse_offset(open(self.path, encoding="utf-8").read())
            except (OSError, ValueError):
                pass  # no file yet, or half written: keep the last offset
        return self.offset


def parse_offset(text: str) -> float:
    """``+12.5s`` -> 12.5; ``-3s`` -> -3.0 (libfaketime's relative syntax, seconds only)."""
    text = text.strip()
    if not text.endswith("s"):
        raise ValueError(f"not an offset in seconds: {text!r}")
    return float(text[:-1])


_real_time = time.time
_real_time_ns = time.time_ns
_real_monotonic = time.monotonic


def install_offset(path: str) -> FileOffset:
    """Make ``time.time`` and ``time.time_ns`` follow the offset in ``path``."""
    offset = FileOffset(path)
    time.time = lambda: _real_time() + offset.seconds()  # type: ignore[assignment]
    time.time_ns = lambda: _real_time_ns() + int(offset.seconds() * 1e9)  # type: ignore[assignment]
    return offset


def install() -> None:
    if under_faketime():
        time.sleep = _event_sleep  # type: ignore[assignment]
    path = os.environ.get("SEAM_CLOCK_FILE")
    if path:
        install_offset(path)
