"""Keys checked in worker processes (calls sent as tuples) give the inline verdicts."""

from __future__ import annotations

from typing import Any

import pytest

from checkers.linearizable import partition
from checkers.linearizable.models import get_model
from harness.core.op import Call, History, Op


def keyed_history(keys: int, per_key: int, bad_key: int | None) -> History:
    """Sequential writes and reads per key, some writes crashed; ``bad_key`` reads a stale value."""
    ops: list[Op] = []
    process = 0
    for i in range(per_key):
        for k in range(keys):
            v = i * keys + k
            crashed = i % 7 == 3
            ops.append(Op(len(ops), 0, process, "invoke", "write", [k, v]))
            ops.append(Op(len(ops), 0, process, "info" if crashed else "ok", "write", [k, v]))
            if crashed:
                process += 1
                continue
            seen = v - keys if k == bad_key and i == per_key - 1 else v
            ops.append(Op(len(ops), 0, process, "invoke", "read", [k, None]))
            ops.append(Op(len(ops), 0, process, "ok", "read", [k, seen]))
    return History(ops)


@pytest.mark.parametrize("bad_key", [None, 5])
def test_pool_and_inline_agree(bad_key: Any) -> None:
    model = get_model("register")
    history = keyed_history(12, 400, bad_key)
    calls = history.calls(independent=True)
    assert len(calls) >= partition._INLINE_CALLS
    pooled = partition.check_calls(calls, model, by_key=True, jobs=2)
    inline = partition.check_calls(calls, model, by_key=True, jobs=1)
    assert pooled.valid is inline.valid is (bad_key is None)
    if bad_key is not None:
        failed = [k for k in pooled.keys if k.valid is False]
        assert [k.key for k in failed] == [bad_key]
        assert failed[0].result.stuck, "the worker's result names the stuck call"
    else:
        for a, b in zip(pooled.keys, inline.keys, strict=True):
            assert a.result.linearization == b.result.linearization


def test_the_pool_ends_its_workers_under_a_parent_that_handles_sigterm() -> None:
    """``seam test`` handles SIGTERM as "stop the run"; forked workers inherit that
    handler. Ending the pool early (a key found non-linearizable) sends them
    SIGTERM, and a worker that kept the handler never exited: the check hung."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(
        """
        import signal
        signal.signal(signal.SIGTERM, lambda *_: print("handled", flush=True))
        from checkers.linearizable import partition
        from checkers.linearizable.models import get_model
        from tests.unit.test_partition_pool import keyed_history
        calls = keyed_history(64, 80, 0).calls(independent=True)
        result = partition.check_calls(calls, get_model("register"), by_key=True, jobs=2)
        print("valid", result.valid, flush=True)
        """
    )
    try:
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"the check never returned: the pool's workers ignored SIGTERM ({e.stdout!r})") from e
    assert done.returncode == 0, done.stderr
    assert "valid False" in done.stdout
    assert "handled" not in done.stdout, "a worker ran the parent's SIGTERM handler"


def test_a_worker_that_dies_makes_its_keys_unknown_instead_of_hanging_the_check(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    real = partition._work_item
    key_field = list(Call.__dataclass_fields__).index("key")

    def dies_on_key_3(item: Any) -> Any:
        i, rows = item
        if rows[0][key_field] == 3:  # as the OOM killer would end the worker
            os._exit(9)
        return real(item)

    monkeypatch.setattr(partition, "_work_item", dies_on_key_3)
    calls = keyed_history(12, 400, None).calls(independent=True)
    result = partition.check_calls(calls, get_model("register"), by_key=True, jobs=2)
    assert result.valid == "unknown"
    (dead,) = [k for k in result.keys if k.valid != True]  # noqa: E712 - "unknown" is truthy
    assert dead.key == 3 and "died (exit code 9)" in dead.result.reason
