import json

import pytest

from target.hlc import HLC, Timestamp


class FakeClock:
    def __init__(self, t: float = 1000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_now_follows_wall_clock_and_resets_logical():
    clock = FakeClock(1000.0)
    h = HLC("a", clock)
    assert h.now() == Timestamp(1_000_000, 0, "a")
    assert h.now() == Timestamp(1_000_000, 1, "a")
    clock.t = 1001.0
    assert h.now() == Timestamp(1_001_000, 0, "a")


def test_now_never_goes_backwards_when_the_clock_does():
    clock = FakeClock(1000.0)
    h = HLC("a", clock)
    first = h.now()
    clock.t = 990.0  # NTP step or faketime jump backwards
    later = [h.now() for _ in range(3)]
    assert all(t > first for t in later)
    assert later == sorted(later)
    assert later[0].wall_ms == first.wall_ms


def test_update_moves_past_a_remote_timestamp_from_the_future():
    h = HLC("a", FakeClock(1000.0))
    remote = Timestamp(5_000_000, 7, "b")
    got = h.update(remote)
    assert got > remote
    assert got == Timestamp(5_000_000, 8, "a")
    assert h.now() > got


def test_update_with_equal_walls_takes_max_logical_plus_one():
    clock = FakeClock(1000.0)
    h = HLC("a", clock)
    h.now(), h.now()  # local (1_000_000, 1)
    assert h.update(Timestamp(1_000_000, 5, "b")) == Timestamp(1_000_000, 6, "a")
    assert h.update(Timestamp(1_000_000, 2, "b")) == Timestamp(1_000_000, 7, "a")


def test_update_with_old_remote_and_fresh_clock_resets_logical():
    clock = FakeClock(1000.0)
    h = HLC("a", clock)
    h.now()
    clock.t = 1002.0
    assert h.update(Timestamp(999_000, 50, "b")) == Timestamp(1_002_000, 0, "a")


def test_causal_chain_across_skewed_nodes_is_ordered():
    # b's clock is 10 s behind a's: a message a -> b -> a still yields increasing timestamps.
    a, b = HLC("a", FakeClock(1010.0)), HLC("b", FakeClock(1000.0))
    t1 = a.now()
    t2 = b.update(t1)
    t3 = b.now()
    t4 = a.update(t3)
    assert t1 < t2 < t3 < t4


def test_ties_between_nodes_are_broken_by_node_name():
    assert Timestamp(1, 0, "a") < Timestamp(1, 0, "b")
    assert Timestamp(1, 0, "b") < Timestamp(1, 1, "a")


def test_json_round_trip_and_validation():
    ts = Timestamp(123, 4, "n1")
    raw = json.loads(json.dumps(ts))
    assert raw == [123, 4, "n1"]
    assert Timestamp.from_json(raw) == ts
    assert HLC("x").update(raw) > ts
    for bad in ([1, 2], "x", [1.5, 0, "a"], [-1, 0, "a"], [1, True, "a"], [1, 0, 3]):
        with pytest.raises(ValueError, match="timestamp"):
            Timestamp.from_json(bad)
