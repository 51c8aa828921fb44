"""Every anomaly says which faults were active over its ops, or that none was (issue 23)."""

from __future__ import annotations

import json

from harness.core.faults import attribute_all
from harness.core.op import History, Op
from harness.core.verdict import Anomaly, CheckResult

S = 1_000_000_000


def run_history() -> list[Op]:
    """A stale read at 0.2 s, a partition from 5 s to 10 s, another stale read at 7 s."""
    grudge = {"n1": ["n2", "n3"]}
    return [
        Op(0, int(0.1 * S), 0, "invoke", "read", ["k", None]),
        Op(1, int(0.2 * S), 0, "ok", "read", ["k", 3]),
        Op(2, 5 * S, "nemesis", "invoke", "start-partition", None, extra={"fault": "partition", "phase": "start"}),
        Op(3, int(5.01 * S), "nemesis", "info", "start-partition", grudge,
           extra={"fault": "partition", "phase": "start"}),
        Op(4, 7 * S, 1, "invoke", "read", ["k", None]),
        Op(5, int(7.1 * S), 1, "ok", "read", ["k", 4]),
        Op(6, 10 * S, "nemesis", "invoke", "stop-partition", None, extra={"fault": "partition", "phase": "stop"}),
        Op(7, int(10.01 * S), "nemesis", "info", "stop-partition", "healed",
           extra={"fault": "partition", "phase": "stop"}),
    ]


def anomalies() -> list[Anomaly]:
    return [Anomaly("quorum", "stale-read", "early", ops=[0, 1]),
            Anomaly("quorum", "stale-read", "in the partition", ops=[4, 5]),
            Anomaly("effects", "conservation", "no ops")]


def test_an_anomaly_outside_any_fault_and_one_inside_a_partition_say_which_is_which():
    found = anomalies()
    counts = attribute_all(found, run_history())
    early, inside, none = found
    assert early.faults == {"during": "no fault active", "active": [], "since_change": None}
    assert inside.faults["during"] == "partition"
    (active,) = inside.faults["active"]
    assert active == {"fault": "partition", "value": {"n1": ["n2", "n3"]}, "from": 5.0, "to": 10.01}
    assert inside.faults["since_change"] == 2.0
    assert none.faults is None
    assert counts == {"no fault active": 1, "partition": 1}


def test_an_anomaly_while_a_partition_is_going_up_is_not_one_with_no_fault():
    """The start op runs from 5 s to 5.01 s: the rules go in meanwhile."""
    found = [Anomaly("linearizable", "nonlinearizable", "x", ops=[2, 3])]
    ops = run_history()
    ops[2:4] = [Op(2, 5 * S, 1, "invoke", "read", ["k", None]), Op(3, int(5.005 * S), 1, "ok", "read", ["k", 1]),
                *ops[2:4]]
    ops = [Op(i, o.time, o.process, o.type, o.f, o.value, extra=o.extra) for i, o in enumerate(ops)]
    attribute_all(found, sorted(ops, key=lambda o: (o.time, o.index)))
    assert found[0].faults["during"] == "partition"


def test_results_json_and_the_report_carry_the_attribution(tmp_path):
    from harness.assemble.stored import write_check

    ops = run_history()
    (tmp_path / "history.jsonl").write_text("".join(json.dumps(o.to_json()) + "\n" for o in ops))
    (tmp_path / "test.json").write_text(json.dumps({"name": "t", "workload": "register", "options": {}}))
    found = anomalies()
    composed = {"quorum": CheckResult(False, found[:2]).to_json(), "effects": CheckResult(False, found[2:]).to_json()}
    result = CheckResult(valid=False, anomalies=found, stats=composed)
    write_check(tmp_path, result, History(ops), stored_run=True)
    data = json.loads((tmp_path / "results.json").read_text())
    assert [(a.get("faults") or {}).get("during") for a in data["anomalies"]] == ["no fault active", "partition", None]
    assert data["anomalies_during"] == {"no fault active": 1, "partition": 1}
    header = json.loads((tmp_path / "anomalies" / "2.jsonl").read_text().splitlines()[0])
    assert "partition" in json.dumps(header)  # the regression case keeps it
    page = (tmp_path / "report.html").read_text()
    assert "1 with no fault active, 1 during partition" in page
    assert "During: no fault active; no fault had begun yet" in page
    assert "During: partition (partition" in page and "the last fault began or ended 2.0 s before" in page


def test_a_node_record_after_the_call_returned_is_attributed_by_when_the_node_did_it():
    """A stale write the old leader made at 8 s for an order placed at 0.1 s: its client
    ops alone say no fault; its wall time, on the run's clock, says the partition."""
    from harness.core.faults import FaultTimeline

    epoch = 1_700_000_000.0
    late = Anomaly("fencing", "stale-fenced-write", "old token", ops=[0, 1], wall=[epoch + 8.0])
    unknown_clock = Anomaly("fencing", "stale-fenced-write", "old token", ops=[0, 1], wall=[epoch + 8.0])
    FaultTimeline(run_history(), epoch_wall=epoch).attribute_all([late])
    FaultTimeline(run_history()).attribute_all([unknown_clock])  # a run that did not record its epoch
    assert late.faults["during"] == "partition"
    assert unknown_clock.faults["during"] == "no fault active"
    row = late.to_json()
    assert row["wall"] == [epoch + 8.0]
    FaultTimeline(run_history(), epoch_wall=epoch).attribute_all([row])  # results.json rows too
    assert row["faults"]["during"] == "partition"
