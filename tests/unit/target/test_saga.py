"""The saga's pure parts: its state machine, step-log order and key derivation."""

from __future__ import annotations

import pytest

from target.saga import (
    CANCELLED,
    COMPLETED,
    DONE,
    FAILED,
    FORWARD,
    REJECTED,
    STARTED,
    STEPS,
    home,
    new_record,
    next_action,
    ordered_log,
    terminal,
)


def rec(steps=None, want="complete", state="running"):
    r = new_record(
        {"type": "order-placed", "order_id": "order-42", "sku": "s", "qty": 1, "amount": 5}
    )
    r.update(steps=dict(steps or {}), want=want, state=state)
    return r


def action(r):
    kind, what = next_action(r)
    return kind, getattr(what, "name", what)


def test_forward_steps_in_order_then_complete():
    r = rec()
    seen = []
    while (a := action(r))[0] == "run":
        seen.append(a[1])
        r["steps"][a[1]] = DONE
    assert seen == ["reserve", "charge", "ship"]
    assert a == ("finish", COMPLETED)
    r["state"] = COMPLETED
    assert terminal(r)


def test_started_step_is_resent_not_skipped():
    assert action(rec({"reserve": DONE, "charge": STARTED})) == ("run", "charge")


def test_cancel_undoes_started_and_done_steps_newest_first():
    r = rec({"reserve": DONE, "charge": DONE, "ship": STARTED}, want="cancel")
    seen = []
    while (a := action(r))[0] == "run":
        seen.append(a[1])
        r["steps"][a[1]] = DONE
    assert seen == ["cancel-ship", "refund", "restock"]
    assert a == ("finish", CANCELLED)


def test_refused_forward_step_compensates_what_came_before_and_fails():
    r = rec({"reserve": DONE, "charge": REJECTED})
    assert action(r) == ("run", "restock")
    r["steps"]["restock"] = DONE
    assert action(r) == ("finish", FAILED)


def test_refused_first_step_fails_without_compensation():
    assert action(rec({"reserve": REJECTED})) == ("finish", FAILED)


def test_cancel_before_anything_started_just_cancels():
    assert action(rec(want="cancel")) == ("finish", CANCELLED)


def test_cancel_after_completion_reopens_the_saga():
    done = {"reserve": DONE, "charge": DONE, "ship": DONE}
    assert terminal(rec(done, state=COMPLETED))
    assert action(rec(done, want="cancel", state=COMPLETED)) == ("run", "cancel-ship")


@pytest.mark.parametrize("state", [CANCELLED, FAILED])
def test_finished_sagas_do_nothing(state):
    assert next_action(rec(state=state, want="cancel")) is None


def test_keys_come_from_business_intent():
    assert [s.key("order-42") for s in FORWARD] == [
        "reserve:order-42",
        "charge:order-42",
        "ship:order-42",
    ]
    assert STEPS["refund"].key("order-42") == "refund:order-42"
    assert STEPS["refund"].path == "/payment/refund"


def test_ordered_log_sorts_by_stamp_not_by_append_order():
    r = rec()
    r["log"] = [
        {"seq": 0, "ts": [1000, 0, "n1"]},
        {"seq": 1, "ts": [1000, 1, "n1"]},
        {"seq": 2, "ts": [970, 0, "n2"]},  # a skewed wall clock stamp
    ]
    assert [e["seq"] for e in ordered_log(r)] == [2, 0, 1]


def test_home_is_stable_and_a_peer():
    nodes = ["n1", "n2", "n3"]
    homes = {home(f"order-{i}", nodes) for i in range(50)}
    assert homes == set(nodes)
    assert home("order-7", nodes) == home("order-7", list(reversed(nodes)))
