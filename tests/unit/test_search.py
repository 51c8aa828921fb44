"""The linearizability search and the per-key checker on small hand-made histories."""

from __future__ import annotations

import time
from typing import Any

import pytest

from checkers.linearizable.models import get_model
from checkers.linearizable.partition import check_history
from checkers.linearizable.search import search
from harness.core.errors import HistoryError
from harness.core.op import History, Op


def H(*rows: tuple[Any, str, str, Any]) -> History:
    """A history from (process, type, f, value) rows, in real-time order."""
    return History([Op(i, i, p, t, f, v) for i, (p, t, f, v) in enumerate(rows)])


def check(history: History, name: str = "cas-register", initial: Any = 0, **kw: Any):
    model = get_model(name, initial) if initial is not None else get_model(name)
    return search(history.calls(observed_failures=model.observed_failures), model, **kw)


def seq(p: Any, f: str, invoke_value: Any, ok_value: Any = None, typ: str = "ok"):
    """An op by process p that completes before the next one starts."""
    return [
        (p, "invoke", f, invoke_value),
        (p, typ, f, invoke_value if ok_value is None else ok_value),
    ]


def flat(*groups: list) -> list:
    return [row for g in groups for row in g]


# --------------------------------------------------------------------------- verdicts


def test_sequential_history_is_linearizable_in_order() -> None:
    h = H(
        *flat(
            seq(0, "write", 1),
            seq(0, "read", None, 1),
            seq(1, "cas", [1, 2]),
            seq(1, "read", None, 2),
        )
    )
    r = check(h)
    assert r.valid is True
    assert r.linearization == [0, 1, 2, 3]
    assert r.stuck == [] and r.explored >= 5


def test_stale_read_is_not_linearizable() -> None:
    h = H(*flat(seq(0, "write", 1), seq(1, "read", None, 0)))
    r = check(h)
    assert r.valid is False
    assert r.linearization == [0]
    assert r.stuck == [1]
    assert r.states == [1]


def test_concurrent_ops_may_take_effect_in_either_order() -> None:
    h = H(
        (0, "invoke", "write", 1),
        (1, "invoke", "write", 2),
        (0, "ok", "write", 1),
        (1, "ok", "write", 2),
        *seq(2, "read", None, 1),
    )
    r = check(h)
    assert r.valid is True
    assert r.linearization == [1, 0, 2]


def test_blame_goes_to_the_earliest_returning_candidate() -> None:
    # After write 1, both reads are candidates; read -> 5 returns first and can never be linearized.
    h = H(
        *seq(0, "write", 1),
        (1, "invoke", "read", None),
        (2, "invoke", "read", None),
        (1, "ok", "read", 5),
        (2, "ok", "read", 7),
    )
    r = check(h)
    assert r.valid is False
    assert r.stuck == [1, 2]
    assert r.states == [1]


def test_crashed_write_that_must_take_effect() -> None:
    h = H((0, "invoke", "write", 1), (0, "info", "write", 1), *seq(1, "read", None, 1))
    r = check(h)
    assert r.valid is True
    assert r.linearization == [0, 1]


def test_crashed_write_that_must_not_take_effect() -> None:
    h = H(
        (0, "invoke", "write", 1),
        (0, "info", "write", 1),
        *seq(1, "read", None, 0),
        *seq(1, "read", None, 0),
    )
    r = check(h)
    assert r.valid is True
    assert r.linearization == [1, 2]  # the crashed write is left out


def test_crashed_write_never_completed_counts_as_crashed() -> None:
    h = H((0, "invoke", "write", 1), *seq(1, "read", None, 0), *seq(1, "read", None, 1))
    assert check(h).valid is True


def test_crashed_write_takes_effect_at_most_once() -> None:
    h = H(
        (0, "invoke", "write", 1),
        (0, "info", "write", 1),
        *flat(seq(1, "read", None, 1), seq(1, "write", 0), seq(1, "read", None, 1)),
    )
    assert check(h).valid is False


def test_two_identical_crashed_writes_can_both_take_effect() -> None:
    h = H(
        (0, "invoke", "write", 1),
        (0, "info", "write", 1),
        (2, "invoke", "write", 1),
        (2, "info", "write", 1),
        *flat(seq(1, "read", None, 1), seq(1, "write", 0), seq(1, "read", None, 1)),
    )
    r = check(h)
    assert r.valid is True
    assert sorted(r.linearization) == [0, 1, 2, 3, 4]


def test_crashed_op_cannot_take_effect_before_its_invoke() -> None:
    h = H(*seq(1, "read", None, 1), (0, "invoke", "write", 1), (0, "info", "write", 1))
    assert check(h).valid is False


def test_crashed_cas_takes_effect_only_where_old_matches() -> None:
    crashed_cas = [(0, "invoke", "cas", [5, 1]), (0, "info", "cas", [5, 1])]
    assert check(H(*crashed_cas, *seq(1, "read", None, 1))).valid is False
    crashed_cas = [(0, "invoke", "cas", [0, 1]), (0, "info", "cas", [0, 1])]
    assert check(H(*crashed_cas, *seq(1, "read", None, 1))).valid is True


def test_failed_ops_did_not_happen_in_cas_register() -> None:
    h = H(
        *flat(
            seq(0, "write", 1, typ="fail"),
            seq(0, "cas", [0, 2], typ="fail"),
            seq(1, "read", None, 0),
        )
    )
    assert check(h).valid is True


def test_etcd_failed_cas_is_an_observation() -> None:
    # The register holds 1, so a cas [1 2] whose compare failed contradicts it.
    bad = H(*flat(seq(0, "write", 1), seq(0, "cas", [1, 2], typ="fail")))
    r = check(bad, "etcd-register", None)
    assert r.valid is False and r.stuck == [1] and r.states == [1]
    good = H(*flat(seq(0, "write", 1), seq(0, "cas", [3, 2], typ="fail"), seq(0, "read", None, 1)))
    assert check(good, "etcd-register", None).valid is True


def test_etcd_register_starts_empty() -> None:
    assert check(H(*seq(0, "read", None, None)), "etcd-register", None).valid is True
    assert check(H(*seq(0, "read", None, 0)), "etcd-register", None).valid is False


def test_etcd_crashed_cas_may_fail_its_compare() -> None:
    h = H(
        (0, "invoke", "cas", [7, 1]),
        (0, "info", "cas", [7, 1]),
        *seq(1, "write", 3),
        *seq(1, "read", None, 3),
    )
    assert check(h, "etcd-register", None).valid is True


def test_unknown_read_constrains_nothing() -> None:
    ops = [Op(0, 0, 0, "invoke", "read", None), Op(1, 0, 0, "ok", "read", None, unknown=True)]
    assert check(History(ops), "register", 5).valid is True


def test_mutex_double_acquire() -> None:
    h = H(*flat(seq(0, "acquire", None), seq(1, "acquire", None)))
    r = check(h, "mutex", None)
    assert r.valid is False and r.stuck == [1] and r.states == [True]


def test_no_calls_is_linearizable() -> None:
    h = H(("nemesis", "info", "start", None), ("nemesis", "info", "stop", None))
    r = check(h)
    assert r.valid is True and r.linearization == []


# --------------------------------------------------------------------------- budgets


def hard_history(n: int = 20) -> History:
    """n concurrent writes of 0..n-1, then read 0 and read 1 one after the other.

    No order works (both reads come after every write), and each read has a
    write that could explain it, so nothing refutes it early: the search
    must visit every subset of the writes (about n * 2**(n-1) configurations).
    """
    rows = [(p, "invoke", "write", p) for p in range(n)]
    rows += [(p, "ok", "write", p) for p in range(n)]
    rows += seq(n, "read", None, 0)
    rows += seq(n, "read", None, 1)
    return H(*rows)


def test_deadline_gives_unknown_with_the_reason() -> None:
    started = time.monotonic()
    r = check(hard_history(), deadline=time.monotonic() + 0.05)
    assert r.valid == "unknown"
    assert r.reason is not None and r.reason.startswith("timeout after")
    assert time.monotonic() - started < 2.0
    assert r.stuck == [] and r.explored > 0


def test_config_budget_gives_unknown_with_the_reason() -> None:
    r = check(hard_history(), max_configs=500)
    assert r.valid == "unknown"
    assert r.reason == "memory budget of 500 configurations exceeded"
    assert r.explored == 501


def test_small_hard_history_is_refuted_exhaustively() -> None:
    r = check(hard_history(8))
    assert r.valid is False
    assert r.linearization[-1] == 8  # read 0, after all the writes
    assert sorted(r.linearization[:8]) == list(range(8))
    assert r.stuck == [9]
    assert r.states == [0]
    assert r.explored > 2**8


def test_read_of_a_value_nobody_wrote_fails_fast() -> None:
    """Twenty concurrent writes, then a read of 99: refuting it by search alone
    takes millions of configurations; nothing can ever write 99."""
    rows = [(p, "invoke", "write", p) for p in range(20)]
    rows += [(p, "ok", "write", p) for p in range(20)]
    rows += seq(20, "read", None, 99)
    started = time.monotonic()
    r = check(H(*rows), deadline=time.monotonic() + 30)
    assert time.monotonic() - started < 5
    assert r.valid is False
    assert sorted(r.linearization) == list(range(20))
    assert r.stuck == [20]
    assert len(r.states) == 1 and r.states[0] in range(20)


def test_an_earlier_failure_is_reported_before_an_impossible_read(monkeypatch) -> None:
    import checkers.linearizable.search as search_module

    # Set the pruning up at the first dead end, so this small history takes the same path.
    monkeypatch.setattr(search_module, "_HOPELESS_AFTER", 1)
    monkeypatch.setattr(search_module, "_HOPELESS_PER_CALLS", 1 << 30)
    rows = [(p, "invoke", "write", p) for p in range(3)]
    rows += [(p, "ok", "write", p) for p in range(3)]
    rows += flat(seq(3, "read", None, 0), seq(3, "read", None, 1), seq(3, "read", None, 99))
    r = check(H(*rows))
    assert r.valid is False
    assert r.stuck == [4]  # the stale read 1, not the impossible read 99
    assert r.states == [0]
    r = check(H(*rows[:-4], *seq(3, "read", None, 99)))
    assert r.valid is False and r.stuck == [4] and r.linearization[:3] != []


# --------------------------------------------------------------------------- check_history


def kv_history(bad_key: str | None = None) -> History:
    rows: list = []
    for key in ("a", "b", "c"):
        rows += seq(0, "append", [key, "x"])
        rows += seq(1, "append", [key, "y"])
        rows += seq(2, "get", [key, None], [key, "yx" if key == bad_key else "xy"])
    return H(*rows)


def test_kv_is_checked_per_key() -> None:
    model = get_model("kv")
    res = check_history(kv_history(), model)
    assert res.valid is True
    assert [k.key for k in res.keys] == ["a", "b", "c"]
    assert all(len(k.calls) == 3 for k in res.keys)
    bad = check_history(kv_history("b"), model)
    assert bad.valid is False
    assert [k.valid for k in bad.keys if k.key == "b"] == [False]


def test_independent_lifts_a_model_over_keys() -> None:
    h = H(
        *flat(
            seq(0, "write", ["x", 1]),
            seq(0, "write", ["y", 2]),
            seq(1, "read", ["x", None], ["x", 1]),
            seq(1, "read", ["y", None], ["y", 1]),
        )
    )
    res = check_history(h, get_model("register"), independent=True)
    assert res.valid is False
    verdicts = {k.key: k.valid for k in res.keys}
    assert verdicts["y"] is False
    assert verdicts["x"] in (True, "unknown")  # finished, or stopped because y already failed
    # Without --independent the same values are whole-register values: [y 2] then read [x 1] fails.
    assert check_history(h, get_model("register")).valid is False


def test_independent_history_with_a_wrong_shape_names_the_line() -> None:
    h = H(*seq(0, "write", 5))
    with pytest.raises(HistoryError, match=r":1: --independent expects"):
        check_history(h, get_model("register"), independent=True)


def test_value_of_the_wrong_shape_names_the_line() -> None:
    h = H(*flat(seq(0, "write", 1), seq(0, "cas", 3)))
    with pytest.raises(HistoryError) as e:
        check_history(h, get_model("cas-register"))
    assert str(e.value) == "<history>:3: cas value must be [old, new], got 3"


def test_timeout_per_key_gives_unknown() -> None:
    res = check_history(hard_history(), get_model("cas-register", 0), timeout=0.05)
    assert res.valid == "unknown"
    assert res.keys[0].result.reason.startswith("timeout after")


def test_an_invalid_key_beats_an_unknown_one() -> None:
    rows = [(p, "invoke", "write", [0, p]) for p in range(20)]
    rows += [(p, "ok", "write", [0, p]) for p in range(20)]
    rows += seq(20, "read", [0, None], [0, 0])  # key 0: exponential to refute
    rows += seq(20, "read", [0, None], [0, 1])
    rows += flat(
        seq(21, "write", [1, 1]), seq(21, "read", [1, None], [1, 2])
    )  # key 1: plainly wrong
    res = check_history(H(*rows), get_model("register"), independent=True, timeout=10, fail_fast=True)
    assert res.valid is False
    verdicts = {k.key: k for k in res.keys}
    assert verdicts[1].valid is False
    assert verdicts[0].valid == "unknown"
    assert "not finished" in verdicts[0].result.reason
    assert res.seconds < 5


def many_keys_history(keys: int, ops_per_key: int, bad_key: int | None = None) -> History:
    rows: list = []
    for k in range(keys):
        for i in range(ops_per_key // 2):
            rows += seq(k % 3, "write", [k, i])
            rows += seq(3 + k % 3, "read", [k, None], [k, i + (1 if k == bad_key else 0)])
    return H(*rows)


@pytest.mark.parametrize("jobs", [1, 2])
def test_worker_processes_agree_with_inline(jobs: int) -> None:
    model = get_model("register")
    good = check_history(many_keys_history(40, 120), model, independent=True, jobs=jobs)
    assert good.valid is True
    assert len(good.keys) == 40 and all(k.valid is True for k in good.keys)
    assert all(len(k.result.linearization) == 120 for k in good.keys)
    bad = check_history(many_keys_history(40, 120, bad_key=17), model, independent=True, jobs=jobs)
    assert bad.valid is False
    assert {k.key for k in bad.keys if k.valid is False} == {17}


def test_states_are_every_state_at_the_deepest_point() -> None:
    h = H(
        (0, "invoke", "write", 1),
        (1, "invoke", "write", 2),
        (0, "ok", "write", 1),
        (1, "ok", "write", 2),
        *seq(2, "read", None, 3),
    )
    r = check(h)
    assert r.valid is False
    assert sorted(r.linearization) == [0, 1]
    assert r.stuck == [2]
    assert r.states == [1, 2]


def test_search_uses_the_ids_and_order_it_is_given() -> None:
    h = H(
        *flat(
            seq(0, "write", 1), seq(1, "read", None, 1), seq(0, "write", 2), seq(1, "read", None, 2)
        )
    )
    calls = h.calls()
    for c in calls:
        c.id += 100
    model = get_model("register")
    r = search(list(reversed(calls)), model)
    assert r.valid is True
    assert r.linearization == [100, 101, 102, 103]


def test_max_configs_reaches_every_key() -> None:
    res = check_history(hard_history(), get_model("cas-register", 0), max_configs=100)
    assert res.valid == "unknown"
    assert res.keys[0].result.reason == "memory budget of 100 configurations exceeded"


def test_bad_timeout_is_an_input_error() -> None:
    with pytest.raises(ValueError, match="timeout must be positive"):
        check_history(H(*seq(0, "write", 1)), get_model("register"), timeout=0)


def test_a_different_crashed_call_reaching_the_same_state_is_still_explored() -> None:
    """write 1 and cas 0→1 both crash and both lead from 0 to 1. Only the order
    cas first, write later explains read 1, write 2, read 1; the configuration
    reached by the cas must not count as already seen after the write's."""
    h = H(
        (0, "invoke", "write", 1),
        (0, "info", "write", 1),
        (1, "invoke", "cas", [0, 1]),
        (1, "info", "cas", [0, 1]),
        *flat(seq(2, "read", None, 1), seq(2, "write", 2), seq(2, "read", None, 1)),
    )
    r = check(h)
    assert r.valid is True
    assert r.linearization == [1, 2, 3, 0, 4]


def test_inline_keys_beyond_the_window_are_reached() -> None:
    """Key 0 is exponential; 38 easy keys and a wrong key 39 come after it."""
    rows = [(p, "invoke", "write", [0, p]) for p in range(20)]
    rows += [(p, "ok", "write", [0, p]) for p in range(20)]
    rows += flat(seq(20, "read", [0, None], [0, 0]), seq(20, "read", [0, None], [0, 1]))
    for k in range(1, 40):
        rows += flat(seq(21, "write", [k, k]), seq(21, "read", [k, None], [k, k + (k == 39)]))
    res = check_history(H(*rows), get_model("register"), independent=True, jobs=1, fail_fast=True)
    verdicts = {k.key: k.valid for k in res.keys}
    assert res.valid is False
    assert verdicts[39] is False
    assert verdicts[0] == "unknown"
    assert all(verdicts[k] is True for k in range(1, 39))
