"""Make the node safe to run under libfaketime.

The clock nemesis runs services with libfaketime preloaded and
``FAKETIME_DONT_FAKE_MONOTONIC=1`` so that only the wall clock is skewed.
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


def install() -> None:
    if under_faketime():
        time.sleep = _event_sleep  # type: ignore[assignment]
