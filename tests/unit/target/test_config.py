import json

import pytest

from target.bugs import KNOWN, Bugs, UnknownBug
from target.config import SERVICES, from_dict, load

BASE = {"node": "n1", "port": 7101, "peers": {"n1": "http://127.0.0.1:7101", "n2": "http://127.0.0.2:7102"}}


def test_defaults_and_round_trip(tmp_path):
    p = tmp_path / "node.json"
    p.write_text(json.dumps({**BASE, "replication": {"n": 2, "w": 2, "r": 1}, "bugs": ["naive-retry"],
                             "retry": {"attempts": 3, "budget_floor": 2.5}}))
    cfg = load(p)
    assert cfg.replication.n == 2 and cfg.retry.attempts == 3 and cfg.retry.budget_floor == 2.5
    assert cfg.lease_seconds == 2.0 and cfg.host == "127.0.0.1" and cfg.roles == SERVICES
    assert from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize("patch,key", [
    ({"port": "x"}, "port"),
    ({"port": 70000}, "port"),
    ({"colour": 1}, "colour"),
    ({"bugs": ["weak-qorum"]}, "bugs"),
    ({"replication": {"n": 3}}, "replication.n"),
    ({"replication": {"n": 2, "w": 3}}, "replication.w"),
    ({"replication": {"w": 0}}, "replication.w"),
    ({"retry": {"attempts": 1.5}}, "retry.attempts"),
    ({"retry": {"jitter": 1}}, "retry.jitter"),
    ({"peers": {"n2": "http://x:1"}}, "peers"),
    ({"peers": {"n1": "ftp://x"}}, "peers.n1"),
    ({"lease_seconds": 0}, "lease_seconds"),
    ({"roles": ["billing"]}, "roles"),
])
def test_bad_config_exits_naming_the_key(patch, key):
    with pytest.raises(SystemExit) as e:
        from_dict({**BASE, **patch}, source="node.json")
    assert f"key {key!r}" in str(e.value)


def test_default_replication_fits_small_clusters():
    assert from_dict(BASE).replication.__dict__ == {"n": 2, "w": 2, "r": 2}
    one = {**BASE, "peers": {"n1": "http://127.0.0.1:7101"}}
    assert from_dict(one).replication.__dict__ == {"n": 1, "w": 1, "r": 1}
    five = {**BASE, "peers": {f"n{i}": f"http://127.0.0.{i}:7101" for i in range(1, 6)}}
    assert from_dict(five).replication.__dict__ == {"n": 3, "w": 2, "r": 2}


def test_missing_required_key_and_bad_json(tmp_path):
    with pytest.raises(SystemExit, match="'peers': required"):
        from_dict({"node": "n1", "port": 1})
    p = tmp_path / "node.json"
    p.write_text("{\n  'x': 1}")
    with pytest.raises(SystemExit, match=r"node.json:2: config is not valid JSON"):
        load(p)
    with pytest.raises(SystemExit, match="cannot read config"):
        load(tmp_path / "missing.json")


def test_bugs_reject_unknown_names_everywhere():
    b = Bugs(["weak-quorum"])
    assert b.on("weak-quorum") and not b.on("no-write-back")
    with pytest.raises(UnknownBug, match="known flags"):
        b.on("weak-qorum")
    with pytest.raises(UnknownBug):
        Bugs(["nope"])
    assert len(KNOWN) == 7 and all(len(doc) > 20 for doc in KNOWN.values())
