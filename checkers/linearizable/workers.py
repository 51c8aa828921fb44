"""Forked workers, one private pipe each: run a function over items, stop at once on demand.

Why not ``multiprocessing.Pool``: its workers share a task queue and a result
queue, each guarded by a semaphore, and ending a pool early (a key found not
linearizable settles the verdict) SIGTERMs workers that may hold one of those
semaphores at that instant. Its task handler then waits for that semaphore
forever, and so does the parent that joins it: a ``seam test`` check phase
hung for minutes that way, after its first invalid key, with 29 keys left.
A worker that dies (the OOM killer) loses its task and ``imap`` waits for
it forever, too.

Here each worker has its own duplex pipe and shares no lock with anyone, so
stopping means killing: nothing is left locked. A worker that dies is an
``EOFError`` on its pipe, and its chunk comes back as ``Died`` rows instead
of a hang. An exception in a worker is raised in the parent, as a pool would.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any


@dataclass(frozen=True)
class Died:
    """What an item's result is when the worker running it died: its exit code says how."""

    exitcode: int | None


def worker_signals() -> None:
    """Start of every forked worker: die on SIGTERM and SIGHUP, leave SIGINT to the parent.

    A forked worker inherits its parent's handlers. Under ``seam test`` those
    turn SIGTERM into "stop the run, then check", so a worker that kept them
    would take the SIGTERM that ends it as a request to stop, and live on.
    """
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _serve(run: Callable[[Any], Any], conn: Connection) -> None:
    """A worker: results of each chunk it is sent, until its pipe closes; an exception goes
    back to the parent, which raises it (as a pool would), instead of ending the worker."""
    worker_signals()
    while True:
        try:
            chunk = conn.recv()
        except EOFError:
            return
        try:
            reply: tuple[str, Any] = ("done", [run(item) for item in chunk])
        except Exception as e:  # noqa: BLE001 - the parent decides
            reply = ("raised", e)
        try:
            conn.send(reply)
        except Exception as e:  # noqa: BLE001 - an exception that does not pickle
            conn.send(("raised", RuntimeError(f"{type(e).__name__} in a key worker: {e}")))


class Workers:
    """``jobs`` forked workers running ``run``; a context manager that kills them on exit."""

    def __init__(self, run: Callable[[Any], Any], jobs: int):
        ctx = multiprocessing.get_context("fork")
        self.procs: list[Any] = []
        self.conns: list[Connection] = []
        for _ in range(jobs):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_serve, args=(run, child), daemon=True)
            proc.start()
            child.close()
            self.procs.append(proc)
            self.conns.append(parent)

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        # Idle or in the middle of an item, a worker holds nothing anyone shares: kill it.
        for proc in self.procs:
            if proc.is_alive():
                proc.kill()
        for proc in self.procs:
            proc.join()
        for conn in self.conns:
            conn.close()

    def map_unordered(self, chunks: Iterable[Sequence[Any]]) -> Iterator[tuple[Any, Any]]:
        """(item, result) as each chunk finishes, in no set order; a dead worker's items get ``Died``.

        Chunks are drawn as workers come free. Stop iterating whenever the answer
        is settled; leaving the ``with`` block ends the workers still busy. Once
        every worker has died, the chunks not yet drawn are never run: the caller
        sees which items got no result."""
        todo = iter(chunks)
        busy: dict[Connection, Sequence[Any]] = {}
        procs = dict(zip(self.conns, self.procs, strict=True))
        for conn in self.conns:
            chunk = next(todo, None)
            if chunk is None:
                break
            busy[conn] = chunk
            with contextlib.suppress(OSError):  # died already: its EOF says so below
                conn.send(chunk)
        while busy:
            for ready in wait(list(busy)):
                assert isinstance(ready, Connection)
                conn = ready
                chunk = busy.pop(conn)
                try:
                    kind, results = conn.recv()
                except (EOFError, OSError):  # died: no reply, or half of one
                    proc = procs[conn]
                    proc.join()
                    results = [Died(proc.exitcode)] * len(chunk)
                else:
                    if kind == "raised":
                        raise results
                    following = next(todo, None)
                    if following is not None:
                        busy[conn] = following
                        with contextlib.suppress(OSError):
                            conn.send(following)
                yield from zip(chunk, results, strict=True)
