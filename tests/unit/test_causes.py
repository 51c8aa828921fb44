"""Cause before consequence: a stale fenced write on an order explains that order's lost effect."""

from __future__ import annotations

import json

from harness.core.op import History, Op
from harness.core.verdict import Anomaly, CheckResult, link_causes

RULE = {"cause": "stale-fenced-write", "consequence": "lost-effect", "on": "order"}


def rows():
    return [
        {"kind": "lost-effect", "details": {"order": "o1"}},
        {"kind": "lost-effect", "details": {"order": "o2"}},
        {"kind": "stale-fenced-write", "details": {"order": "o1"}},
        {"kind": "lost-effect", "details": {"order": "o9"}},
    ]


def test_a_consequence_names_its_cause_and_an_unexplained_one_stays_as_it_is():
    found = rows()
    summary = link_causes(found, [RULE])
    assert [r.get("explained_by") for r in found] == [2, None, None, None]
    assert summary == {"causes": {"stale-fenced-write": {"on": "order", "entities": ["o1"]}}, "consequences": 1}
    assert link_causes(rows(), []) == {}


def test_the_report_lists_the_cause_first_with_its_consequence_under_it(tmp_path):
    from checkers.compose import compose
    from checkers.pipeline.fencing import FencingChecker
    from harness.assemble.stored import write_check

    class Found:
        def __init__(self, anomalies):
            self.anomalies = anomalies

        def check(self, test, history, artifacts):
            return CheckResult(False, self.anomalies)

    class Fencing(Found):
        explains = FencingChecker.explains

    ops = [Op(0, 0, 0, "invoke", "place", {"order_id": "o1"}), Op(1, 1000, 0, "ok", "place", {"order_id": "o1"})]
    effects = Found([Anomaly("effects", "lost-effect", "o1: charged but neither shipped nor refunded", [0, 1],
                             {"order": "o1"}, "lost-effect/charge"),
                     Anomaly("effects", "lost-effect", "o2: never shipped", [0], {"order": "o2"}, "lost-effect/ship")])
    fencing = Fencing([Anomaly("fencing", "stale-fenced-write", "ship:o1 landed with token 3 < 5", [1],
                               {"order": "o1"})])
    result = compose({"effects": effects, "fencing": fencing}).check(None, History(ops), None)
    (tmp_path / "history.jsonl").write_text("".join(json.dumps(o.to_json()) + "\n" for o in ops))
    (tmp_path / "test.json").write_text(json.dumps({"name": "t", "workload": "orders", "options": {}}))
    write_check(tmp_path, result, History(ops), stored_run=True)
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["causes"] == {"causes": {"stale-fenced-write": {"on": "order", "entities": ["o1"]}},
                              "consequences": 1}
    page = (tmp_path / "report.html").read_text()
    assert "1 cause (stale-fenced-write, 1 order) and 1 consequence" in page
    cause, unexplained = page.index("ship:o1 landed with token"), page.index("o2: never shipped")
    explained = page.index("o1: charged but neither shipped nor refunded")
    assert cause < explained < unexplained  # the cause first, its consequence under it, the rest after
