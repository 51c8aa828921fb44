"""The redis target without a cluster: options, configs, the 2013 partition shape, the
failover reading, and how the client classifies Redis's answers."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any

import pytest

from harness.assemble import build_plan
from harness.core.errors import ConfigError
from harness.core.op import Op
from harness.core.placement import NodeAddr
from harness.spec import TestSpec
from harness.targets import get
from harness.targets.redis import settings
from harness.targets.redis.adapter import SENTINEL_OFFSET, RedisTarget
from harness.targets.redis.client import RedisSetClient
from harness.targets.redis.roles import RolesChecker, failovers, two_primaries
from nemesis import grudge as g
from nemesis.partition import compute

NODES = ["n1", "n2", "n3", "n4", "n5"]


def addrs(n: int = 5) -> dict[str, NodeAddr]:
    return {f"n{i}": NodeAddr(f"n{i}", f"10.9.0.{i}", f"10.9.0.{i}", 7100 + i, f"/tmp/seam-x/n{i}")
            for i in range(1, n + 1)}


def spec(**opts: str) -> TestSpec:
    return TestSpec(target="redis", workload="set", target_options=dict(opts))


def test_options_parse_and_reach_the_servers():
    options = get("redis").resolved_options(spec(**{"min-replicas-to-write": "1", "appendfsync": "always",
                                                    "failover": "none", "wait": "2"}))
    s = settings(options)
    assert (s.sentinel, s.min_replicas_to_write, s.appendfsync) == (False, 1, "always")
    conf = RedisTarget(None, addrs(), s).redis_conf("n2")  # type: ignore[arg-type]
    assert "min-replicas-to-write 1" in conf and "appendfsync always" in conf
    assert "replicaof 10.9.0.1 7101" in conf and "bind-source-addr 10.9.0.2" in conf
    assert "replicaof" not in RedisTarget(None, addrs(), s).redis_conf("n1")  # type: ignore[arg-type]


def test_a_bad_option_is_one_line_naming_what_it_accepts():
    with pytest.raises(ConfigError, match="failover=raft.*one of sentinel, none"):
        get("redis").resolved_options(spec(failover="raft"))


def test_wait_for_more_replicas_than_the_cluster_has_is_refused_before_anything_starts():
    with pytest.raises(ConfigError, match="wait=5: the cluster has only 4 replicas"):
        build_plan(spec(wait="5"))


def test_clock_is_refused_with_the_reason():
    with pytest.raises(ConfigError, match="cannot take it: Redis orders nothing"):
        build_plan(TestSpec(target="redis", workload="set", nemesis=["clock"]))


def test_sentinels_monitor_node_one_with_a_majority_quorum_and_name_their_config_in_the_title():
    t = RedisTarget(None, addrs(), settings(get("redis").resolved_options(spec())))  # type: ignore[arg-type]
    conf = t.sentinel_conf("n3")
    assert "sentinel monitor seam 10.9.0.1 7101 3" in conf
    assert f"port {7103 + SENTINEL_OFFSET}" in conf and "{config-file}" in conf
    d = t.daemon("n3", "sentinel")
    assert d.argv == ("redis-sentinel", "/tmp/seam-x/n3/sentinel.conf") and d.mark == "/tmp/seam-x/n3/sentinel.conf"


def test_the_scenario_cuts_off_the_primary_and_one_replica_from_the_majority():
    plan = build_plan(TestSpec(target="redis", workload="set", scenario="primary-isolated"))
    assert plan.faults == ["partition"] and plan.spec.time_limit == 60.0
    assert plan.spec.nemesis_options["partition"]["shape"] == "leader-minority"
    grudge = compute("leader-minority", NODES, random.Random(1), leader="n3")
    groups = sorted(g.components(NODES, grudge), key=len)
    assert len(groups) == 2 and "n3" in groups[0] and len(groups[0]) == 2 and len(groups[1]) == 3
    assert [len(c) for c in g.components(NODES[:3], compute("leader-minority", NODES[:3], random.Random(1),
                                                              leader="n1"))] in ([1, 2], [2, 1])


def roles_file(tmp_path, node: str, rows: list[dict[str, Any]]) -> None:
    d = tmp_path / "nodes" / node
    d.mkdir(parents=True, exist_ok=True)
    (d / "roles.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_the_failover_is_named_from_what_the_nodes_said(tmp_path):
    # n1 primary until the majority's Sentinels (n3, n4, n5) name n3 at 10 s; n1 demoted at 30 s.
    for node in NODES:
        rows = []
        for t in range(0, 40):
            minority = node in ("n1", "n2") and t < 29
            named = "n1" if t < 10 or minority else "n3"
            role = "master" if (node == "n1" and t < 30) or (node == "n3" and t >= 10) else "slave"
            rows.append({"time": float(t), "role": role, "sentinel": named})
        roles_file(tmp_path, node, rows)
    result = RolesChecker().check({}, None, tmp_path)  # type: ignore[arg-type]
    assert result.valid is True
    (f,) = result.stats["events"]
    assert (f["old"], f["new"], f["at_s"], f["old_demoted_at_s"]) == ("n1", "n3", 10.0, 30.0)
    assert "n1 -> n3 at 10.0 s" in result.stats["first"]
    assert result.stats["two_primaries_s"] > 0


def test_no_failover_when_a_majority_always_named_one_primary(tmp_path):
    for node in NODES:
        roles_file(tmp_path, node, [{"time": float(t), "role": "master" if node == "n1" else "slave",
                                     "sentinel": "n1"} for t in range(5)])
    rows = {n: [{"time": float(t), "sentinel": "n1"} for t in range(5)] for n in NODES}
    assert failovers(rows) == [] and two_primaries(rows) == 0
    assert RolesChecker().check({}, None, tmp_path).stats["failovers"] == 0  # type: ignore[arg-type]


@dataclass
class FakeConnection:
    """Answers SADD/SMEMBERS/WAIT from a script; an Exception in the script is raised."""

    script: list[Any]
    sent: list[tuple[Any, ...]] = field(default_factory=list)

    def connect(self) -> None:
        pass

    def send_command(self, *args: Any) -> None:
        self.sent.append(args)

    def read_response(self) -> Any:
        answer = self.script.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def disconnect(self) -> None:
        pass


def client_with(script: list[Any], wait: int = 0) -> tuple[RedisSetClient, FakeConnection]:
    c = RedisSetClient(addrs(), timeout=1.0, sentinel_offset=None, wait=wait).open(None, "n2")
    fake = FakeConnection(script)
    c._conn, c._conn_to = fake, ("10.9.0.1", 7101)
    return c, fake


def add(e: int = 7) -> Op:
    return Op(0, 0, 1, "invoke", "add", ["s0", e])


def test_an_acknowledged_sadd_is_ok_and_names_the_primary_that_served_it():
    c, fake = client_with([1])
    done = c.invoke(None, add())
    assert done.type == "ok" and done.extra["primary"] == "n1" and fake.sent == [("SADD", "s0", 7)]


def test_a_readonly_answer_is_a_definite_fail_and_a_timeout_is_info():
    from redis.exceptions import ReadOnlyError, TimeoutError

    c, _ = client_with([ReadOnlyError("You can't write against a read only replica.")])
    assert c.invoke(None, add()).type == "fail"
    c, _ = client_with([TimeoutError("Timeout reading from socket")])
    assert c.invoke(None, add()).type == "info"


def test_wait_with_too_few_replicas_leaves_the_add_unconfirmed_info():
    c, fake = client_with([1, 1], wait=2)
    done = c.invoke(None, add())
    assert done.type == "info" and "1 replica(s) confirmed" in done.extra["error"]
    assert fake.sent[1][:2] == ("WAIT", 2)
    c, _ = client_with([1, 2], wait=2)
    assert c.invoke(None, add()).type == "ok"


def test_an_error_after_sadd_was_applied_is_never_a_fail():
    from redis.exceptions import ResponseError

    c, _ = client_with([1, ResponseError("ERR something odd")], wait=1)
    assert c.invoke(None, add()).type == "info"


def test_a_read_returns_the_sorted_elements_and_any_error_is_a_fail():
    from redis.exceptions import ConnectionError

    c, _ = client_with([[b"3", b"1"]])
    done = c.invoke(None, Op(0, 0, 1, "invoke", "read", ["s0", None]))
    assert done.type == "ok" and done.value == ["s0", [1, 3]]
    c, _ = client_with([ConnectionError("reset")])
    assert c.invoke(None, Op(0, 0, 1, "invoke", "read", ["s0", None])).type == "fail"


def test_the_nightly_round_mixes_the_isolated_primary_with_pauses_and_kills_of_the_primary():
    plan = build_plan(TestSpec(target="redis", workload="set", scenario="nightly-redis"))
    assert plan.faults == ["partition", "pause", "kill"]
    steps = [s for s in plan.scenario.round if isinstance(s, tuple)]
    assert ("pause", "start", {"role": "primary"}) in steps and ("kill", "start", {"role": "primary"}) in steps
    assert plan.spec.nemesis_options["partition"]["shape"] == "leader-minority"
