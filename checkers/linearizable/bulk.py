"""Prove a large plain JSONL history linearizable with every core: read, pair and search in workers.

Checking a history of a million ops the ordinary way (``load``, then
``LinearizableChecker``) reads and pairs every op in one process before any
worker searches. Here each of ``jobs`` forked workers reads its own byte
range of the file straight into call rows (``harness.formats.jsonl_calls``),
keeps the rows of the keys it owns (a key's owner is its hash modulo the
workers) and leaves the rest for their owners in files of a shared
temporary folder, while this process pairs the calls that cross range
boundaries (``stitch``). Then each
worker searches its keys (``partition._run_inline``) and reports a line per
key. No ``Op`` is ever built.

This path proves linearizability only. Whatever else happens (input that is
not plain, a call the model rejects, a key not linearizable or unknown, a
worker that dies) makes ``check_file`` return None, and the caller checks
the file the ordinary way, which names the bad line or explains the failure
(the work done here is then lost; a failing history costs twice).
"""

from __future__ import annotations

import os
import pickle
import time
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from checkers.linearizable.models import Model, freeze
from checkers.linearizable.partition import _run_inline
from checkers.linearizable.workers import worker_signals
from harness.core.op import Call
from harness.formats.jsonl_calls import NotPlain, RangeCalls, Row, read_range, split_ranges, stitch

__all__ = ["BulkResult", "check_file"]


@dataclass
class BulkResult:
    """A history proven linearizable: its op count and a line per key
    (``key``, ``calls``, ``seconds``, ``explored``, ``first``: its first call's position)."""

    ops: int
    keys: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class _Job:
    path: str
    model: Model
    by_key: bool
    timeout: float | None
    max_configs: int | None
    parts: int


def check_file(
    path: str,
    model: Model,
    *,
    independent: bool,
    timeout: float | None = None,
    jobs: int | None = None,
    max_configs: int | None = None,
) -> BulkResult | None:
    """Every key of the JSONL history at ``path`` linearizable: the per-key figures; else None."""
    started = time.perf_counter()
    by_key = independent or bool(model.keyed)
    parts = max(1, jobs or os.cpu_count() or 1)
    job = _Job(path, model, by_key, timeout, max_configs, parts)
    ranges = split_ranges(path, os.path.getsize(path), parts)
    if len(ranges) < 2 or not _can_fork():
        result = _inline(job, ranges)
    else:
        result = _forked(job, ranges)
    if result is not None:
        result.seconds = time.perf_counter() - started
    return result


def _can_fork() -> bool:
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()


def _read(job: _Job, start: int, end: int) -> RangeCalls:
    return read_range(
        job.path,
        start,
        end,
        independent=job.by_key,
        observed_failures=job.model.observed_failures,
    )


def _inline(job: _Job, ranges: list[tuple[int, int]]) -> BulkResult | None:
    try:
        read = [_read(job, a, b) for a, b in ranges]
        rows = [r for rc in read for r in rc.calls]
        rows += stitch(read, job.by_key, job.model.observed_failures)
        keys = _search(job, rows)
    except NotPlain:
        return None
    if keys is None:
        return None
    return _result(read, keys)


def _result(read: list[RangeCalls], keys: list[dict[str, Any]]) -> BulkResult | None:
    ops = sum(rc.ops for rc in read)
    return BulkResult(ops, keys) if ops else None  # no ops: bad input, said the ordinary way


def _owner(key: Any, parts: int) -> int:
    return hash(freeze(key)) % parts


def _search(job: _Job, rows: list[Row], first: bool = True) -> list[dict[str, Any]] | None:
    """Search every key of ``rows``: a line per key if all are linearizable, else None.

    Without keys, the ``first`` worker reports the one line (all the rows
    are sent to it). Raises ``NotPlain`` for a call the model rejects.
    """
    groups: dict[Any, list[Row]] = {}
    if job.by_key:
        for r in rows:
            k = r[0]
            groups.setdefault(k if k.__class__ is not bool else freeze(k), []).append(r)
    elif first:
        groups[None] = rows
    work: list[tuple[Any, list[Call]]] = []
    validate = job.model.validate
    for key, group in groups.items():
        group.sort(key=_BY_CALL)
        calls = [
            Call(i, p, f, x, y, call, ret, xi, yi, k)
            for i, (k, p, f, x, y, call, ret, xi, yi) in enumerate(group)
        ]
        for c in calls:
            if validate(c):
                raise NotPlain("a call the model rejects")
        work.append((key, calls))
    groups.clear()
    results = _run_inline(work, job.model, job.timeout, job.max_configs)
    out = []
    for (key, calls), (result, seconds) in zip(work, results, strict=True):
        if result.valid is not True:
            return None
        out.append(
            {
                "key": key,
                "calls": len(calls),
                "seconds": round(seconds, 6),
                "explored": result.explored,
                "first": calls[0].call if calls else 0,
            }
        )
    return out


_BY_CALL = itemgetter(5)  # a row's call position


# ----------------------------------------------------------------------------- workers
#
# Each worker talks to this process over one pipe, in this order:
#   worker -> parent  ("read", RangeCalls without its calls), once it has written the rows
#                     each other worker owns to a file of the shared folder; or ("not-plain",)
#                     or ("no-room",) (the files could not be written)
#   parent -> worker  ("go", rows stitched across ranges that it owns) or ("stop",)
#   worker -> parent  ("done", a line per key) or ("not-plain",) or ("invalid",)
# Rows go from worker to worker through files, not through this process: relaying
# them cost most of a second on a million ops, a worker waiting for the other's turn.


def _forked(job: _Job, ranges: list[tuple[int, int]]) -> BulkResult | None:
    import multiprocessing
    import shutil
    import tempfile

    ctx = multiprocessing.get_context("fork")
    parts = len(ranges)
    job.parts = parts
    try:
        folder = tempfile.mkdtemp(prefix="seam-bulk-")
    except OSError:  # no writable temporary folder: one process reads it all
        return _inline(job, ranges)
    try:
        pipes = [ctx.Pipe() for _ in range(parts)]
        workers = [
            ctx.Process(target=_worker, args=(job, w, a, b, pipes[w][1], folder), daemon=True)
            for w, (a, b) in enumerate(ranges)
        ]
        for p in workers:
            p.start()
        for _, child in pipes:
            child.close()
        conns = [parent for parent, _ in pipes]
        try:
            return _drive(job, conns, parts)
        except (EOFError, OSError):  # a worker died
            return None
        finally:
            for p in workers:
                if p.is_alive():
                    p.terminate()
            for p in workers:
                p.join()
            for c in conns:
                c.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _drive(job: _Job, conns: list[Any], parts: int) -> BulkResult | None:
    read: list[RangeCalls] = []
    plain = True
    for conn in conns:
        msg = conn.recv()
        if msg[0] != "read":
            plain = False
            continue
        read.append(msg[1])
    stitched: list[list[Row]] = [[] for _ in range(parts)]
    if plain:
        try:
            for row in stitch(read, job.by_key, job.model.observed_failures):
                stitched[_owner(row[0], parts) if job.by_key else 0].append(row)
        except NotPlain:
            plain = False
    if not plain:
        for conn in conns:
            conn.send(("stop",))
        return None
    for w, conn in enumerate(conns):
        conn.send(("go", stitched[w]))
    # Verdicts in the order they come: one key not linearizable settles the
    # history while another worker may still be deep in a hard key.
    from multiprocessing.connection import wait

    keys: list[dict[str, Any]] = []
    waiting = list(conns)
    while waiting:
        for ready in wait(waiting):
            pipe: Any = ready
            msg = pipe.recv()
            if msg[0] != "done":
                return None
            keys += msg[1]
            waiting.remove(ready)
    keys.sort(key=lambda k: k["first"])  # keys in the order they first appear, as inline
    return _result(read, keys)


def _worker(job: _Job, w: int, start: int, end: int, conn: Any, folder: str) -> None:
    import gc

    gc.disable()  # millions of acyclic rows; the process ends when the search does
    worker_signals()  # not the parent's handlers: die when the parent ends it
    try:
        _work(job, w, start, end, conn, folder)
    except NotPlain:
        conn.send(("not-plain",))
    finally:
        conn.close()


def _rows_file(folder: str, sender: int, owner: int) -> str:
    return os.path.join(folder, f"{sender}-to-{owner}.pickle")


def _work(job: _Job, w: int, start: int, end: int, conn: Any, folder: str) -> None:
    parts = job.parts
    try:
        rc = _read(job, start, end)
    except NotPlain:
        conn.send(("not-plain",))
        return
    mine: list[Row] = []
    theirs: list[list[Row]] = [[] for _ in range(parts)]
    if job.by_key:
        for row in rc.calls:
            owner = _owner(row[0], parts)
            (mine if owner == w else theirs[owner]).append(row)
    else:
        (mine if w == 0 else theirs[0]).extend(rc.calls)
    rc.calls = []
    try:
        for j in range(parts):
            if j != w:
                with open(_rows_file(folder, w, j), "wb") as fh:
                    pickle.dump(theirs[j], fh, pickle.HIGHEST_PROTOCOL)
                theirs[j] = []
    except OSError:  # a full disk: the ordinary path checks the file
        conn.send(("no-room",))
        return
    conn.send(("read", rc))
    msg = conn.recv()
    if msg[0] != "go":
        return
    mine += msg[1]
    for j in range(parts):
        if j != w:
            path = _rows_file(folder, j, w)
            with open(path, "rb") as fh:
                mine += pickle.load(fh)
            os.unlink(path)  # the folder holds each row once at most
    keys = _search(job, mine, w == 0)
    conn.send(("done", keys) if keys is not None else ("invalid",))
