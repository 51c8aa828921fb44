"""Quorum arithmetic and coordinator logic, with replicas as in-process fakes."""

import itertools
import json
from collections import Counter

import pytest

from target.config import from_dict
from target.hlc import Timestamp
from target.node import build_context
from target.pool import CallFailed
from target.store import NoQuorum, Replica, StoreClient, placement

NODES = ["n1", "n2", "n3"]


def test_placement_is_stable_distinct_and_spreads_homes():
    for key in ("a", "order:42", "saga:7"):
        p = placement(key, NODES, 3)
        assert sorted(p) == NODES and p == placement(key, list(reversed(NODES)), 3)
    homes = Counter(placement(f"k{i}", NODES, 3)[0] for i in range(300))
    assert set(homes) == set(NODES) and min(homes.values()) > 60
    assert len(placement("a", ["n1", "n2", "n3", "n4", "n5"], 3)) == 3


@pytest.mark.parametrize("n,w,r", [(3, 2, 2), (5, 3, 3), (5, 4, 2), (3, 3, 1)])
def test_every_read_quorum_meets_every_write_quorum_when_r_plus_w_exceeds_n(n, w, r):
    nodes = range(n)
    for wq in itertools.combinations(nodes, w):
        for rq in itertools.combinations(nodes, r):
            assert set(wq) & set(rq)


def test_weak_quorum_sizes_admit_disjoint_quorums():
    assert any(not (set(wq) & set(rq)) for wq in itertools.combinations(range(3), 1)
               for rq in itertools.combinations(range(3), 1))


def test_replica_keeps_newest_and_survives_reopen_with_a_torn_line(tmp_path):
    path = tmp_path / "store.jsonl"
    r = Replica(path)
    assert r.put("k", "v2", Timestamp(2, 0, "a")) == (True, Timestamp(2, 0, "a"))
    assert r.put("k", "v1", Timestamp(1, 0, "a")) == (False, Timestamp(2, 0, "a"))
    r.close()
    with open(path, "a") as f:
        f.write('{"key": "k", "value": "torn", "ts": [9')  # crash mid-append: never acked
    r2 = Replica(path)
    assert r2.get("k") == ("v2", Timestamp(2, 0, "a"))
    assert r2.put("j", {"x": 1}, Timestamp(3, 0, "b"))[0]
    assert json.loads(path.read_text().splitlines()[-1])["value"] == {"x": 1}


class FakeCluster:
    """Replicas as dicts; nodes in `down` fail as if SIGKILLed."""

    def __init__(self):
        self.data: dict[str, dict[str, tuple]] = {n: {} for n in NODES}
        self.down: set[str] = set()

    def attach(self, client: StoreClient) -> None:
        def read_one(node, key):
            if node in self.down:
                raise CallFailed(node, "connection refused", definite=True)
            return self.data[node].get(key)

        def write_one(node, key, value, ts):
            if node in self.down:
                raise CallFailed(node, "connection refused", definite=True)
            cur = self.data[node].get(key)
            if cur is None or cur[1] < ts:
                self.data[node][key] = (value, ts)
            return self.data[node][key][1]

        client._read_one = read_one  # type: ignore[method-assign]
        client._write_one = write_one  # type: ignore[method-assign]
        client._route = lambda key, expected, value: client._coordinate(key, expected, value)  # type: ignore[method-assign]


def client_for(tmp_path, name="n1", bugs=()):
    peers = {n: f"http://127.0.0.1:{7100 + i}" for i, n in enumerate(NODES)}
    cfg = from_dict({"node": name, "port": 7100, "peers": peers, "data_dir": str(tmp_path / name),
                     "bugs": list(bugs), "request_timeout": 0.2})
    return StoreClient(build_context(cfg))


def stale_read_scenario(tmp_path, bugs):
    """Write with n2, n3 down; read with the written replica down. Returns the read."""
    fake = FakeCluster()
    c1, c2 = client_for(tmp_path, "n1", bugs), client_for(tmp_path, "n2", bugs)
    fake.attach(c1), fake.attach(c2)
    c1.put("k", "old")
    fake.down = {"n2", "n3"}
    try:
        c1.put("k", "new")
        acked = True
    except NoQuorum:
        acked = False
    fake.down = {"n1"}
    return acked, c2.get("k")


def test_weak_quorum_acknowledges_a_write_that_a_later_read_misses(tmp_path):
    acked, read = stale_read_scenario(tmp_path, ["weak-quorum"])
    assert acked and read[0] == "old"  # stale: the acknowledged "new" is lost to this read


def test_majority_quorum_refuses_the_write_instead(tmp_path):
    acked, read = stale_read_scenario(tmp_path, [])
    assert not acked
    assert read[0] in ("old", "new")


def test_read_write_back_makes_a_seen_value_durable(tmp_path):
    for bugs, expect_later in (([], "new"), (["no-write-back"], "old")):
        fake = FakeCluster()
        c1, c3 = client_for(tmp_path / str(bugs), "n1", bugs), client_for(tmp_path / str(bugs), "n3", bugs)
        fake.attach(c1), fake.attach(c3)
        c1.put("k", "old")
        ts = Timestamp(10**15, 0, "n1")  # a failed write left "new" on n1 only
        fake.data["n1"]["k"] = ("new", ts)
        fake.down = {"n3"}
        assert c1.get("k") == ("new", ts)  # quorum {n1, n2} sees it
        fake.down = {"n1"}
        assert c3.get("k")[0] == expect_later  # quorum {n2, n3}


def test_put_picks_a_timestamp_above_the_newest_even_with_a_slow_clock(tmp_path):
    fake = FakeCluster()
    c1 = client_for(tmp_path)
    fake.attach(c1)
    future = Timestamp(10**15, 3, "n9")  # written by a node whose clock runs far ahead
    for n in NODES:
        fake.data[n]["k"] = ("from-the-future", future)
    ts = c1.put("k", "now")
    assert ts > future
    assert c1.get("k")[0] == "now"


def test_cas_compares_with_the_newest_value(tmp_path):
    fake = FakeCluster()
    c1 = client_for(tmp_path)
    fake.attach(c1)
    assert c1.cas("k", None, 1)  # None means absent
    assert not c1.cas("k", None, 2)
    assert c1.cas("k", 1, 3)
    assert c1.get("k")[0] == 3
    fake.down = {"n2", "n3"}
    with pytest.raises(NoQuorum, match="1 of 2"):
        c1.cas("k", 3, 4)
