"""Pause, clock, kill and application faults on the real pipeline in real namespaces.

Three target/ nodes run in a NetnsCluster under libfaketime (PipelineTarget
with skew=True, clock="libfaketime": the mechanism for a system Seam cannot
change; `seam test --nemesis clock` runs the pipeline with its own clock
shim instead, target/clockshim.py).
Each test drives one nemesis exactly as the runner does (ops in, completions
out, every fault in a ledger), proves the fault acts on the real process or
service, heals it, and proves it is gone. The last test runs `seam test` and
reads the nemesis ops back from history.jsonl.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from harness.core.op import Op
from harness.core.placement import mapped_addrs
from harness.targets.pipeline.adapter import PipelineTarget, http_json
from nemesis.app import AppFaultNemesis
from nemesis.clock import ClockNemesis
from nemesis.kill import KillNemesis
from nemesis.pause import PauseNemesis
from nemesis.state import FaultLedger, outstanding
from target.client import Connection, Unknown
from tests.conftest import require_root, require_tool
from tests.integration import cluster_fixture

pytestmark = [pytest.mark.root, pytest.mark.netns]


def proc_state(pid: int) -> str | None:
    """The state letter of /proc/PID/stat (R, S, T, Z...), None if the pid is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rfind(")") + 2]


def running(pid: int) -> bool:
    """Alive and not stopped: R, S or D (SIGCONT lands asynchronously, so callers poll)."""
    return proc_state(pid) not in (None, "T", "t", "Z", "X")


def until(what: str, check, seconds: float, every: float = 0.1):
    """Poll ``check`` until it returns something truthy; fail naming ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {seconds:g}s (last: {value!r})")
        time.sleep(every)


def op(f, value=None):
    return Op(index=0, time=0, process="nemesis", type="invoke", f=f, value=value)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """Three pipeline nodes in namespaces, skewable, leases of 1 s; stopped by pid at the end."""
    require_root()
    require_tool("ip", "faketime")
    with cluster_fixture.running_cluster(tmp_path_factory.mktemp("cluster"), nodes=3) as cluster:
        remote = cluster.remote()
        root = str(tmp_path_factory.mktemp("nodes") / "seam-faults")
        addrs = mapped_addrs({i.name: i.address for i in cluster.node_infos()}, root, 7100)
        target = PipelineTarget(remote, addrs, skew=True, clock="libfaketime", grace=1.0,
                                extra_config={"lease_seconds": 1.0})
        try:
            for n in addrs:
                target.setup(None, n)
            target.wait_ready()
            yield target
        finally:
            target.stop_all()
            remote.close()


@pytest.fixture
def ledger(tmp_path):
    return FaultLedger(tmp_path / "nemesis.jsonl")


def get(target, node, path, timeout=1.0):
    a = target.addrs[node]
    return http_json(a.address, a.port, "GET", path, timeout=timeout)


def health(target, node):
    try:
        status, body = get(target, node, "/health")
    except OSError:
        return None
    return body if status == 200 else None


def leader_view(target, node):
    try:
        return get(target, node, "/leader", timeout=0.5)[1]
    except OSError:
        return None


def test_pause_stops_the_leader_a_new_one_is_elected_and_heal_resumes_it(pipeline, ledger) -> None:
    nodes = pipeline.nodes
    old = until("a leader", lambda: pipeline.leader(None), 20)
    old_term = leader_view(pipeline, old)["term"]
    nem = PauseNemesis(pipeline.remote, pipeline, nodes, ledger=ledger)
    done = nem.invoke(None, op("start-pause", {"role": "leader"}))
    try:
        assert done.value["node"] == old and len(done.value["pids"]) == 1
        (pid,) = done.value["pids"]
        until(f"pid {pid} stopped (state T)", lambda: proc_state(pid) == "T", 2, every=0.01)
        others = [n for n in nodes if n != old]

        def new_leader():
            for n in others:
                v = leader_view(pipeline, n)
                if v and v["node"] in others and v["term"] > old_term:
                    return v
            return None

        elected = until("another node leading in a higher term", new_leader, 15)
        assert elected["node"] != old
        assert proc_state(pid) == "T"  # still stopped while the others moved on
        assert [f.kind for f in outstanding(ledger.path)] == ["pause"]
    finally:
        nem.invoke(None, op("stop-pause"))
    until(f"pid {pid} running again", lambda: running(pid), 2, every=0.01)
    body = until(f"{old} answering /health again", lambda: health(pipeline, old), 10)
    assert body["pid"] == pid  # the same process, resumed, not a restart
    assert outstanding(ledger.path) == []


def test_clock_bump_shifts_the_service_clock_not_the_host_and_reset_restores_it(pipeline, ledger) -> None:
    def offset(node):
        _, body = get(pipeline, node, "/time")
        return body["wall"] - time.time()

    host_before = time.time() - time.monotonic()
    assert abs(offset("n2")) < 1
    nem = ClockNemesis(pipeline.remote, pipeline, pipeline.nodes, ledger=ledger)
    try:
        done = nem.invoke(None, op("bump", {"node": "n2", "seconds": 120}))
        assert done.value == {"node": "n2", "seconds": 120.0}
        assert Path(pipeline.clock_file("n2")).read_text().strip() == "+120s"
        assert abs(offset("n2") - 120) < 1
        assert abs(offset("n1")) < 1  # only n2 was skewed
        nem.invoke(None, op("bump", {"node": "n2", "seconds": -30}))
        assert abs(offset("n2") + 30) < 1
        assert [f.kind for f in outstanding(ledger.path)] == ["clock"]
    finally:
        nem.invoke(None, op("reset"))
    assert abs(offset("n2")) < 1
    assert abs((time.time() - time.monotonic()) - host_before) < 0.5  # the host clock never moved
    assert outstanding(ledger.path) == []


def test_kill_removes_the_pid_and_a_new_pid_serves_after_restart(pipeline, ledger) -> None:
    node = "n3"
    (old_pid,) = pipeline.pids(None, node)
    nem = KillNemesis(pipeline, pipeline.nodes, ledger=ledger)
    try:
        done = nem.invoke(None, op("kill", {"node": node}))
        assert done.value["pids"] == [old_pid]
        assert proc_state(old_pid) is None  # killed and reaped
        assert health(pipeline, node) is None
        assert [f.kind for f in outstanding(ledger.path)] == ["kill"]
    finally:
        nem.invoke(None, op("start"))
    body = until(f"{node} serving again", lambda: health(pipeline, node), 15)
    (new_pid,) = pipeline.pids(None, node)
    assert new_pid != old_pid and body["pid"] == new_pid
    assert outstanding(ledger.path) == []


@pytest.mark.parametrize("kind", ["lost-response", "slow-response"])
def test_an_app_fault_applies_the_effect_once_while_the_client_sees_no_answer(pipeline, ledger, kind) -> None:
    node = "n1"
    a = pipeline.addrs[node]
    order = f"o-{kind}-{time.monotonic_ns()}"
    charge = {"order_id": order, "amount": 250, "key": f"charge:{order}", "token": 1}
    nem = AppFaultNemesis(pipeline, pipeline.nodes, ledger=ledger)
    nem.invoke(None, op("start-app-fault", {"kind": kind, "service": "payment", "op": "charge", "node": node,
                                            "count": 1, "seconds": 3}))
    try:
        conn = Connection(a.address, a.port, timeout=1.0)
        started = time.monotonic()
        with pytest.raises(Unknown):  # no reply: dropped (lost) or later than the 1 s timeout (slow)
            conn.request("POST", "/payment/charge", charge)
        assert time.monotonic() - started < 2.5
        conn.close()

        def rows():
            _, ledger_body = get(pipeline, node, "/payment/ledger")
            return [r for r in ledger_body["rows"] if r.get("key") == charge["key"]]

        applied = until("the charge in n1's payment ledger", rows, 5)
        assert len(applied) == 1 and applied[0]["amount"] == 250
        retry = Connection(a.address, a.port, timeout=5.0).request("POST", "/payment/charge", charge)
        assert retry.body.get("replay") is True  # the idempotency key returns the first result
        assert len(rows()) == 1
    finally:
        nem.invoke(None, op("stop-app-fault"))
    _, armed = get(pipeline, node, "/admin/faults")
    assert armed["faults"] == []
    assert outstanding(ledger.path) == []


@pytest.mark.slow
def test_nemesis_ops_are_in_the_history_with_times_and_targets(tmp_path) -> None:
    """`seam test --nemesis pause,partition` on namespaces: each fault is an invoke/info pair of
    process "nemesis" with its time, each start names what it hit, and a stop follows it."""
    require_root()
    require_tool("ip", "iptables")
    from harness.formats.jsonl import read_jsonl
    from tests.integration.test_run_local import run_dirs, seam, stop_nodes

    results = tmp_path / "results"
    with cluster_fixture.running_cluster(tmp_path / "cluster", nodes=3) as cluster:
        try:
            r = seam("test", "--cluster", "netns", "--node-count", "3", "--nemesis", "pause,partition",
                     "--nemesis-interval", "1", "--nemesis-concurrency", "2", "--time-limit", "6",
                     "--op-timeout", "1", "--recovery-time", "1", "--rate", "50", "--seed", "11",
                     "--cluster-prefix", cluster.prefix, "--subnet", str(cluster.network),
                     "--cluster-state", str(tmp_path / "cluster"), "--results", str(results), "--no-progress",
                     cwd=tmp_path, timeout=120)
            assert r.returncode in (0, 1, 2), (r.stdout, r.stderr)
            (run_dir,) = run_dirs(results)
            ops = list(read_jsonl((run_dir / "history.jsonl").read_text(), source="history.jsonl"))
        finally:
            left = stop_nodes(results)
        assert not left, f"node processes left running: {left}"

    faults = [o for o in ops if o.process == "nemesis"]
    assert faults, "no nemesis op in the history"
    for inv, done in zip(faults[::2], faults[1::2], strict=True):
        assert (inv.type, done.type, inv.f) == ("invoke", "info", done.f)
        assert isinstance(inv.time, int) and 0 <= inv.time <= done.time
    completions = faults[1::2]
    nodes = {"n1", "n2", "n3"}
    parts = [o for o in completions if o.f == "start-partition"]
    pauses = [o for o in completions if o.f == "start-pause" and o.value.get("pids")]
    assert parts and pauses, [o.f for o in completions]
    for o in parts:
        grudge = o.value["grudge"]
        assert grudge and set(grudge) <= nodes and all(set(v) <= nodes - {k} for k, v in grudge.items())
    for o in pauses:
        assert o.value["node"] in nodes and all(isinstance(p, int) for p in o.value["pids"])
    # Every start is followed, later, by the stop that undoes it; the resumed pids are the paused ones.
    for start, stop in (("start-partition", "stop-partition"), ("start-pause", "stop-pause")):
        for o in (o for o in completions if o.f == start):
            assert any(s.f == stop and s.time > o.time for s in completions), f"no {stop} after {start} at {o.time}"
    resumed = {p for o in completions if o.f == "stop-pause" for ps in o.value["resumed"].values() for p in ps}
    assert {p for o in pauses for p in o.value["pids"]} <= resumed
    assert outstanding(run_dir / "nemesis.jsonl") == []
