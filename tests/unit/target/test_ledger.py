"""The ledger alone: fencing check, dedup table, durability and recovery."""

from __future__ import annotations

import json
import logging
import threading

import pytest

from target.ledger import Ledger


def make(tmp_path, **kw):
    return Ledger(tmp_path, "payment", **kw)


def test_first_call_applies_and_is_on_disk(tmp_path):
    led = make(tmp_path)
    out = led.apply("charge:order-1", 3, "charge", {"order_id": "order-1", "amount": 50})
    assert out.status == "applied"
    rows = [json.loads(x) for x in (tmp_path / "payment.ledger.jsonl").read_text().splitlines()]
    assert rows == [out.row]
    assert rows[0]["key"] == "charge:order-1" and rows[0]["token"] == 3 and rows[0]["amount"] == 50


def test_repeated_key_replays_first_result_and_counts(tmp_path):
    hits = []
    led = make(tmp_path, on_duplicate=hits.append)
    first = led.apply("refund:order-42", 5, "refund", {"amount": 50})
    again = led.apply("refund:order-42", 5, "refund", {"amount": 999})
    assert again.status == "replay"
    assert again.row == first.row
    assert again.body()["replay"] is True and first.body()["replay"] is False
    assert len(led.rows()) == 1
    assert hits == ["refund:order-42"]


def test_lower_token_rejected_before_write_with_log_line(tmp_path, caplog):
    led = make(tmp_path)
    led.apply("charge:order-9", 12, "charge", {})
    with caplog.at_level(logging.WARNING):
        out = led.apply("refund:order-42", 7, "refund", {})
    assert out.rejected and out.highest == 12
    assert "rejected token 7 < 12 for refund:order-42" in caplog.text
    assert [r["key"] for r in led.rows()] == ["charge:order-9"]
    assert led.lookup("refund:order-42") is None
    fence = led.fence_rows()
    assert [(f["verdict"], f["token"], f["highest"]) for f in fence] == [
        ("accept", 12, 0),
        ("reject", 7, 12),
    ]
    assert out.body()["field"] == "token"


def test_equal_and_higher_tokens_pass(tmp_path):
    led = make(tmp_path)
    led.apply("a", 4, "charge", {})
    assert led.apply("b", 4, "charge", {}).status == "applied"
    assert led.apply("c", 9, "charge", {}).status == "applied"
    assert led.highest_token == 9


def test_stale_token_cannot_replay_either(tmp_path):
    """A stale leader repeating a key learns nothing and changes nothing."""
    led = make(tmp_path)
    led.apply("ship:order-1", 3, "ship", {})
    led.apply("cancel-ship:order-1", 8, "cancel", {})
    assert led.apply("ship:order-1", 3, "ship", {}).rejected


def test_fence_after_write_bug_lets_the_stale_write_land(tmp_path, caplog):
    led = make(tmp_path, fence_after_write=True)
    led.apply("cancel-ship:order-1", 12, "cancel", {})
    out = led.apply("ship:order-1", 7, "ship", {})
    assert out.status == "applied"
    assert [r["key"] for r in led.rows()] == ["cancel-ship:order-1", "ship:order-1"]
    late = led.fence_rows()[-1]
    assert late["verdict"] == "accept" and late["late"] is True and late["token"] < late["highest"]


def test_table_and_highest_token_rebuilt_after_restart(tmp_path):
    led = make(tmp_path)
    led.apply("charge:order-1", 6, "charge", {"amount": 10})
    led.apply("refund:order-1", 6, "refund", {"amount": 10})
    again = make(tmp_path)
    assert again.highest_token == 6
    assert again.apply("charge:order-1", 6, "charge", {"amount": 10}).status == "replay"
    assert again.apply("x", 5, "charge", {}).rejected
    assert len(again.rows()) == 2


def test_torn_last_line_is_cut_and_appends_continue(tmp_path):
    led = make(tmp_path)
    led.apply("a", 1, "charge", {})
    with open(tmp_path / "payment.ledger.jsonl", "ab") as fh:
        fh.write(b'{"key": "b", "tok')
    again = make(tmp_path)
    assert [r["key"] for r in again.rows()] == ["a"]
    again.apply("c", 1, "charge", {})
    assert [r["key"] for r in make(tmp_path).rows()] == ["a", "c"]


def test_corrupt_middle_line_names_file_and_line(tmp_path):
    (tmp_path / "payment.ledger.jsonl").write_text('{"key":"a","token":1,"seq":0}\nnot json\n')
    with pytest.raises(ValueError, match=r"payment\.ledger\.jsonl:2"):
        make(tmp_path)


def test_concurrent_same_key_applies_once(tmp_path):
    led = make(tmp_path)
    outs = []

    def go():
        outs.append(led.apply("charge:order-7", 1, "charge", {}).status)

    threads = [threading.Thread(target=go) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outs) == ["applied"] + ["replay"] * 15
    assert len(make(tmp_path).rows()) == 1
