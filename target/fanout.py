"""Fan-out: one call to many nodes, returning once enough of them answered.

``fan_out`` is how quorum reads and writes and elections ask their peers;
``Workers`` is the lean thread pool it runs on. A call that raises
``CallError`` (no reply, see ``pool``) or a bad reply's ``OSError``,
``ValueError``, ``KeyError`` or ``TypeError`` is an error for that node; any
other exception is a bug and reaches the caller.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from target.pool import CallError


class Workers:
    """Daemon threads that run fan-out calls: a lean stand-in for ThreadPoolExecutor.

    A quorum call hands each remote node to a worker and collects replies on its
    own queue; no Future, Condition or waiter objects per call. Threads are
    started on demand (whenever more calls are queued than threads are idle), up
    to ``limit``, so a paused peer that holds workers for a whole timeout does not
    delay calls to the other peers.
    """

    def __init__(self, limit: int = 128, name: str = "fanout"):
        self.limit, self.name = limit, name
        self._q: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._count = self._idle = self._pending = 0
        self._closed = False
        self._executor: ThreadPoolExecutor | None = None

    def executor(self) -> ThreadPoolExecutor:
        """A ThreadPoolExecutor for the calls that want its timing (see fan_out)."""
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=32, thread_name_prefix=self.name)
            return self._executor

    def submit(self, fn: Callable[[str], Any], node: str, out: queue.SimpleQueue[Any]) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self.name} workers are shut down")
            self._pending += 1
            if self._pending > self._idle and self._count < self.limit:
                self._count += 1
                threading.Thread(target=self._run, name=f"{self.name}-{self._count}", daemon=True).start()
        self._q.put((fn, node, out))

    def _run(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            item = self._q.get()
            with self._lock:
                self._idle -= 1
                self._pending -= 1
            if item is None:
                return
            fn, node, out = item
            try:
                out.put((node, True, fn(node)))
            except BaseException as e:  # noqa: BLE001 - handed to the caller, which decides
                out.put((node, False, e))

    def shutdown(self) -> None:
        with self._lock:
            self._closed = True
            count = self._count
            if self._executor is not None:
                self._executor.shutdown(wait=False, cancel_futures=True)
        for _ in range(count):
            self._q.put(None)


_EXPECTED = (CallError, OSError, ValueError, KeyError, TypeError)


def fan_out(
    pool: Any,
    nodes: list[str],
    need: int,
    fn: Callable[[str], Any],
    timeout: float,
    *,
    local: str | None = None,
    hedge: float | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """Run fn(node) for the nodes; return as soon as ``need`` succeeded.

    Returns ({node: result}, {node: error}). Stragglers keep running (each
    bounded by its own call timeout) but are not waited for. ``pool`` is a
    ``Workers`` or any executor with ``submit`` (which always calls every node).

    With ``Workers``:
    - ``local`` (this node, if it is in ``nodes``) runs inline in the caller's
      thread while remote calls are in flight, saving a thread handoff;
    - need < 2 goes through an executor, every node in parallel, as before;
    - ``hedge`` (seconds), for calls whose effect is not needed everywhere
      (reads): only the first ``need`` nodes are asked at once, in the given
      order; the next one is asked when a call fails or every ``hedge`` seconds
      without ``need`` replies. Nodes never asked are not in either dict.
    """
    if not isinstance(pool, Workers):
        return _fan_out_futures(pool, nodes, need, fn, timeout)
    if need < 2:
        # One reply ends the call (weak quorums, a one-replica write-back): keep the
        # executor's timing, under which the other calls have usually run by the time
        # the caller goes on, as callers and tests of the weak-quorum bug expect.
        return _fan_out_futures(pool.executor(), nodes, need, fn, timeout)
    out: queue.SimpleQueue[Any] = queue.SimpleQueue()
    if local not in nodes:
        local = None
    remote = [n for n in nodes if n != local]
    waiting = list(reversed(remote))  # pop() asks them in order
    first = len(remote) if hedge is None else max(0, need - (local is not None))
    outstanding = 0
    for _ in range(min(first, len(waiting))):
        pool.submit(fn, waiting.pop(), out)
        outstanding += 1
    ok: dict[str, Any] = {}
    errors: dict[str, str] = {}
    deadline = _monotonic() + timeout
    if local is not None:
        try:
            ok[local] = fn(local)
        except _EXPECTED as e:
            errors[local] = str(e)
    while len(ok) < need and (outstanding or waiting):
        now = _monotonic()
        if deadline <= now:
            break
        short = len(ok) + outstanding < need  # not enough calls in flight to reach need
        if waiting and (short or not outstanding):
            pool.submit(fn, waiting.pop(), out)
            outstanding += 1
            continue
        left = deadline - now if hedge is None or not waiting else min(hedge, deadline - now)
        try:
            node, good, value = out.get(timeout=left)
        except queue.Empty:
            if waiting:  # slow replies: ask one more node
                pool.submit(fn, waiting.pop(), out)
                outstanding += 1
            continue
        outstanding -= 1
        if good:
            ok[node] = value
        elif isinstance(value, _EXPECTED):
            errors[node] = str(value)
        else:
            raise value
    asked = set(nodes) - set(waiting)
    for n in asked:
        if n not in ok:
            errors.setdefault(n, "no answer in time")
    return ok, errors


def _fan_out_futures(
    pool: Any, nodes: list[str], need: int, fn: Callable[[str], Any], timeout: float
) -> tuple[dict[str, Any], dict[str, str]]:
    from concurrent.futures import FIRST_COMPLETED, wait

    futures = {pool.submit(fn, n): n for n in nodes}
    ok: dict[str, Any] = {}
    errors: dict[str, str] = {}
    pending = set(futures)
    deadline = _monotonic() + timeout
    while pending and len(ok) < need:
        left = deadline - _monotonic()
        if left <= 0:
            break
        finished, pending = wait(pending, timeout=left, return_when=FIRST_COMPLETED)
        for f in finished:
            try:
                ok[futures[f]] = f.result()
            except _EXPECTED as e:
                errors[futures[f]] = str(e)
    for f in pending:
        errors.setdefault(futures[f], "no answer in time")
    return ok, errors


def _monotonic() -> float:
    return time.monotonic()
