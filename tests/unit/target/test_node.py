from target import node as node_mod
from target.config import from_dict

PEERS = {"n1": "http://127.0.0.1:7301", "n2": "http://127.0.0.2:7302", "n3": "http://127.0.0.3:7303"}
INFRA = {
    ("GET", "/health"), ("GET", "/time"), ("GET", "/metrics"), ("GET", "/store/replica/get"),
    ("POST", "/store/replica/put"), ("POST", "/store/coord/write"), ("GET", "/kv/{key}"),
    ("PUT", "/kv/{key}"), ("POST", "/kv/{key}"), ("POST", "/kv/{key}/cas"),
    ("POST", "/election/prepare"), ("POST", "/election/lease"), ("GET", "/leader"),
}


def test_build_without_business_roles_serves_only_infra(tmp_path):
    cfg = from_dict({"node": "n1", "port": 7301, "peers": PEERS, "data_dir": str(tmp_path), "roles": []})
    ctx, router, modules = node_mod.build(cfg)
    assert modules == {} and set(router.routes()) == INFRA
    assert ctx.store.w == 2 and ctx.store.r == 2 and ctx.election.term() == 0
    status, body = router.dispatch(node_mod.Request("GET", "/time"))
    assert status == 200 and body["hlc"][2] == "n1"
    assert (tmp_path / "node.log").exists()


def test_missing_business_module_is_skipped_but_a_broken_one_is_not(tmp_path, monkeypatch):
    cfg = from_dict({"node": "n1", "port": 7301, "peers": PEERS, "data_dir": str(tmp_path)})
    ctx = node_mod.build_context(cfg)
    monkeypatch.setattr(node_mod, "BUSINESS", ("order", "no_such_service"))
    object.__setattr__(cfg, "roles", ("order", "no_such_service"))
    mods = node_mod.load_business(ctx)
    assert list(mods) == ["order"]
    assert "service no_such_service not present" in (tmp_path / "node.log").read_text()


def test_weak_quorum_bug_shrinks_both_quorums(tmp_path):
    cfg = from_dict({"node": "n1", "port": 7301, "peers": PEERS, "data_dir": str(tmp_path), "roles": [],
                     "bugs": ["weak-quorum", "naive-retry"]})
    ctx, _, _ = node_mod.build(cfg)
    assert (ctx.store.n, ctx.store.w, ctx.store.r) == (3, 1, 1)
    assert ctx.retrier.policy.naive and ctx.retrier.policy.max_attempts() == 6
