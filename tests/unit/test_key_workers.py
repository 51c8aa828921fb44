"""Forked key workers on private pipes: a dead worker is a result, not a hang, and stopping
early kills the busy ones at once (nothing shared is left locked)."""

from __future__ import annotations

import os
import time

import pytest

from checkers.linearizable.workers import Died, Workers


def _square_or_die(x: int) -> int:
    if x == 13:
        os._exit(7)  # as the OOM killer would end it, without a word
    if x < 0:
        time.sleep(60)  # a hopeless key
    if x == 99:
        raise ValueError("bad item 99")
    return x * x


def test_every_item_gets_its_result_in_some_order() -> None:
    with Workers(_square_or_die, 3) as workers:
        got = dict(workers.map_unordered([[1, 2], [3], [4, 5], [6]]))
    assert got == {1: 1, 2: 4, 3: 9, 4: 16, 5: 25, 6: 36}


def test_a_worker_that_dies_gives_its_chunk_as_died_and_the_others_finish() -> None:
    with Workers(_square_or_die, 2) as workers:
        got = dict(workers.map_unordered([[12, 13], [2], [3], [4]]))
    assert got[12] == Died(7) and got[13] == Died(7)  # the chunk it was running
    assert {k: v for k, v in got.items() if k not in (12, 13)} == {2: 4, 3: 9, 4: 16}


def test_an_exception_in_a_worker_is_raised_in_the_parent() -> None:
    with pytest.raises(ValueError, match="bad item 99"), Workers(_square_or_die, 2) as workers:
        dict(workers.map_unordered([[1], [99], [2]]))


def test_when_every_worker_died_the_chunks_left_get_no_result() -> None:
    with Workers(_square_or_die, 1) as workers:
        got = dict(workers.map_unordered([[13], [2]]))
    assert got == {13: Died(7)}


def test_leaving_early_kills_a_worker_deep_in_an_item_at_once() -> None:
    started = time.monotonic()
    with Workers(_square_or_die, 2) as workers:
        procs = list(workers.procs)
        for item, result in workers.map_unordered([[-1], [5]]):
            assert (item, result) == (5, 25)  # the other worker sleeps for a minute
            break
    assert time.monotonic() - started < 10
    assert not any(p.is_alive() for p in procs)

