"""Event log durability and the consumer's at-least-once contract."""

from __future__ import annotations

import pytest

from target.events import PLACED, Consumer, EventLog, StaleTerm, offset_record


class Crash(Exception):
    """Stands in for the process dying at the armed point."""


def placed(n):
    return {"type": PLACED, "order_id": f"order-{n}"}


def make_consumer(logs, committed, applied, *, commit_first=False, crash_on=None):
    def fetch(part, start):
        return logs[part].read(start)

    def between(event):
        if crash_on is not None and event["order_id"] == crash_on:
            raise Crash(event["order_id"])

    return Consumer(
        partitions=sorted(logs),
        fetch=fetch,
        load=lambda p: committed.get(p, 0),
        commit=committed.__setitem__,
        handle=lambda e: applied.append(e["order_id"]),
        commit_first=commit_first,
        between=between,
    )


def test_log_is_durable_and_offsets_are_positions(tmp_path):
    log = EventLog(tmp_path)
    assert [log.append(placed(i)) for i in range(3)] == [0, 1, 2]
    again = EventLog(tmp_path)
    events, end = again.read(1)
    assert end == 3 and [e["offset"] for e in events] == [1, 2]
    assert again.append(placed(3)) == 3


def test_read_limits_and_bounds(tmp_path):
    log = EventLog(tmp_path)
    for i in range(5):
        log.append(placed(i))
    assert [e["offset"] for e in log.read(-4, 2)[0]] == [0, 1]
    assert log.read(99) == ([], 5)


def test_consumer_handles_each_partition_in_order_and_reports_lag(tmp_path):
    logs = {"n1": EventLog(tmp_path / "n1"), "n2": EventLog(tmp_path / "n2")}
    for i in range(3):
        logs["n1"].append(placed(i))
    logs["n2"].append(placed(10))
    committed, applied = {}, []
    c = make_consumer(logs, committed, applied)
    assert c.poll() == 4
    assert applied == ["order-0", "order-1", "order-2", "order-10"]
    assert committed == {"n1": 3, "n2": 1} and c.lag() == 0
    logs["n2"].append(placed(11))
    c.ends["n2"] = logs["n2"].end
    assert c.lag() == 1
    assert c.poll() == 1 and c.lag() == 0


def test_crash_between_effect_and_commit_redelivers(tmp_path):
    logs = {"n1": EventLog(tmp_path)}
    logs["n1"].append(placed(1))
    committed, applied = {}, []
    with pytest.raises(Crash):
        make_consumer(logs, committed, applied, crash_on="order-1")._poll_partition("n1")
    assert applied == ["order-1"] and committed == {}
    # the next leader starts from the committed offset: the event comes again
    make_consumer(logs, committed, applied).poll()
    assert applied == ["order-1", "order-1"] and committed == {"n1": 1}


def test_commit_before_effect_bug_loses_the_event_on_crash(tmp_path):
    logs = {"n1": EventLog(tmp_path)}
    logs["n1"].append(placed(1))
    committed, applied = {}, []
    with pytest.raises(Crash):
        make_consumer(
            logs, committed, applied, commit_first=True, crash_on="order-1"
        )._poll_partition("n1")
    make_consumer(logs, committed, applied, commit_first=True).poll()
    assert applied == [] and committed == {"n1": 1}


def test_unreachable_partition_does_not_stall_others(tmp_path):
    logs = {"n1": EventLog(tmp_path / "a"), "n2": EventLog(tmp_path / "b")}
    logs["n2"].append(placed(2))
    committed, applied = {}, []
    c = make_consumer(logs, committed, applied)

    def fetch(part, start):
        if part == "n1":
            raise ConnectionRefusedError("n1 down")
        return logs[part].read(start)

    c.fetch = fetch
    assert c.poll() == 1 and applied == ["order-2"]


def test_reset_rereads_committed_offsets(tmp_path):
    logs = {"n1": EventLog(tmp_path)}
    logs["n1"].append(placed(1))
    committed, applied = {}, []
    c = make_consumer(logs, committed, applied)
    c.poll()
    committed["n1"] = 0  # e.g. another leader's view
    c.poll()
    assert applied == ["order-1"]
    c.reset()
    c.poll()
    assert applied == ["order-1", "order-1"]


def test_consumer_stops_mid_batch_once_it_no_longer_leads(tmp_path):
    logs = {"n1": EventLog(tmp_path)}
    for i in range(3):
        logs["n1"].append(placed(i))
    committed, applied = {}, []
    c = make_consumer(logs, committed, applied)
    leading = [True]
    c.leading = lambda: leading[0]

    def handle(event):
        applied.append(event["order_id"])
        leading[0] = False  # e.g. SIGSTOPped here, woken past its lease

    c.handle = handle
    assert c.poll() == 1
    assert applied == ["order-0"] and committed == {"n1": 1}


def test_a_stale_term_stops_the_whole_pass(tmp_path):
    logs = {"n1": EventLog(tmp_path / "a"), "n2": EventLog(tmp_path / "b")}
    logs["n1"].append(placed(1))
    logs["n2"].append(placed(2))
    committed, applied = {}, []
    c = make_consumer(logs, committed, applied)

    def commit(part, offset):
        raise StaleTerm(f"offsets:saga:{part} is held by term 2 > our 1")

    c.commit = commit
    assert c.poll() == 0
    assert applied == ["order-1"] and committed == {} and c.offsets == {}  # n2 never touched


def test_offset_records_carry_their_term_and_plain_offsets_still_read():
    assert offset_record(None) == (0, 0)
    assert offset_record(7) == (7, 0)  # committed before offsets carried a term
    assert offset_record({"offset": 7, "term": 3}) == (7, 3)
