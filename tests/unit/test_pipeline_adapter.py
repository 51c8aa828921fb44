"""PipelineTarget against a fake Remote (no processes), and its clients against a
tiny in-process HTTP server that answers like target/ does."""

from __future__ import annotations

import json
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from harness.core.errors import RemoteError, TargetError, UnsupportedError
from harness.core.op import Op
from harness.core.placement import NodeAddr, local_addrs, mapped_addrs
from harness.core.protocols import (
    HasAppFaults,
    HasLeader,
    HasLogs,
    Killable,
    Pausable,
    Result,
    Skewable,
    Target,
)
from harness.targets.pipeline.adapter import PipelineTarget
from harness.targets.pipeline.clients import OrdersClient, RegisterClient


class FakeRemote:
    """Records every call; upload/download copy files like the local Remote."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.spawned: dict[int, tuple[str, list[str], str, dict, str | None]] = {}
        self.live: set[int] = set()
        self.signals: list[tuple[str, int, int]] = []
        self.uploaded_text: dict[tuple[str, str], str] = {}
        self.uploaded_dirs: dict[tuple[str, str], list[str]] = {}
        self.ignore_term = False
        self.faketime = ""  # what `sh -c <find libfaketime>` prints
        self.files: dict[tuple[str, str], str] = {}  # (node, path) -> text written by `sh -c printf`
        self._next = 1000

    def run(self, node: str, argv: Any, *, timeout: float = 60, check: bool = True, stdin: bytes | None = None) -> Result:
        self.calls.append(("run", node, *argv))
        argv = list(argv)
        if argv[:2] == ["sh", "-c"] and "faketime" in argv[2]:
            return Result(node, tuple(argv), 0 if self.faketime else 1, self.faketime, "")
        if argv[:2] == ["sh", "-c"] and argv[2].startswith("printf"):  # the daemon helper's pid file
            self.files[(node, argv[-1])] = "".join(f"{a}\n" for a in argv[4:-1])
        elif argv[0] == "cat":
            return self._cat(node, argv)
        elif argv[:2] == ["rm", "-f"]:
            self.files.pop((node, argv[2]), None)
        return Result(node, tuple(argv), 0, "", "")

    def _cat(self, node: str, argv: list[str]) -> Result:
        """A pid file the daemon helper wrote, or a live spawned process's command line."""
        path = argv[1]
        if path.startswith("/proc/"):
            pid = int(path.split("/")[2])
            text = "\0".join(self.spawned[pid][1]) if pid in self.live else None
        else:
            text = self.files.get((node, path))
        return Result(node, tuple(argv), 0 if text is not None else 1, text or "", "")

    def spawn(self, node: str, argv: Any, log: str, *, env: Any = None, cwd: str | None = None) -> int:
        self._next += 1
        self.spawned[self._next] = (node, list(argv), log, dict(env or {}), cwd)
        self.live.add(self._next)
        return self._next

    def signal(self, node: str, pid: int, sig: int) -> None:
        if pid not in self.live:
            raise RemoteError(node, ["kill", str(pid)], status=1, stderr="no such process")
        self.signals.append((node, pid, sig))
        if sig == signal.SIGKILL or (sig == signal.SIGTERM and not self.ignore_term):
            self.live.discard(pid)

    def alive(self, node: str, pid: int) -> bool:
        return pid in self.live

    def upload(self, node: str, src: Path, dst: str) -> None:
        self.calls.append(("upload", node, src.name, dst))
        if src.is_file():
            self.uploaded_text[(node, dst)] = src.read_text()
        else:
            self.uploaded_dirs[(node, dst)] = sorted(p.name for p in src.iterdir())

    def download(self, node: str, src: str, dst: Path) -> None:
        self.calls.append(("download", node, src, str(dst)))
        if src.endswith("/data"):
            dst.mkdir(parents=True, exist_ok=True)
            (dst / "payment.ledger").write_text('{"row": 1}\n')
        else:
            raise RemoteError(node, ["download", src], status=1, stderr="no such file")

    def close(self) -> None:
        pass


@pytest.fixture
def target(tmp_path: Path) -> tuple[PipelineTarget, FakeRemote]:
    remote = FakeRemote()
    source = tmp_path / "src" / "target"
    source.mkdir(parents=True)
    (source / "__init__.py").write_text("")
    (source / "node.py").write_text("")
    (source / "__pycache__").mkdir()
    # Port 2..4: nothing listens there, so HTTP probes (metrics, leader) are refused at once.
    addrs = local_addrs(["n1", "n2", "n3"], "/runs/seam-abc", base_port=1)
    t = PipelineTarget(remote, addrs, replication=(3, 2, 2), bugs=["weak-quorum"], seed=9, source=source, grace=0.2)
    return t, remote


def test_it_has_every_ability_nemeses_ask_for(target: tuple[PipelineTarget, FakeRemote]) -> None:
    t, _ = target
    for proto in (Target, Killable, Pausable, HasLeader, HasLogs, HasAppFaults, Skewable):
        assert isinstance(t, proto), proto.__name__


def test_local_addresses_are_distinct_loopbacks_and_ports() -> None:
    addrs = local_addrs(["n1", "n2", "n3", "n4", "n5"], "/r")
    assert [a.address for a in addrs.values()] == [f"127.0.0.{i}" for i in range(11, 16)]
    assert [a.port for a in addrs.values()] == [7101, 7102, 7103, 7104, 7105]
    assert addrs["n2"].workdir == "/r/n2" and addrs["n2"].data_dir == "/r/n2/data"


def test_ssh_addresses_bind_all_and_dial_the_host() -> None:
    addrs = mapped_addrs({"db1": "10.0.0.5", "db2": "10.0.0.6"}, "/tmp/seam-x", bind_all=True)
    assert addrs["db1"] == NodeAddr("db1", "0.0.0.0", "10.0.0.5", 7101, "/tmp/seam-x/db1")
    assert addrs["db2"].url == "http://10.0.0.6:7102"


def test_node_config_is_what_target_config_accepts(target: tuple[PipelineTarget, FakeRemote]) -> None:
    from target.config import from_dict

    t, _ = target
    cfg = t.node_config("n2")
    assert cfg["peers"] == {"n1": "http://127.0.0.11:2", "n2": "http://127.0.0.12:3", "n3": "http://127.0.0.13:4"}
    assert cfg["replication"] == {"n": 3, "w": 2, "r": 2}
    assert cfg["bugs"] == ["weak-quorum"] and cfg["seed"] == 9
    assert len(cfg["admin_secret"]) >= 16
    parsed = from_dict(cfg)  # the node's own validator: any mismatch exits
    assert parsed.host == "127.0.0.12" and parsed.port == 3 and parsed.data_dir == "/runs/seam-abc/n2/data"


def test_each_run_gets_its_own_admin_secret(target: tuple[PipelineTarget, FakeRemote]) -> None:
    t, remote = target
    other = PipelineTarget(remote, t.addrs)
    assert other.admin_secret != t.admin_secret


def test_setup_uploads_code_without_caches_writes_config_and_spawns(target: tuple[PipelineTarget, FakeRemote]) -> None:
    t, remote = target
    t.setup(None, "n1")
    assert ("run", "n1", "mkdir", "-p", "/runs/seam-abc/n1", "/runs/seam-abc/n1/data") in remote.calls
    assert remote.uploaded_dirs[("n1", "/runs/seam-abc/n1/target")] == ["__init__.py", "node.py"]
    assert json.loads(remote.uploaded_text[("n1", "/runs/seam-abc/n1/node.json")])["node"] == "n1"
    (pid, (node, argv, log, env, cwd)), = remote.spawned.items()
    assert node == "n1"
    assert argv == ["python3", "-m", "target.node", "--config", "/runs/seam-abc/n1/node.json"]
    assert log == "/runs/seam-abc/n1/stdout.log" and cwd == "/runs/seam-abc/n1"
    assert t.pids(None, "n1") == [pid]
    t.setup(None, "n1")  # idempotent: a running node is not started twice
    assert len(remote.spawned) == 1


def test_kill_sigkills_and_start_restarts(target: tuple[PipelineTarget, FakeRemote]) -> None:
    t, remote = target
    t.start(None, "n3")
    (pid,) = t.pids(None, "n3")
    assert t.kill(None, "n3") == [pid]
    assert remote.signals == [("n3", pid, signal.SIGKILL)]
    assert t.pids(None, "n3") == []
    assert t.kill(None, "n3") == []  # nothing to kill
    t.start(None, "n3")
    assert t.pids(None, "n3") != [pid] and len(t.pids(None, "n3")) == 1


def test_stop_escalates_to_sigkill_after_the_grace_period(target: tuple[PipelineTarget, FakeRemote]) -> None:
    t, remote = target
    remote.ignore_term = True
    t.start(None, "n1")
    (pid,) = t.pids(None, "n1")
    t.teardown(None, "n1")
    assert [s for _, p, s in remote.signals if p == pid] == [signal.SIGTERM, signal.SIGCONT, signal.SIGKILL]
    assert ("run", "n1", "rm", "-rf", "/runs/seam-abc/n1") in remote.calls
    assert ("run", "n1", "rmdir", "--ignore-fail-on-non-empty", "/runs/seam-abc") in remote.calls
    t.teardown(None, "n1")  # idempotent


def test_unknown_role_and_node_are_clear_errors(target: tuple[PipelineTarget, FakeRemote]) -> None:
    t, _ = target
    with pytest.raises(UnsupportedError, match="no role 'database'"):
        t.pids(None, "n1", "database")
    with pytest.raises(TargetError, match="unknown node 'n9'"):
        t.start(None, "n9")


def test_collect_keeps_what_it_can_get_from_a_dead_node(target: tuple[PipelineTarget, FakeRemote], tmp_path: Path) -> None:
    t, remote = target
    files = t.collect(None, "n1", tmp_path / "nodes" / "n1")
    assert [p.name for p in files] == ["payment.ledger"]  # stdout.log and node.json failed, metrics unreachable


def test_wait_ready_names_the_node_that_died(target: tuple[PipelineTarget, FakeRemote]) -> None:
    t, remote = target
    t.start(None, "n1")
    remote.live.clear()
    with pytest.raises(TargetError, match="n1: target.node exited during start-up"):
        t.wait_ready(["n1"], timeout=2)


# -- clients against a fake node ------------------------------------------------


class FakeNode(BaseHTTPRequestHandler):
    """Answers /kv like the quorum store: 404 for a missing key, 409 on cas mismatch."""

    store: dict[str, Any] = {}
    script: dict[str, tuple[int, dict]] = {}

    def _reply(self, status: int, body: dict) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _body(self) -> dict:
        n = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(n)) if n else {}

    def do_GET(self) -> None:
        if self.path in self.script:
            return self._reply(*self.script[self.path])
        key = self.path.rsplit("/", 1)[-1]
        if self.path.startswith("/kv/") and key in self.store:
            return self._reply(200, {"value": self.store[key]})
        if self.path == "/payment/ledger":
            return self._reply(200, {"rows": [{"key": "charge:order-1"}]})
        return self._reply(404, {"error": "not found"})

    def do_PUT(self) -> None:
        body = self._body()
        if self.path in self.script:
            return self._reply(*self.script[self.path])
        self.store[self.path.rsplit("/", 1)[-1]] = body["value"]
        self._reply(200, {"ok": True})

    def do_POST(self) -> None:
        body = self._body()
        if self.path in self.script:
            return self._reply(*self.script[self.path])
        key = self.path.split("/")[2]
        if self.store.get(key) != body["expected"]:
            return self._reply(409, {"error": "cas mismatch"})
        self.store[key] = body["new"]
        self._reply(200, {"ok": True})

    def log_message(self, *a: Any) -> None:
        pass


@pytest.fixture
def node_addrs() -> Any:
    FakeNode.store = {}
    FakeNode.script = {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeNode)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    yield {"n1": NodeAddr("n1", "127.0.0.1", "127.0.0.1", port, "/x/n1")}
    server.shutdown()
    server.server_close()


def _inv(f: str, value: Any, process: int = 0) -> Op:
    return Op(index=0, time=0, process=process, type="invoke", f=f, value=value)


def test_register_client_classifies_every_answer(node_addrs: dict) -> None:
    c = RegisterClient(node_addrs, timeout=1.0).open(None, "n1")
    try:
        r = c.invoke(None, _inv("read", ["k1", None]))
        assert (r.type, r.value, r.extra["node"]) == ("ok", ["k1", None], "n1")  # never written
        assert c.invoke(None, _inv("write", ["k1", 3])).type == "ok"
        assert c.invoke(None, _inv("read", ["k1", None])).value == ["k1", 3]
        assert c.invoke(None, _inv("cas", ["k1", [2, 4]])).type == "fail"  # 409: definite
        assert c.invoke(None, _inv("cas", ["k1", [3, 4]])).type == "ok"
        FakeNode.script["/kv/k2"] = (503, {"error": "no quorum"})
        assert c.invoke(None, _inv("write", ["k2", 1])).type == "info"  # may have reached a replica
        FakeNode.script["/kv/k2"] = (503, {"error": "no quorum", "definite": True})
        assert c.invoke(None, _inv("write", ["k2", 1])).type == "fail"
        FakeNode.script["/kv/k2"] = (500, {"error": "boom"})
        r = c.invoke(None, _inv("read", ["k2", None]))
        assert r.type == "fail" and "500" in r.extra["error"]  # a read changes nothing
    finally:
        c.close()


def test_register_client_refused_is_fail_and_unknown_f_is_an_error() -> None:
    # Nothing listens on this port: the request was never delivered.
    addrs = {"n1": NodeAddr("n1", "127.0.0.1", "127.0.0.1", 9, "/x")}
    c = RegisterClient(addrs, timeout=0.5).open(None, "n1")
    r = c.invoke(None, _inv("write", ["k", 1]))
    assert r.type == "fail" and "ConnectionRefused" in r.extra["error"]
    with pytest.raises(TargetError, match="unknown f 'append'"):
        c.invoke(None, _inv("append", ["k", 1]))
    with pytest.raises(TargetError, match="unknown node"):
        RegisterClient(addrs).open(None, "n7")


def test_register_client_timeout_on_write_is_info(node_addrs: dict) -> None:
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts the connection, never answers
    try:
        addrs = {"n1": NodeAddr("n1", "127.0.0.1", "127.0.0.1", listener.getsockname()[1], "/x")}
        c = RegisterClient(addrs, timeout=0.2).open(None, "n1")
        assert c.invoke(None, _inv("write", ["k", 1])).type == "info"
        assert c.invoke(None, _inv("read", ["k", None])).type == "fail"
    finally:
        listener.close()


def test_orders_client_reads_a_ledger_on_every_node(node_addrs: dict) -> None:
    c = OrdersClient(node_addrs, timeout=1.0).open(None, "n1")
    r = c.invoke(None, _inv("read-ledger", {"service": "payment"}))
    assert r.type == "ok" and r.value["ledgers"] == {"n1": {"rows": [{"key": "charge:order-1"}]}}
    r = c.invoke(None, _inv("read", {"order_id": "order-9"}))
    assert r.type == "ok" and r.value["order"] is None
    assert c.invoke(None, _inv("read-ledger", {"service": "bank"})).type == "fail"


def test_orders_client_accepted_cancel_is_ok_and_refusals_are_classified(node_addrs: dict) -> None:
    c = OrdersClient(node_addrs, timeout=1.0).open(None, "n1")
    FakeNode.script["/orders/order-1/cancel"] = (202, {"order_id": "order-1", "cancel_requested": True})
    r = c.invoke(None, _inv("cancel", {"order_id": "order-1"}))
    assert r.type == "ok" and r.value["result"]["cancel_requested"] is True
    FakeNode.script["/orders/order-1/cancel"] = (409, {"error": "already shipped"})
    assert c.invoke(None, _inv("cancel", {"order_id": "order-1"})).type == "fail"
    FakeNode.script["/orders"] = (503, {"error": "no quorum", "definite": False})
    assert c.invoke(None, _inv("place", {"order_id": "order-2", "sku": "a", "qty": 1, "amount": 5})).type == "info"


# -- workloads and the run's generator, on simulate's virtual clock ---------------


def _sim(gen: Any, test: Any, *, concurrency: int = 4, seed: int = 1) -> list[Op]:
    from harness.generator import invoke_op, simulate

    def complete(template: dict) -> tuple:
        test.history.append(invoke_op(template, 0, 0))  # what the runner's record() keeps
        return "ok", template.get("value")

    return simulate(gen, test, concurrency=concurrency, seed=seed, complete=complete, max_ops=5000)


class _Test:
    def __init__(self) -> None:
        self.history: list[Op] = []


def test_register_ops_depend_only_on_the_seed() -> None:
    from harness.generator import limit
    from harness.workloads.register import RegisterGen

    def ops(seed: int, concurrency: int) -> list:
        return [(o.f, o.value) for o in _sim(limit(60, RegisterGen(seed)), _Test(), concurrency=concurrency) if o.type == "invoke"]

    assert ops(7, 2) == ops(7, 5)  # same seed: same ops, whatever the thread count
    assert ops(7, 2) != ops(8, 2)
    fs = {f for f, _ in ops(7, 2)}
    assert fs == {"read", "write", "cas"}
    for f, v in ops(7, 2):
        assert isinstance(v, list) and len(v) == 2 and str(v[0]).startswith("k")  # [key, v]
        if f == "cas":
            assert isinstance(v[1], list) and len(v[1]) == 2


def test_register_keys_rotate_so_each_key_history_stays_short() -> None:
    from harness.generator import limit
    from harness.workloads.register import RegisterGen

    history = _sim(limit(40, RegisterGen(3, keys=2, ops_per_key=5)), _Test())
    keys = [o.value[0] for o in history if o.type == "invoke"]
    assert {k.rsplit("-", 1)[1] for k in keys[:10]} == {"0"}
    assert {k.rsplit("-", 1)[1] for k in keys[10:20]} == {"1"}
    assert len(set(keys)) <= 8


def test_the_run_generator_has_main_recovery_and_final_reads() -> None:
    import threading

    from harness.runner import build_generator
    from harness.spec import TestSpec
    from harness.targets.pipeline.workloads import WORKLOADS

    spec = TestSpec(workload="register", time_limit=1.0, rate=50, recovery_time=2.0, keys=3, seed=4)
    workload = WORKLOADS[spec.workload].build(spec, local_addrs(["n1", "n2", "n3"], "/r"))
    history = _sim(build_generator(spec, workload, threading.Event()), _Test())
    main = [o for o in history if o.type == "invoke" and o.time < 1e9]
    final = [o for o in history if o.type == "invoke" and o.time >= 1e9]
    assert 25 <= len(main) <= 80  # about rate x time
    main_done = max(o.time for o in history if o.time < 1.1e9)
    assert min(o.time for o in final) >= main_done + 2e9  # the recovery wait
    assert sorted(o.value[0] for o in final) == sorted({o.value[0] for o in main})
    assert all(o.f == "read" for o in final)


def test_a_set_stop_event_ends_the_main_phase_but_not_the_final_reads() -> None:
    import threading

    from harness.generator.history import UntilSet
    from harness.runner import build_generator
    from harness.spec import TestSpec
    from harness.targets.pipeline.workloads import WORKLOADS

    spec = TestSpec(workload="orders", time_limit=60.0, rate=100, recovery_time=0.5, seed=2)
    workload = WORKLOADS[spec.workload].build(spec, local_addrs(["n1", "n2", "n3"], "/r"))
    stop = threading.Event()
    test = _Test()
    test.history = [Op(0, 0, 0, "invoke", "place", {"order_id": "order-2-1"})]  # placed before Ctrl-C
    stop.set()
    history = _sim(build_generator(spec, workload, stop), test)
    assert [(o.f, o.value.get("order_id") or o.value.get("service")) for o in history if o.type == "invoke"] == [
        ("quiesce", None), ("read", "order-2-1"), ("read-ledger", "payment"), ("read-ledger", "inventory"), ("read-ledger", "shipping")]
    assert UntilSet(stop, [{"f": "read"}]).op(None, None) is None


def test_skewed_nodes_start_under_libfaketime_with_a_reset_clock_file(tmp_path: Path) -> None:
    remote = FakeRemote()
    remote.faketime = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1\n"
    t = PipelineTarget(remote, local_addrs(["n1", "n2", "n3"], "/r", base_port=1), skew=True, clock="libfaketime")
    t.start(None, "n2")
    (_, (_, _, _, env, _)), = remote.spawned.items()
    assert env["LD_PRELOAD"] == "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"
    assert env["FAKETIME_TIMESTAMP_FILE"] == t.clock_file("n2") == "/r/n2/faketime"
    assert env["FAKETIME_NO_CACHE"] == "1" and env["FAKETIME_DONT_FAKE_MONOTONIC"] == "1"
    assert remote.uploaded_text[("n2", "/r/n2/faketime")] == "+0s\n"


def test_skewed_nodes_read_their_offset_themselves_by_default() -> None:
    remote = FakeRemote()
    t = PipelineTarget(remote, local_addrs(["n1", "n2", "n3"], "/r", base_port=1), skew=True)
    t.start(None, "n1")
    (_, (_, _, _, env, _)), = remote.spawned.items()
    assert "LD_PRELOAD" not in env and env["SEAM_CLOCK_FILE"] == t.clock_file("n1") == "/r/n1/faketime"
    assert remote.uploaded_text[("n1", "/r/n1/faketime")] == "+0s\n"


def test_the_clock_shim_follows_the_file_and_leaves_monotonic_time_alone(tmp_path: Path) -> None:
    import time

    from target import clockshim

    f = tmp_path / "faketime"
    f.write_text("+0s\n")
    offset = clockshim.FileOffset(str(f), every=0.0)
    assert offset.seconds() == 0.0
    f.write_text("-30s\n")
    import os

    os.utime(f, ns=(time.time_ns(), time.time_ns() + 10**9))  # a new mtime even on coarse clocks
    assert offset.seconds() == -30.0
    f.write_text("garbage")
    os.utime(f, ns=(time.time_ns(), time.time_ns() + 2 * 10**9))
    assert offset.seconds() == -30.0  # a half-written file keeps the last offset
    assert clockshim.parse_offset("+12.5s") == 12.5
    with pytest.raises(ValueError):
        clockshim.parse_offset("12")


def test_without_skew_there_is_no_clock_file_and_no_preload() -> None:
    remote = FakeRemote()
    t = PipelineTarget(remote, local_addrs(["n1", "n2", "n3"], "/r", base_port=1))
    t.start(None, "n1")
    (_, (_, _, _, env, _)), = remote.spawned.items()
    assert "LD_PRELOAD" not in env
    with pytest.raises(UnsupportedError, match="without a skewable clock"):
        t.clock_file("n1")


def test_missing_libfaketime_names_the_node_and_the_fix() -> None:
    t = PipelineTarget(FakeRemote(), local_addrs(["n1", "n2", "n3"], "/r", base_port=1), skew=True, clock="libfaketime")
    with pytest.raises(TargetError, match="n3: libfaketime not found.*apt-get install libfaketime"):
        t.start(None, "n3")


def test_app_faults_on_a_dead_node_are_a_target_error() -> None:
    t = PipelineTarget(FakeRemote(), local_addrs(["n1", "n2", "n3"], "/r", base_port=1))
    with pytest.raises(TargetError, match="n1: POST /admin/fault failed"):
        t.inject_fault(None, "n1", {"kind": "lost-response", "service": "payment", "op": "refund"})


def test_a_nemesis_schedule_runs_beside_the_main_phase_and_its_final_ops_after() -> None:
    import threading

    from harness.generator import cycle, nemesis, sleep
    from harness.runner import build_generator
    from harness.spec import TestSpec
    from harness.targets.pipeline.workloads import WORKLOADS

    spec = TestSpec(workload="register", time_limit=2.0, rate=20, recovery_time=1.0, keys=2, seed=4)
    workload = WORKLOADS[spec.workload].build(spec, local_addrs(["n1", "n2", "n3"], "/r"))
    schedule = nemesis(cycle([sleep(0.5), {"f": "start-partition"}, sleep(0.5), {"f": "stop-partition"}]))
    final = nemesis([{"f": "stop-partition", "value": "final"}])
    gen = build_generator(spec, workload, threading.Event(), schedule, final)
    history = _sim(gen, _Test())
    faults = [o for o in history if o.process == "nemesis" and o.type == "invoke"]
    clients_done = max(o.time for o in history if o.process != "nemesis" and o.time < 2.5e9)
    assert [o.f for o in faults[:2]] == ["start-partition", "stop-partition"]
    assert all(o.time < 2e9 for o in faults[:-1])  # the schedule ends with the main phase
    assert faults[-1].value == "final" and faults[-1].time >= clients_done  # then the final heal
    final_reads = [o for o in history if o.process != "nemesis" and o.type == "invoke" and o.time > faults[-1].time]
    assert final_reads and min(o.time for o in final_reads) >= faults[-1].time + 1e9  # after the recovery wait


def test_teardown_never_removes_a_directory_it_did_not_name() -> None:
    remote = FakeRemote()
    t = PipelineTarget(remote, local_addrs(["n1", "n2", "n3"], "/home/me", base_port=1))
    t.teardown(None, "n1")
    assert not [c for c in remote.calls if c[:3] == ("run", "n1", "rm")]
