"""Acceptor rules (promises, leases, durability) and the candidate loop over a fake network."""

import json

import pytest

from target.config import from_dict
from target.election import SAFETY, Acceptor, Election
from target.node import build_context


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def fresh(tmp_path, clock, lease=1.0):
    a = Acceptor(tmp_path / "election.json", lease, clock)
    clock.t += lease  # past the start-up quiet period
    return a


def test_restarted_acceptor_is_quiet_for_one_lease(tmp_path):
    clock = Clock()
    a = Acceptor(tmp_path / "election.json", 1.0, clock)
    assert a.prepare("n1", 1) == {"ok": False, "promised": 0, "reason": "recovering"}
    assert not a.lease("n1", 1)["ok"]
    clock.t += 1.0
    assert a.prepare("n1", 1)["ok"]


def test_promises_only_increase_and_are_durable(tmp_path):
    clock = Clock()
    a = fresh(tmp_path, clock)
    assert a.prepare("n1", 5)["ok"]
    assert a.prepare("n2", 5) == {"ok": False, "promised": 5, "reason": "term too low"}
    assert not a.prepare("n2", 4)["ok"]
    assert json.loads((tmp_path / "election.json").read_text()) == {"promised": 5}
    b = Acceptor(tmp_path / "election.json", 1.0, clock)  # restart
    assert b.promised == 5
    clock.t += 1.0
    assert not b.prepare("n3", 5)["ok"] and b.prepare("n3", 6)["ok"]


def test_a_live_lease_blocks_other_candidates_until_it_expires(tmp_path):
    clock = Clock()
    a = fresh(tmp_path, clock)
    assert a.prepare("n1", 1)["ok"] and a.lease("n1", 1)["ok"]
    assert a.view() == ("n1", 1, 1)
    assert a.prepare("n2", 2)["reason"] == "lease held by n1"
    assert not a.lease("n2", 2)["ok"]
    clock.t += 0.9
    assert a.lease("n1", 1)["ok"]  # renewal extends it
    clock.t += 0.9
    assert not a.prepare("n2", 2)["ok"]
    clock.t += 0.2
    assert a.view()[0] is None
    assert a.prepare("n2", 2)["ok"]
    assert a.lease("n1", 1) == {"ok": False, "promised": 2, "reason": "term too low"}  # old leader fenced
    assert a.changes == 1
    assert a.lease("n2", 2)["ok"] and a.changes == 2


def test_corrupt_state_file_stops_the_node_with_a_fix(tmp_path):
    (tmp_path / "election.json").write_text("{")
    with pytest.raises(SystemExit, match="do not delete it"):
        Acceptor(tmp_path / "election.json", 1.0)


def make_election(tmp_path, name, clock):
    peers = {n: f"http://127.0.0.1:{7200 + i}" for i, n in enumerate(["n1", "n2", "n3"])}
    cfg = from_dict({"node": name, "port": 7200, "peers": peers, "data_dir": str(tmp_path / name),
                     "lease_seconds": 1.0, "request_timeout": 0.2})
    return Election(build_context(cfg), clock=clock)


def wire(elections, clock, down=()):
    """Route each election's remote votes straight to the other acceptors (no sockets)."""
    import target.election as mod

    def fake_http_call(url, method, path, body, *, timeout):
        target = next(e for e in elections.values() if e.ctx.config.peers[e.node] == url)
        if target.node in down:
            from target.pool import CallTimeout
            raise CallTimeout(url, "paused")
        fn = target.acceptor.prepare if path.endswith("prepare") else target.acceptor.lease
        return 200, fn(body["node"], body["term"])

    mod.http_call = fake_http_call


@pytest.fixture
def three(tmp_path, monkeypatch):
    import target.election as mod

    monkeypatch.setattr(mod, "http_call", mod.http_call)  # restored after the test
    clock = Clock()
    es = {n: make_election(tmp_path, n, clock) for n in ("n1", "n2", "n3")}
    clock.t += 1.0
    return es, clock


def test_campaign_wins_with_a_majority_and_the_lease_ends_early(three):
    es, clock = three
    wire(es, clock)
    es["n1"]._campaign()
    assert es["n1"].is_leader() and es["n1"].token() == 1
    assert es["n2"].leader() == ("n1", 1) and not es["n2"].is_leader()
    es["n2"]._campaign()  # refused: n1's lease is live at n2, n3 (and n1)
    assert not es["n2"].is_leader()
    clock.t += SAFETY * 1.0
    assert not es["n1"].is_leader() and es["n1"].token() is None  # leader's view ends first
    assert es["n2"].leader() == ("n1", 1)  # acceptors still honour it a little longer


def test_paused_leader_is_replaced_and_steps_down_on_a_higher_term(three):
    es, clock = three
    wire(es, clock)
    es["n1"]._campaign()
    wire(es, clock, down={"n1"})  # n1 paused: its acceptor is unreachable too
    clock.t += 1.01
    es["n2"]._campaign()
    assert es["n2"].token() == 2
    wire(es, clock)  # n1 continues: renewal is refused with the higher promised term
    es["n1"]._renew()
    assert not es["n1"].is_leader() and es["n1"].term() == 2
    es["n2"]._renew()
    assert es["n1"].leader() == ("n2", 2)


def test_minority_cannot_elect(three):
    es, clock = three
    wire(es, clock, down={"n2", "n3"})
    es["n1"]._campaign()
    assert not es["n1"].is_leader()


def test_leader_absorbs_a_higher_promise_from_a_minority_acceptor(three):
    es, clock = three
    wire(es, clock)
    es["n1"]._campaign()
    es["n3"].acceptor._promise(9)  # n3 campaigned alone (it never saw n1's lease)
    es["n1"]._renew()  # n1, n2 still grant term 1; n3 refuses and reports 9
    assert es["n1"].token() == 10
    assert es["n3"].leader() == ("n1", 10)
    assert "raised leader term 1 -> 10" in (es["n1"].ctx.data_dir / "node.log").read_text()
