"""fencing.py rules on small hand-made inputs (quorum: test_quorum_reports.py; stale reads:
test_stale_read.py)."""

from __future__ import annotations

from checkers.pipeline.artifacts import Step
from checkers.pipeline.fencing import leader_terms, stale_writes, token_spans


def acc(key, token, **kw):
    return {"verdict": "accept", "key": key, "token": token, **kw}


def test_stale_write_is_lower_than_an_earlier_accept_not_equal_and_rejects_do_not_count():
    rows = [
        acc("a", 1),
        acc("b", 2),
        acc("c", 2),
        {"verdict": "reject", "key": "d", "token": 1},
        acc("e", 3),
        acc("f", 2),
    ]
    [(line, stale, newer)] = stale_writes(enumerate(rows, 1), fence_log=True)
    assert (line, stale["key"], newer["key"]) == (6, "f", "e")
    assert stale_writes(enumerate(rows[:5], 1), fence_log=True) == []


def test_ledger_rows_as_the_fallback_have_no_verdict():
    rows = [{"key": "a", "token": 2}, {"key": "b", "token": 1}]
    assert [s["key"] for _, s, _ in stale_writes(enumerate(rows, 1), fence_log=False)] == ["b"]
    assert stale_writes(enumerate(rows, 1), fence_log=True) == []


def test_token_spans_and_leader_terms():
    spans = token_spans(
        [acc("a", 1, wall=1.0), acc("b", 1, wall=2.0), acc("c", 2, wall=3.0)], fence_log=True
    )
    assert spans == [
        {"token": 1, "first_wall": 1.0, "last_wall": 2.0, "writes": 2},
        {"token": 2, "first_wall": 3.0, "last_wall": 3.0, "writes": 1},
    ]
    steps = [
        Step("o", 0, "saga", "created", None, wall, node, term, "f", 1)
        for term, node, wall in ((2, "n3", 9.0), (1, "n2", 1.0), (1, "n2", 4.0), (1, "n2", None))
    ]
    assert leader_terms(steps) == [
        {"term": 1, "node": "n2", "first_wall": 1.0, "last_wall": 4.0, "steps": 2},
        {"term": 2, "node": "n3", "first_wall": 9.0, "last_wall": 9.0, "steps": 1},
    ]
