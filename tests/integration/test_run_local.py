"""`seam test` end to end on local node processes: real target/ nodes, real sockets.

Every test runs the real command in a subprocess and, whatever happens,
stops the node processes that run started (their pids are in its seam.log).
The helpers here are shared by the other run tests.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO

STARTED = re.compile(r"started (\S+): pid (\d+)")


def seam(*args: str, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PYTHONPATH": str(REPO)})


def seam_popen(*args: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "harness.cli", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})


def run_dirs(results: Path) -> list[Path]:
    return sorted(p for p in results.glob("*/*") if p.is_dir() and not p.is_symlink() and p.name[:8].isdigit())


def node_pids(run_dir: Path) -> list[int]:
    log = run_dir / "seam.log"
    return [int(m.group(2)) for m in STARTED.finditer(log.read_text())] if log.exists() else []


def _is_node(pid: int) -> bool:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return b"target.node" in cmd and stat[stat.rfind(")") + 2] not in "ZX"


def stop_nodes(results: Path) -> list[int]:
    """SIGKILL every node process a run under ``results`` started and that still runs; remove
    the runs' node directories. Returns the pids that were still alive (a test failure)."""
    alive = []
    for d in run_dirs(results):
        for pid in node_pids(d):
            if _is_node(pid):
                alive.append(pid)
                os.kill(pid, signal.SIGKILL)
        test_json = d / "test.json"
        try:
            nodes = json.loads(test_json.read_text()).get("nodes", {})
        except (OSError, ValueError):
            nodes = {}
        for info in nodes.values():
            root = Path(info["workdir"]).parent
            if root.name.startswith("seam-"):
                shutil.rmtree(root, ignore_errors=True)
    return alive


def assert_well_formed(run_dir: Path) -> list:
    """The history parses and pairs; every invoke completed; a process never acts after info."""
    from harness.formats.jsonl import read_jsonl

    path = run_dir / "history.jsonl"
    history = read_jsonl(path.read_text(), source=str(path))  # validates pairing
    assert len(history) > 0
    assert [op.index for op in history] == list(range(len(history)))
    times = [op.time for op in history]
    assert times == sorted(times), "op times must follow the order the control node saw them"
    for invoke, done, _, _ in history.pairs():
        assert done is not None, f"invoke {invoke.index} ({invoke.f} by {invoke.process}) never completed"
        assert done.f == invoke.f
    retired: set = set()
    for op in history.client_ops:
        assert op.process not in retired, f"process {op.process} acts at op {op.index} after its info"
        if op.type == "info":
            retired.add(op.process)
    return list(history)


def assert_prefix_lines(data: bytes) -> list[dict]:
    """Every line of a history is whole JSON, and it ends with a newline (no torn write)."""
    assert data.endswith(b"\n"), "the last line is torn"
    rows = [json.loads(line) for line in data.splitlines()]
    assert [r["index"] for r in rows] == list(range(len(rows)))
    return rows


def outcome_files(run_dir: Path) -> dict:
    for name in ("test.json", "results.json", "seam.log", "history.jsonl"):
        assert (run_dir / name).is_file(), f"{name} missing in {run_dir}"
    return json.loads((run_dir / "results.json").read_text())


@pytest.fixture
def results(tmp_path: Path):
    out = tmp_path / "results"
    yield out
    left = stop_nodes(out)
    assert not left, f"node processes still running after the run: {left}"


@pytest.mark.slow
def test_short_register_run_records_a_well_formed_history_and_a_verdict(results: Path, tmp_path: Path) -> None:
    r = seam("test", "--workload", "register", "--time-limit", "6", "--concurrency", "6", "--rate", "150",
             "--seed", "11", "--results", str(results), "--no-progress", cwd=tmp_path)
    assert r.returncode in (0, 1, 2), r.stderr
    (run_dir,) = run_dirs(results)
    assert f"results: {run_dir}" in r.stdout and "verdict: " in r.stdout
    data = outcome_files(run_dir)
    assert {0: True, 1: False, 2: "unknown"}[r.returncode] == data["valid"]
    assert data["checkers"]["linearizable"]["stats"]["model"] == "cas-register"
    ops = assert_well_formed(run_dir)
    assert data["run"]["ops"] == len(ops)
    # Final reads: after the main phase and the recovery wait, one read of every active key.
    test = json.loads((run_dir / "test.json").read_text())
    assert test["seed"] == 11 and test["options"]["time_limit"] == 6
    # time_limit counts from the main phase's first op; the recovery wait (2 s) separates the reads
    main_end = min(o.time for o in ops if o.type == "invoke") + 6e9
    late = [o for o in ops if o.time > main_end + 1e9 and o.type == "invoke"]
    assert late and all(o.f == "read" for o in late)
    for n in ("n1", "n2", "n3", "n4", "n5"):
        files = {p.name for p in (run_dir / "nodes" / n).iterdir()}
        assert {"node.log", "node.json", "metrics.json", "stdout.log"} <= files, (n, files)
    assert os.readlink(results / "latest") == f"register/{run_dir.name}"
    # Stopped by pid at the end, and the node directories are gone.
    pids = node_pids(run_dir)
    assert len(pids) == 5 and not any(_is_node(p) for p in pids)
    assert all(not Path(i["workdir"]).exists() for i in test["nodes"].values())


@pytest.mark.slow
def test_ctrl_c_ends_the_main_phase_and_still_checks(results: Path, tmp_path: Path) -> None:
    proc = seam_popen("test", "--time-limit", "60", "--seed", "5", "--results", str(results), "--no-progress", cwd=tmp_path)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            hist = list(results.glob("register/*/history.jsonl"))
            if hist and hist[0].stat().st_size > 5000:
                break
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode in (0, 1, 2), err
    assert "Ctrl-C: ending the main phase" in err
    (run_dir,) = run_dirs(results)
    data = outcome_files(run_dir)
    assert data["run"]["interrupted"] is True and data["run"]["seconds"] < 30
    ops = assert_well_formed(run_dir)
    assert ops[-1].f == "read"  # the final reads still ran


def _nodes_file(tmp_path: Path) -> str:
    f = tmp_path / "nodes.txt"
    f.write_text("10.0.0.5\n$(reboot)\n")
    return str(f)


BAD_INPUT = {
    "unknown workload": (["--workload", "bank"], "unknown workload 'bank'"),
    "unknown nemesis": (["--nemesis", "partition,meteor"], "unknown nemesis"),
    "unknown bug": (["--bug", "no-such-bug"], "unknown bug 'no-such-bug'"),
    "unknown scenario": (["--scenario", "black-friday"], "unknown scenario 'black-friday'"),
    "unknown netns node": (["--cluster", "netns", "--nodes", "n1,db7"], "unknown node 'db7'"),
    "too few ssh hosts": (["--cluster", "ssh", "--nodes", "h1,h2"], "give at least 3 hosts"),
    "garbage nodes file": (["--cluster", "ssh", "--nodes-file", "NODES"], "nodes.txt:2: '$(reboot)' is not a host name"),
    "bad cluster kind": (["--cluster", "docker"], "--cluster 'docker'"),
    "unreachable node": (["--cluster", "ssh", "--nodes", "127.0.0.1,127.0.0.2,127.0.0.3", "--ssh-port", "1", "--ssh-insecure"], "127.0.0.1"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_is_one_line_and_exit_3_with_nothing_left_running(case: str, results: Path, tmp_path: Path) -> None:
    args, fragment = BAD_INPUT[case]
    args = [_nodes_file(tmp_path) if a == "NODES" else a for a in args]
    if case == "unknown netns node" and os.geteuid() != 0:
        fragment = "needs root"
    r = seam("test", *args, "--time-limit", "5", "--results", str(results), "--no-progress", cwd=tmp_path, timeout=60)
    assert r.returncode == 3, (r.stdout, r.stderr)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("seam: ") and fragment in lines[0], lines[0]
    assert "Traceback" not in r.stderr
    for d in run_dirs(results):
        assert node_pids(d) == [], "a node was started for bad input"


FAKE_NODE = '''
import argparse, json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
ap = argparse.ArgumentParser()
ap.add_argument("--config")
cfg = json.load(open(ap.parse_args().config))
if cfg["node"] == "n3":
    sys.exit("boom: n3 cannot start")
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"{}")
    def log_message(self, *a): pass
HTTPServer((cfg["host"], cfg["port"]), H).serve_forever()
'''


def test_a_node_that_cannot_start_is_exit_3_and_the_others_are_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness import runner
    from harness.assemble import build_plan
    from harness.spec import TestSpec
    from harness.targets.pipeline.adapter import PipelineTarget

    source = tmp_path / "src" / "target"
    source.mkdir(parents=True)
    (source / "__init__.py").write_text("")
    (source / "node.py").write_text(FAKE_NODE)
    results = tmp_path / "results"
    plan = build_plan(TestSpec(time_limit=2, results=str(results)))
    monkeypatch.setattr(plan, "make_target", lambda remote, addrs: PipelineTarget(remote, dict(addrs), source=source, grace=1.0))
    try:
        outcome = runner.run_test(plan, progress=False, install_sigint=False)
        assert outcome.exit_code == 3 and outcome.valid is None
        assert "n3: target.node exited during start-up" in outcome.error and "boom: n3 cannot start" in outcome.error
        (run_dir,) = run_dirs(results)
        data = json.loads((run_dir / "results.json").read_text())
        assert data["valid"] is None and "boom" in data["error"]
        assert "boom" in (run_dir / "nodes" / "n3" / "stdout.log").read_text()  # collected though it failed
        pids = node_pids(run_dir)
        assert len(pids) == 5
        alive = [p for p in pids if _is_node(p)]
        assert not alive, f"still running after a failed setup: {alive}"
    finally:
        for d in run_dirs(results):
            for pid in node_pids(d):
                if _is_node(pid):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)


@pytest.fixture
def three_nodes(tmp_path: Path):
    """Three real target/ nodes on local processes, stopped by pid at the end."""
    from harness.assemble.nodes import free_local_addrs as _free_local_addrs
    from harness.control.local import LocalRemote
    from harness.spec import TestSpec
    from harness.targets.pipeline.adapter import PipelineTarget

    addrs = _free_local_addrs(TestSpec(node_count=3), str(tmp_path / "nodes"))
    made: list[PipelineTarget] = []

    def make(**kw) -> PipelineTarget:
        t = PipelineTarget(LocalRemote(), addrs, grace=1.0, **kw)
        made.append(t)
        for n in addrs:
            t.setup(None, n)
        t.wait_ready()
        return t

    yield make
    for t in made:
        t.stop_all()
        for n in t.nodes:
            for pid in t.pids(None, n):
                os.kill(pid, signal.SIGKILL)


def test_skewed_nodes_follow_their_clock_file(three_nodes) -> None:
    from harness.targets.pipeline.adapter import http_json
    from tests.conftest import require_tool

    require_tool("faketime")
    t = three_nodes(skew=True)
    a = t.addrs["n2"]

    def offset() -> float:
        _, body = http_json(a.address, a.port, "GET", "/time", timeout=2)
        return body["wall"] - time.time()

    def settled(low: float, high: float) -> float:
        """The node's offset once it has looked at its file again (every 50 ms)."""
        deadline = time.monotonic() + 2.0
        while not low < (seen := offset()) < high and time.monotonic() < deadline:
            time.sleep(0.05)
        return seen

    assert abs(offset()) < 2
    f = Path(t.clock_file("n2"))  # what the clock nemesis rewrites (local: a shared file)
    f.write_text("+3600s\n")
    assert 3590 < settled(3590, 3610) < 3610
    f.write_text("+0s\n")
    assert abs(settled(-2, 2)) < 2
    _, other = http_json(t.addrs["n1"].address, t.addrs["n1"].port, "GET", "/time", timeout=2)
    assert abs(other["wall"] - time.time()) < 2  # only n2 was skewed


def test_app_faults_are_armed_and_cleared_through_the_admin_secret(three_nodes) -> None:
    from harness.core.errors import TargetError
    from harness.targets.pipeline.adapter import http_json

    t = three_nodes()
    a = t.addrs["n1"]
    t.inject_fault(None, "n1", {"kind": "lost-response", "service": "order", "op": "place", "count": 1})
    _, armed = http_json(a.address, a.port, "GET", "/admin/faults", timeout=2)
    assert armed["faults"], armed
    with pytest.raises(OSError):  # applied, then the connection dropped without a reply
        http_json(a.address, a.port, "POST", "/orders", {"order_id": "o-1", "sku": "sku-a", "qty": 1, "amount": 100}, timeout=5)
    t.clear_faults(None, "n1")
    _, cleared = http_json(a.address, a.port, "GET", "/admin/faults", timeout=2)
    assert not cleared["faults"]
    t.admin_secret = "wrong"
    with pytest.raises(TargetError, match="403"):
        t.clear_faults(None, "n1")


def assert_faults_healed(run_dir: Path, ops: list) -> list:
    """Nemesis ops were recorded, and the fault ledger has nothing left to undo."""
    from nemesis.state import outstanding

    faults = [o for o in ops if o.process == "nemesis"]
    assert faults and all(o.type in ("invoke", "info") for o in faults)
    assert (run_dir / "nemesis.jsonl").is_file()
    assert outstanding(run_dir / "nemesis.jsonl") == []
    return faults


@pytest.mark.slow
def test_kill_and_pause_faults_are_recorded_and_healed(results: Path, tmp_path: Path) -> None:
    r = seam("test", "--time-limit", "10", "--nemesis", "kill,pause", "--nemesis-interval", "1.5", "--seed", "9",
             "--op-timeout", "2", "--results", str(results), "--no-progress", cwd=tmp_path)
    assert r.returncode in (0, 1, 2), r.stderr
    (run_dir,) = run_dirs(results)
    ops = assert_well_formed(run_dir)
    faults = assert_faults_healed(run_dir, ops)
    assert {"kill", "start-pause"} & {o.f for o in faults}
    # The final heal ran last: processes first (pause, then kill's restart), then one heal of everything.
    assert sorted(o.f for o in faults[-6:-2]) == ["start", "start", "stop-pause", "stop-pause"]
    assert [o.f for o in faults[-2:]] == ["heal", "heal"]
    assert faults[-1].value == "healed" and "error" not in faults[-1].extra
    # Killed nodes were restarted under new pids, and every pid (old and new) is gone now.
    pids = node_pids(run_dir)
    assert len(pids) >= 5 and not any(_is_node(p) for p in pids)


@pytest.mark.root
def test_a_partition_between_local_nodes_really_cuts_them_apart(three_nodes) -> None:
    """Local nodes share this host's loopback: they must send from their own 127.0.0.x,
    or rules that name them by address never match (a partition would be a no-op)."""
    import shutil

    from harness.control.local import LocalRemote
    from harness.targets.pipeline.adapter import http_json
    from nemesis.net import Net

    if not (hasattr(os, "geteuid") and os.geteuid() == 0) or shutil.which("iptables") is None:
        pytest.skip("needs root and iptables (make install adds it)")
    t = three_nodes()
    net = Net(LocalRemote(), {n: a.address for n, a in t.addrs.items()}, tag="t")
    isolated = "n3"
    try:
        for node in t.nodes:  # n3 hears no peer, and no peer hears n3
            others = [o for o in t.nodes if o != node]
            net.drop_from(node, [isolated] if node != isolated else others)
        a = t.addrs[isolated]
        status, body = http_json(a.address, a.port, "PUT", "/kv/cut", {"value": 1}, timeout=8)
        assert status != 200, body  # no quorum from behind the partition
        b = t.addrs["n1"]
        status, body = http_json(b.address, b.port, "PUT", "/kv/cut", {"value": 2}, timeout=8)
        assert status == 200, body  # the majority side still writes
    finally:
        for node in t.nodes:
            net.heal(node)
