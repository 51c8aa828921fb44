"""The narrative of a non-linearizable key names the real cause, checked against the history.

Every call the text names ("C = process 70's read → 0 (ops 488–491)") is
looked up in the raw history by its op numbers; every "X completed before Y
began" is checked against the positions of those ops; and the witness's
own claims (the blocker's value, how many calls could have made the failing
read legal and when each ran) are recounted from the raw ops, without the
code under test. On generated histories the witness is also checked by
brute force: from whatever the blocker leaves, no sequence of the calls
that may run between it and the failing call makes that call legal.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from checkers.linearizable.checker import LinearizableChecker
from checkers.linearizable.models import get_model
from harness.core.op import INF, History, Op
from harness.formats import load, read_text

LET = re.compile(
    r"([A-L]) = process (\S+)'s (.+?) \((?:ops (\d+)–(\d+)|op (\d+), never completed)\)"
)
BEFORE = re.compile(r"\b([A-L]) completed before ([A-L]) began")


@dataclass
class Named:
    """A call the narrative names, resolved in the raw history."""

    letter: str
    process: str
    description: str
    invoke_pos: int
    invoke: Op
    complete_pos: int | None
    complete: Op | None


def _positions(h: History) -> dict[int, int]:
    """op number as the narrative prints it (the ``index`` field, else the position) -> position."""
    out = {}
    for pos, o in enumerate(h.ops):
        out[o.index if isinstance(o.index, int) and o.index >= 0 else pos] = pos
    return out


def named_calls(text: str, h: History) -> dict[str, Named]:
    """Every "X = process P's ... (ops I–J)" of ``text``, each checked to be those ops."""
    at = _positions(h)
    out: dict[str, Named] = {}
    for m in LET.finditer(text):
        letter, process, desc = m.group(1), m.group(2), m.group(3)
        first = int(m.group(4) or m.group(6))
        inv_pos = at[first]
        inv = h.ops[inv_pos]
        assert inv.type == "invoke" and str(inv.process) == process, (m.group(0), inv)
        assert desc.split()[0] == inv.f, (m.group(0), inv)
        comp_pos = at[int(m.group(5))] if m.group(5) else None
        comp = h.ops[comp_pos] if comp_pos is not None else None
        if comp is not None:
            assert comp.type in ("ok", "info", "fail") and str(comp.process) == process
            assert inv_pos < comp_pos
        assert letter not in out or out[letter].invoke_pos == inv_pos, "a letter named twice"
        out[letter] = Named(letter, process, desc, inv_pos, inv, comp_pos, comp)
    return out


def check_precedence_claims(text: str, named: dict[str, Named]) -> int:
    """Every "X completed before Y began" holds in the full history; returns how many."""
    claims = BEFORE.findall(text)
    for x, y in claims:
        a, b = named[x], named[y]
        assert a.complete is not None and a.complete.type != "info", f"{x} never completed"
        assert a.complete_pos is not None and a.complete_pos < b.invoke_pos, (
            f"the text says {x} completed before {y} began: op {a.complete_pos} vs {b.invoke_pos}"
        )
    return len(claims)


@dataclass
class RawCall:
    invoke_pos: int
    invoke: Op
    complete_pos: int | None
    complete: Op | None


def raw_calls(h: History) -> list[RawCall]:
    """Invokes paired with their completions, straight from the ops (not ``History.calls``)."""
    pending: dict[Any, tuple[int, Op]] = {}
    out = []
    for pos, o in enumerate(h.ops):
        if o.f not in ("read", "write", "cas"):
            continue
        if o.type == "invoke":
            pending[o.process] = (pos, o)
        elif o.process in pending:
            ipos, inv = pending.pop(o.process)
            out.append(RawCall(ipos, inv, pos, o))
    out += [RawCall(ipos, inv, None, None) for ipos, inv in pending.values()]
    return out


def writers_of(calls: list[RawCall], value: Any) -> list[RawCall]:
    """Calls that may change the register to ``value``: writes of it and cas to it that did not fail."""
    out = []
    for c in calls:
        if c.complete is not None and c.complete.type == "fail":
            continue
        if c.invoke.f == "write" and c.invoke.value == value:
            out.append(c)
        elif c.invoke.f == "cas" and list(c.invoke.value)[1] == value != list(c.invoke.value)[0]:
            out.append(c)  # a cas v→v changes nothing
    return out


def completed_before(c: RawCall, pos: int) -> bool:
    return (
        c.complete is not None
        and c.complete.type in ("ok", "fail")
        and c.complete_pos is not None
        and c.complete_pos < pos
    )


def narrative_for(h: History, model: str, initial: Any = None) -> tuple[dict[str, Any], str]:
    m = get_model(model) if initial is None else get_model(model, initial)
    result = LinearizableChecker(m, shrink_budget=10.0).check(None, h, None)
    assert result.valid is False
    (anomaly,) = result.anomalies
    return anomaly.details, anomaly.details["narrative"]


# --------------------------------------------------------------------------
# The two oracle histories of the issue


@cache
def _oracle(path: str, model: str, initial: Any) -> tuple[History, dict[str, Any], str]:
    h = load(path)
    details, text = narrative_for(h, model, initial)
    return h, details, text


WITNESS = re.compile(
    r"([A-L]) completed before ([A-L]) began, so \1 takes effect before \2, leaving the state (\S+),"
    r" where \2 \(read → (\S+)\) is not legal\."
)
COUNTS = re.compile(
    r"Of the (\d+) calls that could make ([A-L]) legal, (\d+) completed before ([A-L]) began"
    r" \(the last to complete, ([A-L])\) and (\d+) began only after \2 returned, so none takes"
    r" effect between \4 and \2\."
)


@pytest.mark.parametrize(
    ("name", "model", "initial", "failing"),
    [
        # Knossos's own tests name the failing op: process 70's read of 0.
        ("knossos/cas-register/bad/cas-failure.edn", "cas-register", 0, ("70", 0)),
        ("porcupine/jepsen/etcd_000.log", "etcd-register", None, ("11", 2)),
    ],
)
def test_oracle_narrative_names_the_write_just_before_the_failing_read(
    oracle_dir: Path, name: str, model: str, initial: Any, failing: tuple[str, Any]
) -> None:
    h, details, text = _oracle(str(oracle_dir / name), model, initial)
    first = text.split("\n")[0]
    named = named_calls(text, h)
    m = WITNESS.search(first)
    assert m, f"no witness sentence in: {first}"
    x, f, left, read = named[m.group(1)], named[m.group(2)], m.group(3), m.group(4)

    # The failing call is the read the upstream checker blames.
    assert (f.process, f.complete and f.complete.value) == failing
    assert f.invoke.f == "read" and str(f.complete.value) == read  # type: ignore[union-attr]
    # The blocker is a write that really completed before the read began,
    # of the value the text says, which is not the value read.
    assert x.invoke.f == "write" and x.complete is not None and x.complete.type == "ok"
    assert x.complete_pos is not None and x.complete_pos < f.invoke_pos
    assert str(x.invoke.value) == left and x.invoke.value != f.complete.value  # type: ignore[union-attr]
    # It is the write "just before": no other write of another value
    # completed after it and before the read began.
    later = [
        c
        for c in raw_calls(h)
        if c.invoke.f == "write"
        and c.complete is not None
        and c.complete.type == "ok"
        and completed_before(c, f.invoke_pos)
        and c.complete_pos is not None
        and c.complete_pos > x.complete_pos
    ]
    assert later == [], f"a write completed after {m.group(1)} and before the read: {later}"

    # "Nothing wrote the value read after it", recounted from the raw ops.
    writers = writers_of(raw_calls(h), f.complete.value)  # type: ignore[union-attr]
    before = [c for c in writers if completed_before(c, x.invoke_pos)]
    late = [c for c in writers if c.invoke_pos > (f.complete_pos or 0)]
    assert len(before) + len(late) == len(writers), "a write of the value read could run between"
    counts = COUNTS.search(first)
    assert counts, f"no count sentence in: {first}"
    assert int(counts.group(1)) == len(writers)
    assert int(counts.group(3)) == len(before) and int(counts.group(6)) == len(late)
    last = named[counts.group(5)]
    assert last.complete_pos == max(c.complete_pos for c in before if c.complete_pos is not None)

    assert check_precedence_claims(text, named) >= 1
    # The witness as data says the same.
    w = details["witness"]
    assert (w["blocker"]["invoke"], w["failing"]["invoke"]) == (
        x.invoke.index,
        f.invoke.index,
    )


def test_oracle_shrunk_case_keeps_the_witness_and_fails_alone(oracle_dir: Path) -> None:
    from checkers.linearizable.search import search

    for name, model, initial in [
        ("knossos/cas-register/bad/cas-failure.edn", "cas-register", 0),
        ("porcupine/jepsen/etcd_000.log", "etcd-register", None),
    ]:
        h, details, text = _oracle(str(oracle_dir / name), model, initial)
        w = details["witness"]
        shrunk = {c["id"] for c in details["shrunk"]}
        assert {w["blocker"]["id"], w["failing"]["id"]} <= shrunk
        sub = read_text("\n".join(json.dumps(o) for o in details["shrunk_ops"]), "jsonl")
        m = get_model(model) if initial is None else get_model(model, initial)
        assert search(sub.calls(observed_failures=m.observed_failures), m).valid is False
        # The shrunk paragraph names only lettered calls of the first one, or defines new ones.
        assert "Shrunk:" in text and "Consider" not in text


# --------------------------------------------------------------------------
# Generated histories


def random_history(rng: random.Random, processes: int, ops: int) -> History:
    """Concurrent reads, writes and cas on a register (values 0-2), some crashing."""
    out: list[Op] = []
    pending: dict[int, tuple[str, Any]] = {}
    live, fresh, started = list(range(processes)), processes, 0
    while started < ops or pending:
        p = rng.choice(live)
        if p in pending:
            f, v = pending.pop(p)
            if rng.random() < 0.1:
                out.append(Op(len(out), 0, p, "info", f, v))
                live.remove(p)
                live.append(fresh)
                fresh += 1
            else:
                out.append(Op(len(out), 0, p, "ok", f, rng.randint(0, 2) if f == "read" else v))
        elif started < ops:
            f = rng.choice(["read", "write", "write", "cas"])
            v: Any = {
                "read": None,
                "write": rng.randint(0, 2),
                "cas": [rng.randint(0, 2), rng.randint(0, 2)],
            }[f]
            out.append(Op(len(out), 0, p, "invoke", f, v))
            pending[p] = (f, v)
            started += 1
    return History(out, source="generated.jsonl")


def no_sequence_makes_it_legal(calls: list[Any], model: Any, blocker: Any, failing: Any) -> bool:
    """Brute force: from any state ``blocker`` may leave, no sequence of distinct calls
    that may run between ``blocker`` and ``failing`` reaches a state where ``failing`` is legal."""
    between = [
        c
        for c in calls
        if c.id not in (blocker.id, failing.id)
        and not c.ret < blocker.call
        and not failing.ret < c.call
    ]
    starts = {r for s in (0, 1, 2) for ok, r in [model.step(s, blocker)] if ok}
    seen: set[tuple[Any, frozenset[int]]] = set()

    def legal_from(state: Any, used: frozenset[int]) -> bool:
        if (state, used) in seen:
            return False
        seen.add((state, used))
        if model.step(state, failing)[0]:
            return True
        for c in between:
            if c.id not in used:
                ok, nxt = model.step(state, c)
                if ok and legal_from(nxt, used | {c.id}):
                    return True
        return False

    return not any(legal_from(s, frozenset()) for s in starts)


def test_generated_narratives_never_contradict_the_history() -> None:
    rng = random.Random(12)
    model = get_model("cas-register", 0)
    witnessed = fallback = claims = 0
    for _ in range(400):
        h = random_history(rng, processes=3, ops=9)
        calls = h.calls()
        result = LinearizableChecker(model, shrink_budget=2.0).check(None, h, None)
        if result.valid is not False:
            continue
        (anomaly,) = result.anomalies
        details, text = anomaly.details, anomaly.details["narrative"]
        named = named_calls(text, h)
        claims += check_precedence_claims(text, named)
        f = details["failing"]
        assert named[next(k for k, v in named.items() if v.invoke_pos == f["call"])]
        w = details["witness"]
        if w is None:
            fallback += 1
            continue
        witnessed += 1
        by_id = {c.id: c for c in calls}
        blocker, failing = by_id[w["blocker"]["id"]], by_id[w["failing"]["id"]]
        assert blocker.ret < failing.call
        assert no_sequence_makes_it_legal(calls, model, blocker, failing), text
        # The text names the blocker and the failing call with their real ops.
        letters = {v.invoke_pos: k for k, v in named.items()}
        assert blocker.call in letters and failing.call in letters
        assert f"{letters[blocker.call]} completed before {letters[failing.call]} began" in text
    assert witnessed >= 20 and fallback >= 1, (witnessed, fallback)
    assert claims >= witnessed


def test_a_crashed_cas_that_needs_a_state_nothing_reaches_is_named_and_dismissed() -> None:
    # write 4 completes; a crashed cas 3→4 and write 1 overlap the read of 4,
    # but write 1 completes first: the cas could make 4 again only from 3,
    # which nothing that can run after write 1 writes.
    rows = [
        (0, "invoke", "write", 4),
        (0, "ok", "write", 4),
        (1, "invoke", "write", 3),
        (1, "ok", "write", 3),
        (2, "invoke", "cas", [3, 4]),
        (3, "invoke", "write", 1),
        (3, "ok", "write", 1),
        (4, "invoke", "read", None),
        (4, "ok", "read", 4),
    ]
    h = History([Op(i, i, p, t, f, v) for i, (p, t, f, v) in enumerate(rows)], source="t.jsonl")
    details, text = narrative_for(h, "cas-register", 0)
    named = named_calls(text, h)
    check_precedence_claims(text, named)
    w = details["witness"]
    assert w["blocker"]["description"] == "write 1" and w["left"] == "1"
    (stranded,) = w["stranded"]
    assert stranded["call"]["f"] == "cas" and stranded["needs"] == ["3"]
    cas = next(k for k, v in named.items() if v.invoke.f == "cas")
    assert f"{cas} makes" in text and "legal only from 3" in text
    calls = h.calls()
    by_id = {c.id: c for c in calls}
    assert by_id[stranded["call"]["id"]].ret == INF
    assert no_sequence_makes_it_legal(
        calls, get_model("cas-register", 0), by_id[w["blocker"]["id"]], by_id[w["failing"]["id"]]
    )
