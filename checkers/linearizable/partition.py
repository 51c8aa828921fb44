"""Check a whole history: split it by key, search each key, merge the verdicts.

Linearizability is compositional (Herlihy and Wing's locality; Horn and
Kroening's P-compositionality): a history over independent keys is
linearizable iff each key's sub-history is. So ``kv`` (keyed) and any model
lifted with ``independent`` are checked one key at a time.

Keys are searched in worker processes (``workers.py``) when there is enough
work to pay for them (several keys and many calls); small inputs run inline,
so the oracle corpus does not pay for forking. A worker that dies leaves its
keys ``unknown`` with the reason. Each key has its own deadline and
configuration budget; a key that exhausts either is ``unknown`` with the
reason, and the history is then ``unknown`` unless another key is invalid.

Every key is checked by default (as Jepsen's independent checker does), so
the verdict says how many keys failed, not only that one did. With
``fail_fast`` the search stops at the first invalid key (as Porcupine does):
keys still running are reported ``unknown`` with the reason "not finished:
key K is already not linearizable", and keys that finished before keep their
verdicts. Inline, keys run a slice at a time in turn, so a cheap invalid key
is found even when another key's search is exponential.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, Literal

from checkers.linearizable.models import Model, freeze
from checkers.linearizable.search import SearchResult, SearchTask, search, start
from harness.core.errors import HistoryError, InputError
from harness.core.op import Call, History

__all__ = ["KeyResult", "LinearResult", "check_history", "check_calls", "merge_valid"]

#: Below this many calls in total, every key is checked in this process.
_INLINE_CALLS = 4000
#: Keys searched in turn at once when checking inline.
_WINDOW = 16

Valid = bool | Literal["unknown"]


@dataclass
class KeyResult:
    """The verdict for one key (``key`` is ``None`` when the history is not partitioned)."""

    key: Any
    valid: Valid
    calls: list[Call]
    result: SearchResult
    seconds: float


@dataclass
class LinearResult:
    """The verdict for a history: ``False`` if any key is, else ``"unknown"`` if any is, else ``True``."""

    valid: Valid
    keys: list[KeyResult]
    seconds: float


def merge_valid(verdicts: list[Valid]) -> Valid:
    if any(v is False for v in verdicts):
        return False
    if any(v == "unknown" for v in verdicts):
        return "unknown"
    return True


def check_history(
    history: History,
    model: Model,
    *,
    independent: bool = False,
    timeout: float | None = None,
    jobs: int | None = None,
    max_configs: int | None = None,
    fail_fast: bool = False,
) -> LinearResult:
    """Check ``history`` against ``model``; keyed models are always split by key.

    Raises ``HistoryError`` naming the line of the first call whose value
    does not fit the model.
    """
    by_key = independent or model.keyed
    calls = history.calls(observed_failures=model.observed_failures, independent=by_key)
    for c in calls:
        problem = model.validate(c)
        if problem:
            raise HistoryError(problem, source=history.source, line=history.line(c.call))
    return check_calls(
        calls, model, by_key=by_key, timeout=timeout, jobs=jobs, max_configs=max_configs, fail_fast=fail_fast
    )


def check_calls(
    calls: list[Call],
    model: Model,
    *,
    by_key: bool,
    timeout: float | None = None,
    jobs: int | None = None,
    max_configs: int | None = None,
    fail_fast: bool = False,
) -> LinearResult:
    """Check already-built calls; with ``by_key`` they are grouped by ``Call.key``; with
    ``fail_fast`` the first invalid key ends the search."""
    if timeout is not None and timeout <= 0:
        raise InputError(f"timeout must be positive, got {timeout}")
    started = time.perf_counter()
    groups: dict[Any, list[Call]] = {}
    if by_key:
        for c in calls:
            groups.setdefault(freeze(c.key), []).append(c)
    else:
        groups[None] = list(calls)
    work = list(groups.items())
    # os.cpu_count() reads /sys each time (0.1 ms): only asked when a pool could pay off.
    if len(work) > 1 and len(calls) >= _INLINE_CALLS and (jobs or os.cpu_count() or 1) > 1:
        results = _run_pool(work, model, timeout, max_configs, jobs or os.cpu_count() or 1, fail_fast)
    else:
        results = _run_inline(work, model, timeout, max_configs, fail_fast)
    out = [
        KeyResult(k, r.valid, cs, r, secs) for (k, cs), (r, secs) in zip(work, results, strict=True)
    ]
    return LinearResult(merge_valid([k.valid for k in out]), out, time.perf_counter() - started)


def _check_key(
    calls: list[Call], model: Model, timeout: float | None, max_configs: int | None
) -> tuple[SearchResult, float]:
    t0 = time.monotonic()
    deadline = None if timeout is None else t0 + timeout
    result = search(calls, model, deadline=deadline, max_configs=max_configs)
    return result, time.monotonic() - t0


def _not_finished(key: Any) -> SearchResult:
    return SearchResult("unknown", f"not finished: key {key!r} is already not linearizable")


def _run_inline(
    work: list[tuple[Any, list[Call]]], model: Model, timeout: float | None, max_configs: int | None,
    fail_fast: bool = False,
) -> list[tuple[SearchResult, float]]:
    """Search every key in this process, a slice of each in turn.

    Round-robin over a window of ``_WINDOW`` keys (as Porcupine runs
    partitions concurrently) means a cheap invalid key is found even when
    another key's search is exponential, while only the window's search
    tables are in memory at once. With ``fail_fast`` the first invalid key
    settles the verdict and the unfinished keys say so.
    """
    if len(work) == 1:
        return [_check_key(work[0][1], model, timeout, max_configs)]
    tasks: list[SearchTask | None] = [None] * len(work)
    results: list[tuple[SearchResult, float] | None] = [None] * len(work)
    waiting = iter(range(len(work)))
    active: list[int] = []
    failed_key: Any = None
    while True:
        while len(active) < _WINDOW:
            i = next(waiting, -1)
            if i < 0:
                break
            tasks[i] = start(work[i][1], model, max_configs=max_configs)
            active.append(i)
        if not active:
            break
        still = []
        for i in active:
            task = tasks[i]
            assert task is not None
            result = task.advance()
            if result is None and timeout is not None and task.seconds > timeout:
                result = task.give_up(f"timeout after {task.seconds:.1f} s")
            if result is None:
                still.append(i)
                continue
            results[i] = (result, task.seconds)
            tasks[i] = None  # free its tables
            if result.valid is False and fail_fast:
                failed_key = work[i][0]
                break
        if failed_key is not None:
            break
        active = still
    out = []
    for i, r in enumerate(results):
        if r is None:
            task = tasks[i]
            stopped = _not_finished(failed_key)
            stopped.explored = task.explored if task is not None else 0
            r = (stopped, task.seconds if task is not None else 0.0)
        out.append(r)
    return out


# Worker processes are forked and read the model and limits from this module
# global. Each key's calls travel to its worker as plain tuples, rebuilt there:
# a worker that read the inherited Call objects instead would touch (and so
# copy, page by page) most of the parent's history, as keys are interleaved in
# it, and a 1,000,000-op check would need its memory three times over.
_WORK: tuple[Model, float | None, int | None] | None = None
_FIELDS = attrgetter(*Call.__dataclass_fields__)


def _packed(
    work: list[tuple[Any, list[Call]]], order: list[int]
) -> Iterator[tuple[int, list[Any]]]:
    for i in order:
        yield i, [_FIELDS(c) for c in work[i][1]]


def _work_item(item: tuple[int, list[Any]]) -> tuple[int, SearchResult, float]:
    assert _WORK is not None
    model, timeout, max_configs = _WORK
    i, rows = item
    result, secs = _check_key([Call(*row) for row in rows], model, timeout, max_configs)
    return i, result, secs


def _run_pool(
    work: list[tuple[Any, list[Call]]],
    model: Model,
    timeout: float | None,
    max_configs: int | None,
    jobs: int,
    fail_fast: bool = False,
) -> list[tuple[SearchResult, float]]:
    global _WORK
    import multiprocessing  # only here: most checks run inline and need not load it

    from checkers.linearizable.workers import Died, Workers

    if "fork" not in multiprocessing.get_all_start_methods():
        return [_check_key(cs, model, timeout, max_configs) for _, cs in work]
    # Largest keys first, so one big key does not finish last on its own.
    order = sorted(range(len(work)), key=lambda i: -len(work[i][1]))
    chunk = max(1, min(32, len(work) // (jobs * 8)))
    results: list[tuple[SearchResult, float] | None] = [None] * len(work)
    failed_key: Any = None
    _WORK = (model, timeout, max_configs)
    # Keep the collector in the workers away from the inherited history: a
    # full collection would touch (and so copy) every inherited page.
    gc.freeze()
    try:
        with Workers(_work_item, min(jobs, len(work))) as workers:
            for (i, _), found in workers.map_unordered(_chunks(_packed(work, order), chunk)):
                result = _died(work[i][0], found) if isinstance(found, Died) else found[1:]
                results[i] = result
                if result[0].valid is False and fail_fast:
                    failed_key = work[i][0]
                    break  # the verdict is settled; leaving the block ends the workers
    finally:
        _WORK = None
        gc.unfreeze()
    return [r if r is not None else (_unchecked(failed_key), 0.0) for r in results]


def _chunks(items: Iterator[tuple[int, list[Any]]], size: int) -> Iterator[list[tuple[int, list[Any]]]]:
    batch: list[tuple[int, list[Any]]] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _died(key: Any, died: Any) -> tuple[SearchResult, float]:
    how = "killed by SIGKILL: out of memory?" if died.exitcode == -9 else f"exit code {died.exitcode}"
    return SearchResult("unknown", f"not finished: the worker checking key {key!r} died ({how})"), 0.0


def _unchecked(failed_key: Any) -> SearchResult:
    if failed_key is not None:
        return _not_finished(failed_key)
    return SearchResult("unknown", "not checked: every worker process died")
