"""`seam check` reads and checks a history with the cyclic garbage collector paused.

A history is millions of acyclic objects; with the collector on, each
collection started while they are alive walks them all again (on a 100k-op
history, 199 young and 18 middle-aged collections before this pause). These
tests watch the collector through ``gc.callbacks`` while the real command
runs in this process.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import cli


def write_history(path: Path, keys: int, rounds: int) -> Path:
    """A linearizable [key, value] register history: per key, write then read, in turn."""
    rows = []
    for r in range(rounds):
        for k in range(keys):
            p = k
            rows.append({"process": p, "type": "invoke", "f": "write", "value": [k, r]})
            rows.append({"process": p, "type": "ok", "f": "write", "value": [k, r]})
            rows.append({"process": p, "type": "invoke", "f": "read", "value": [k, None]})
            rows.append({"process": p, "type": "ok", "f": "read", "value": [k, r]})
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.fixture
def collections() -> Iterator[list[int]]:
    """The generation of every collection that finishes while the test runs."""
    seen: list[int] = []

    def watch(phase: str, info: dict[str, int]) -> None:
        if phase == "stop":
            seen.append(info["generation"])

    gc.callbacks.append(watch)
    try:
        yield seen
    finally:
        gc.callbacks.remove(watch)


def run(*args: str) -> object:
    return CliRunner().invoke(cli, ["check", *args])


def test_the_collector_never_runs_while_a_history_is_checked(
    tmp_path: Path, collections: list[int]
) -> None:
    path = write_history(tmp_path / "h.jsonl", keys=50, rounds=40)  # 8,000 ops
    warm = write_history(tmp_path / "warm.jsonl", keys=2, rounds=2)
    assert run("--model", "register", "--independent", str(warm)).exit_code == 0  # type: ignore[attr-defined]
    # The first run imported the checker: that collects, and is not the history. A full
    # collection now also zeroes the generation counters, so a generation-1 collection the
    # command's own few young ones could not cause (ten make one) cannot land in it either.
    gc.collect()
    collections.clear()
    assert gc.isenabled()
    r = run("--model", "register", "--independent", "-j", "1", str(path))
    assert r.exit_code == 0, r.output  # type: ignore[attr-defined]
    assert "linearizable (8000 ops" in r.output  # type: ignore[attr-defined]
    # At most a young collection or two around the command (option parsing,
    # the runner), none while the history is alive: it would walk every op.
    assert collections.count(0) <= 2 and max(collections, default=0) == 0, collections
    assert gc.isenabled()


def test_the_same_work_with_the_collector_on_does_collect(
    tmp_path: Path, collections: list[int]
) -> None:
    """The first test means something: reading and checking this history allocates
    enough for the collector to run many times when it is on."""
    from checkers.linearizable.models import get_model
    from checkers.linearizable.partition import check_history
    from harness.formats import load

    path = write_history(tmp_path / "h.jsonl", keys=50, rounds=40)
    result = check_history(load(path), get_model("register"), independent=True, jobs=1)
    assert result.valid is True
    assert collections.count(0) >= 10 and max(collections) >= 1, collections


def test_the_collector_is_on_again_after_bad_input_and_off_stays_off(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"process": 0, "type": "invoke", "f": "read", "value": NaN}\n')
    r = run(str(bad))
    assert r.exit_code == 3  # type: ignore[attr-defined]
    assert gc.isenabled()
    gc.disable()
    try:
        good = write_history(tmp_path / "h.jsonl", keys=2, rounds=2)
        assert run("--model", "register", "--independent", str(good)).exit_code == 0  # type: ignore[attr-defined]
        assert not gc.isenabled()
    finally:
        gc.enable()
