"""Explanations of non-linearizable histories: the right blame, the right states,
a shrunk sub-history that still fails and is 1-minimal, and its renderings."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from checkers.linearizable.explain import (
    Explanation,
    explain,
    precedence_graph,
    sub_history_ops,
    write_explanation_jsonl,
)
from checkers.linearizable.models import get_model
from checkers.linearizable.narrate import narrate
from checkers.linearizable.search import search
from checkers.linearizable.shrink import ddmin, stretched
from harness.core.op import History, Op

Row = tuple[Any, str, str, Any]


def history(rows: list[Row], source: str = "test.jsonl") -> History:
    return History(
        [Op(i, i * 10, p, t, f, v) for i, (p, t, f, v) in enumerate(rows)], source=source
    )


def explained(
    rows: list[Row], model_name: str, initial: Any = None, **kw: Any
) -> tuple[History, Any, Explanation]:
    h = history(rows)
    model = get_model(model_name, initial)
    calls = h.calls(observed_failures=model.observed_failures)
    result = search(calls, model)
    assert result.valid is False, "the test history must not be linearizable"
    return h, model, explain(h, None, calls, result, model, **kw)


def is_linearizable(h: History, model: Any) -> Any:
    return search(h.calls(observed_failures=model.observed_failures), model).valid


# A stale read: write 1 completes, then a read still sees the initial nil.
STALE = [
    (0, "invoke", "write", 1),
    (0, "ok", "write", 1),
    (1, "invoke", "read", None),
    (1, "ok", "read", None),
]


def test_stale_read_blames_the_read_and_names_the_state() -> None:
    h, model, e = explained(STALE, "register")
    assert e.failing is not None
    assert (e.failing.process, e.failing.f, e.failing.invoke, e.failing.complete) == (
        1,
        "read",
        2,
        3,
    )
    assert [c.f for c in e.prefix] == ["write"]
    assert e.states == ["1"] and e.states_total == 1
    assert [c.invoke for c in e.must_precede] == [0]
    assert e.edges == [(0, 1)]
    assert {c.invoke for c in e.shrunk} == {0, 2}
    assert e.shrunk_minimal


def test_narrative_walks_through_the_contradiction() -> None:
    _, model, e = explained(STALE, "register")
    text = narrate(e, model)
    assert "process 0's write 1 (ops 0–1)" in text
    assert "process 1's read → nil (ops 2–3)" in text
    assert "A completed before B began" in text
    assert "the only possible state is 1" in text
    assert text.rstrip().endswith("a contradiction.")
    # The same text comes back from the stored JSON alone.
    assert narrate(json.loads(json.dumps(e.to_json()))) == text


def test_cas_register_failed_compare_after_write() -> None:
    rows = [
        (0, "invoke", "write", 1),
        (0, "ok", "write", 1),
        (1, "invoke", "read", None),
        (1, "ok", "read", 1),
        (2, "invoke", "cas", [0, 2]),
        (2, "ok", "cas", [0, 2]),
    ]
    h, model, e = explained(rows, "cas-register", 0)
    assert e.failing is not None and e.failing.f == "cas" and e.failing.invoke == 4
    assert e.states == ["1"]
    # The read is not needed to refute the cas: ddmin drops it.
    assert [(c.f, c.invoke) for c in e.shrunk] == [("write", 0), ("cas", 4)]
    assert "cas 0→2" in narrate(e, model)


def test_crashed_write_widens_the_possible_states() -> None:
    # p1's write 3 crashes (info): it may take effect at any time after its
    # invoke, or never. After write 1 completes the register holds 1 or 3,
    # so a later read of the initial 0 is impossible. (The last read of 3
    # sees the crashed write, so the search cannot leave it out.)
    rows = [
        (1, "invoke", "write", 3),
        (0, "invoke", "write", 1),
        (0, "ok", "write", 1),
        (1, "info", "write", 3),
        (2, "invoke", "read", None),
        (2, "ok", "read", 0),
        (3, "invoke", "read", None),
        (3, "ok", "read", 3),
    ]
    h, model, e = explained(rows, "cas-register", 0)
    assert e.failing is not None and e.failing.invoke == 4
    assert sorted(e.states) == ["1", "3"] and e.states_total == 2
    assert "the possible states are 1 and 3" in narrate(e, model)
    # Leaving a crashed call out only removes options, so no minimal
    # failing sub-history needs it.
    assert [c.invoke for c in e.shrunk] == [1, 4]
    window = {c.invoke: c for c in e.window}
    assert window[0].crashed and window[0].ret is None and window[0].complete == 3


def test_crashed_cas_that_never_happened_cannot_explain_a_read() -> None:
    rows = [
        (1, "invoke", "cas", [5, 6]),
        (2, "invoke", "read", None),
        (2, "ok", "read", 6),
    ]
    h, model, e = explained(rows, "cas-register", 0)
    assert e.failing is not None and e.failing.f == "read"
    assert e.states == ["0"]
    assert [c.invoke for c in e.shrunk] == [1]


def test_sub_history_keeps_crash_semantics_and_round_trips(tmp_path: Any) -> None:
    from harness.formats import load

    rows = [
        (1, "invoke", "write", 3),
        (0, "invoke", "write", 1),
        (0, "ok", "write", 1),
        (1, "info", "write", 3),
        (3, "invoke", "write", 7),  # never completes: crashed too
        (2, "invoke", "read", None),
        (2, "ok", "read", 0),
    ]
    h = history(rows)
    model = get_model("cas-register", 0)
    calls = h.calls()
    ops = sub_history_ops(h, [calls[0], calls[2], calls[3]])
    assert [(o.index, o.type) for o in ops] == [
        (0, "invoke"),
        (3, "info"),
        (4, "invoke"),
        (5, "invoke"),
        (6, "ok"),
    ]

    e = explain(h, None, calls, search(calls, model), model)
    path = tmp_path / "shrunk.jsonl"
    write_explanation_jsonl(e, path)
    back = load(str(path), "jsonl")
    assert [o.to_json() for o in back] == [o.to_json() for o in e.shrunk_ops]
    assert is_linearizable(back, model) is False


def test_shrunk_history_is_one_minimal_on_random_histories() -> None:
    """On generated register histories every shrunk sub-history still fails,
    and removing any one of its calls breaks the shrinker's test: plain
    "not linearizable", or, for a real-time contradiction, "not
    linearizable, but linearizable once the blamed call may move in time"."""
    rng = random.Random(7)
    model = get_model("cas-register", 0)
    checked = real_time = impossible = 0
    for _ in range(300):
        h = random_history(rng, processes=3, ops=8)
        calls = h.calls()
        result = search(calls, model)
        if result.valid is not False:
            continue
        e = explain(h, None, calls, result, model)
        assert e.shrunk_minimal and e.failing is not None
        kept = [c for c in calls if c.id in {v.id for v in e.shrunk}]
        blamed = next(c for c in calls if c.id == e.failing.id)

        def still_fails(
            sub: list[Any], blamed: Any = blamed, rt: bool = e.shrunk_real_time
        ) -> bool:
            if search(sub, model).valid is not False:
                return False
            if not rt:
                return True
            return (
                any(c is blamed for c in sub)
                and search(stretched(sub, blamed), model).valid is True
            )

        assert still_fails(kept)
        assert is_linearizable(History(e.shrunk_ops, source="shrunk"), model) is False
        for drop in kept:
            assert not still_fails([c for c in kept if c is not drop]), (
                f"{drop} could have been removed"
            )
        if e.failing_impossible:  # the narrative's "not a matter of timing" claim holds
            cut = [c for c in calls if c.call < blamed.ret]
            assert search([c for c in cut if c is not blamed], model).valid is True
            assert search(stretched(cut, blamed), model).valid is False
            impossible += 1
        checked += 1
        real_time += e.shrunk_real_time
    assert checked >= 20, "the generator should produce non-linearizable histories"
    assert 0 < real_time < checked, "both kinds of failure should occur"
    assert impossible > 0


def random_history(rng: random.Random, *, processes: int, ops: int) -> History:
    """Random concurrent reads, writes and cas on a register (values 0-2), some crashing."""
    out: list[Op] = []
    pending: dict[int, tuple[str, Any]] = {}
    next_process = processes
    live = list(range(processes))
    started = 0
    while started < ops or pending:
        p = rng.choice(live)
        if p in pending:
            f, v = pending.pop(p)
            kind = rng.random()
            if kind < 0.1:
                out.append(Op(len(out), 0, p, "info", f, v))
                live.remove(p)
                live.append(next_process)
                next_process += 1
            else:
                value = rng.randint(0, 2) if f == "read" else v
                out.append(Op(len(out), 0, p, "ok", f, value))
        elif started < ops:
            f = rng.choice(["read", "write", "cas"])
            v = (
                None
                if f == "read"
                else rng.randint(0, 2)
                if f == "write"
                else [rng.randint(0, 2), rng.randint(0, 2)]
            )
            out.append(Op(len(out), 0, p, "invoke", f, v))
            pending[p] = (f, v)
            started += 1
    return History(out)


def test_a_value_nothing_wrote_shrinks_to_the_lone_read() -> None:
    # No order of these calls makes the read of 9 legal, so the real-time
    # story does not apply: the honest minimal failure is the read alone.
    rows = [
        (0, "invoke", "write", 1),
        (0, "ok", "write", 1),
        (1, "invoke", "read", None),
        (1, "ok", "read", 9),
    ]
    _, model, e = explained(rows, "cas-register", 0)
    assert [c.invoke for c in e.shrunk] == [2] and not e.shrunk_real_time
    assert e.failing_impossible
    text = narrate(e, model)
    assert "at another time" not in text
    assert "Nor is it a matter of timing" in text


def test_stale_read_keeps_the_write_that_makes_it_stale() -> None:
    # Reading 1 alone would fail too (the register starts at 0), but some
    # order of all the calls is legal, so the shrinker keeps the real-time
    # contradiction: write 1, write 4, then a read of 1.
    rows = [
        (0, "invoke", "write", 1),
        (0, "ok", "write", 1),
        (1, "invoke", "write", 4),
        (1, "ok", "write", 4),
        (2, "invoke", "read", None),
        (2, "ok", "read", 1),
        (0, "invoke", "read", None),
        (0, "ok", "read", 4),
    ]
    _, model, e = explained(rows, "cas-register", 0)
    assert e.shrunk_real_time and e.shrunk_minimal
    assert [(c.f, c.invoke) for c in e.shrunk] == [("write", 0), ("write", 2), ("read", 4)]
    text = narrate(e, model)
    # The witness: B = write 4 completed before C = read 1 began, and the one
    # write of 1 (A) completed before B began.
    assert "A = process 0's write 1 (ops 0–1), B = process 1's write 4 (ops 2–3)" in text
    assert "B completed before C began, so B takes effect before C, leaving the state 4" in text
    assert "The one call that could make C legal, A, completed before B began" in text
    assert "Shrunk: A, B and C alone (3 of 4 calls) have no linearization" in text


def test_ddmin_finds_a_one_minimal_subset() -> None:
    calls: list[list[int]] = []

    def fails(items: list[int]) -> bool:
        calls.append(items)
        return {3, 7} <= set(items)

    assert ddmin(list(range(10)), fails) == [3, 7]
    assert ddmin([5], lambda s: 5 in s) == [5]


def test_precedence_graph_edges_follow_real_time() -> None:
    h = history(
        [
            (0, "invoke", "write", 1),
            (1, "invoke", "write", 2),
            (0, "ok", "write", 1),
            (2, "invoke", "read", None),
            (1, "ok", "write", 2),
            (2, "ok", "read", 2),
        ]
    )
    g = precedence_graph(h.calls())
    assert sorted(g.edges()) == [(0, 2)]


def test_zero_budget_skips_shrinking_but_still_explains() -> None:
    _, model, e = explained(STALE, "register", shrink_budget=0)
    assert e.shrunk == [] and e.shrunk_ops == [] and not e.shrunk_minimal
    assert e.failing is not None and e.states == ["1"]
    assert "Shrunk" not in narrate(e, model)


def test_to_json_is_plain_json() -> None:
    _, _, e = explained(STALE, "register")
    data = json.loads(json.dumps(e.to_json()))
    assert data["failing"]["description"] == "read → nil"
    assert data["shrunk_ops"][0]["type"] == "invoke"
    assert data["edges"] == [[0, 1]]


def test_html_and_png_show_the_failure(tmp_path: Any) -> None:
    pytest.importorskip("matplotlib")
    from checkers.report.linear import render_all

    _, model, e = explained(STALE, "register")
    details = e.to_json() | {"narrative": narrate(e, model)}
    files = render_all([details, details], tmp_path)
    names = sorted(f.name for f in files)
    assert names == ["linear-1.png", "linear-2.png", "linear.html"]
    html = (tmp_path / "linear.html").read_text()
    assert "read → nil" in html and "a contradiction" in html
    assert html.count('class="bar failing') == 2
    png = (tmp_path / "linear-1.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000


# --------------------------------------------------------------------------
# The Checker wrapper


def test_checker_reports_one_anomaly_per_failing_key_with_its_explanation() -> None:
    from checkers.linearizable.checker import LinearizableChecker
    from harness.core.protocols import Checker

    def keyed(key: str, rows: list[Row]) -> list[Row]:
        return [(f"{key}-{p}", t, f, [key, v]) for p, t, f, v in rows]

    ok = [
        (0, "invoke", "write", 1),
        (0, "ok", "write", 1),
        (1, "invoke", "read", None),
        (1, "ok", "read", 1),
    ]
    rows = keyed("a", ok) + keyed("b", STALE)
    h = History(
        [Op(i, 0, 100 + i // 2, t, f, v) for i, (_, t, f, v) in enumerate(rows)],
        source="keys.jsonl",
    )
    checker = LinearizableChecker("register", independent=True)
    assert isinstance(checker, Checker)
    result = checker.check(None, h, None)
    assert result.valid is False
    (anomaly,) = result.anomalies
    assert anomaly.checker == "linearizable" and anomaly.kind == "nonlinearizable"
    assert anomaly.fingerprint == "nonlinearizable/register"
    assert anomaly.details["key"] == "b"
    assert anomaly.details["failing"]["description"] == "read → nil"
    assert "On key 'b'" in anomaly.details["narrative"]
    assert anomaly.ops == [4, 5, 6, 7]  # the shrunk sub-history: write 1, then the stale read
    stats = result.stats
    assert stats["model"] == "register" and stats["keys"] == 2 and stats["keys_invalid"] == 1
    assert stats["per_key"]["b"]["valid"] is False and stats["per_key"]["b"]["calls"] == 2
    assert stats["explored"] >= 1 and stats["seconds"] >= 0
    json.dumps(result.to_json())


def test_checker_beyond_the_explain_limit_skips_shrinking() -> None:
    from checkers.linearizable.checker import LinearizableChecker

    rows: list[Row] = []
    for k in "abc":
        rows += [(p, t, f, [k, v]) for p, t, f, v in STALE]
    h = History([Op(i, 0, p, t, f, v) for i, (p, t, f, v) in enumerate(rows)])
    checker = LinearizableChecker("register", independent=True, explain_limit=1)
    result = checker.check(None, h, None)
    assert result.valid is False
    shrunk = [len(a.details["shrunk"]) for a in result.anomalies]
    assert shrunk[0] == 2 and all(n == 0 for n in shrunk[1:])
    assert all(a.details["failing"] is not None for a in result.anomalies)


def test_checker_rejects_a_value_of_the_wrong_shape_naming_the_line() -> None:
    from checkers.linearizable.checker import LinearizableChecker
    from harness.core.errors import HistoryError, InputError

    h = History(
        [Op(0, 0, 0, "invoke", "cas", 5), Op(1, 0, 0, "ok", "cas", 5)],
        source="shape.jsonl",
        lines=[7, 8],
    )
    with pytest.raises(HistoryError) as info:
        LinearizableChecker("cas-register").check(None, h, None)
    assert isinstance(info.value, InputError)
    assert str(info.value).startswith("shape.jsonl:7: cas value must be [old, new]")


def test_checker_timeout_is_unknown_with_the_reason() -> None:
    from checkers.linearizable.checker import LinearizableChecker

    n = 24  # concurrent writes, then read 0 and read 1: no early refutation applies
    rows: list[Row] = [(p, "invoke", "write", p % 3) for p in range(n)]
    rows += [(p, "ok", "write", p % 3) for p in range(n)]
    rows += [
        (99, "invoke", "read", None),
        (99, "ok", "read", 0),
        (98, "invoke", "read", None),
        (98, "ok", "read", 1),
    ]
    result = LinearizableChecker("cas-register", timeout=0.2).check(None, history(rows), None)
    assert result.valid == "unknown" and result.anomalies == []
    assert result.stats["keys_unknown"] == 1
    assert result.stats["unknown"][0]["reason"].startswith("timeout")


def test_a_shrunk_case_of_one_call_reads_in_the_singular() -> None:
    rows = [
        (0, "invoke", "write", 1),
        (0, "ok", "write", 1),
        (1, "invoke", "read", None),
        (1, "ok", "read", 7),
    ]
    _, model, e = explained(rows, "cas-register", 0)
    text = narrate(e, model)
    assert "Shrunk: B alone (1 of 2 calls) has no linearization either" in text
