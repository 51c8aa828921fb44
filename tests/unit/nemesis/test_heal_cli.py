"""`seam heal` on stored runs of the local kind: real processes and files, no root.

Each run directory is what a dead `seam test` leaves: test.json and a fault
ledger with faults still outstanding. The namespace and iptables cases are in
tests/integration/test_nemesis_crash.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.cli import main
from nemesis.state import Fault, FaultLedger, outstanding


def run_dir(results: Path, name: str = "register", stamp: str = "20261124T030000", *,
            nodes: dict | None = None, control_pid: int | None = None, finished: bool = False) -> Path:
    d = results / name / stamp
    d.mkdir(parents=True)
    root = d / "nodes-on-host" / f"seam-{name}-{stamp}-999999"
    nodes = nodes if nodes is not None else {"n1": {"url": "http://127.0.0.11:1", "workdir": str(root / "n1")}}
    data = {"name": name, "options": {"cluster": "local", "nemesis": ["pause", "clock"]}, "nodes": nodes}
    if control_pid is not None:
        data["control"] = {"pid": control_pid}
    (d / "test.json").write_text(json.dumps(data))
    if finished:
        (d / "results.json").write_text("{}")
    return d


def seam_heal(capsys, *args: str) -> tuple[int, list[str], list[str]]:
    with pytest.raises(SystemExit) as e:
        main(["heal", *args])
        raise SystemExit(0)
    out = capsys.readouterr()
    lines = lambda s: [ln for ln in s.splitlines() if ln.strip()]  # noqa: E731
    return int(e.value.code or 0), lines(out.out), lines(out.err)


def state(pid: int) -> str:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rfind(")") + 2]


@pytest.fixture
def stopped_process():
    """A real child process, stopped with SIGSTOP as a pause leaves it; killed at the end."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    os.kill(proc.pid, signal.SIGSTOP)
    deadline = time.monotonic() + 5
    while state(proc.pid) != "T" and time.monotonic() < deadline:
        time.sleep(0.01)
    yield proc
    proc.kill()
    proc.wait(timeout=10)


def test_heals_a_pause_and_a_clock_then_says_nothing_to_heal(tmp_path, capsys, stopped_process) -> None:
    results = tmp_path / "results"
    d = run_dir(results)
    clock = tmp_path / "faketime"
    clock.write_text("+45s\n")
    ledger = FaultLedger(d / "nemesis.jsonl")
    ledger.applied(Fault("pause", "n1", {"pids": [stopped_process.pid]}))
    ledger.applied(Fault("clock", "n1", {"file": str(clock)}))
    assert state(stopped_process.pid) == "T"

    code, out, err = seam_heal(capsys, "--results", str(results))

    assert code == 0, err
    assert f"{d}: healed clock on n1" in out and f"{d}: healed pause on n1" in out
    assert out[-1] == f"seam heal: healed 2 fault(s) in 1 run(s) under {results}"
    deadline = time.monotonic() + 2  # SIGCONT lands asynchronously
    while state(stopped_process.pid) == "T" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert state(stopped_process.pid) in "RSD"
    assert clock.read_text().strip() == "+0s"
    assert outstanding(d / "nemesis.jsonl") == []
    assert "seam heal: healed pause on n1" in (d / "seam.log").read_text()

    code, out, err = seam_heal(capsys, "--results", str(results))
    assert (code, out, err) == (0, [f"seam heal: nothing to heal under {results}"], [])


def test_a_run_directory_argument_heals_only_that_run(tmp_path, capsys) -> None:
    results = tmp_path / "results"
    first, second = run_dir(results, stamp="20261124T010000"), run_dir(results, stamp="20261124T020000")
    for d in (first, second):
        f = d / "faketime"
        f.write_text("+5s\n")
        FaultLedger(d / "nemesis.jsonl").applied(Fault("clock", "n2", {"file": str(f)}))

    code, out, _ = seam_heal(capsys, str(second))

    assert code == 0 and out[0] == f"{second}: healed clock on n2"
    assert outstanding(second / "nemesis.jsonl") == [] and outstanding(first / "nemesis.jsonl") != []
    assert (first / "faketime").read_text() == "+5s\n"


def test_faults_whose_process_or_files_are_gone_are_settled_with_the_reason(tmp_path, capsys) -> None:
    results = tmp_path / "results"
    d = run_dir(results)  # its node directory (node.json) was never created: torn down
    ledger = FaultLedger(d / "nemesis.jsonl")
    ledger.applied(Fault("kill", "n1", {"role": None}))
    ledger.applied(Fault("app", "n1", {"kind": "lost-response", "service": "payment", "op": "refund"}))
    ledger.applied(Fault("clock", "n1", {"file": str(tmp_path / "removed" / "faketime")}))
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(timeout=10)
    ledger.applied(Fault("pause", "n1", {"pids": [gone.pid]}))

    code, out, err = seam_heal(capsys, "--results", str(results))

    assert code == 0, err
    assert any("nothing to undo for kill on n1: the run directory" in line for line in out)
    assert any("nothing to undo for app on n1" in line for line in out)
    assert any("nothing to undo for clock on n1" in line and "is gone" in line for line in out)
    assert f"{d}: healed pause on n1" in out  # a pid that is gone needs no SIGCONT
    assert not (tmp_path / "removed").exists()  # heal did not recreate a removed run directory
    assert outstanding(d / "nemesis.jsonl") == []


def test_a_fault_that_cannot_be_undone_is_one_line_exit_3_and_stays_outstanding(tmp_path, capsys) -> None:
    results = tmp_path / "results"
    d = run_dir(results)
    FaultLedger(d / "nemesis.jsonl").applied(Fault("meteor", "n1", {}))

    code, out, err = seam_heal(capsys, "--results", str(results))

    assert code == 3
    assert len(err) == 1 and "meteor on n1" in err[0] and "seam heal" in err[0], err
    assert [f.kind for f in outstanding(d / "nemesis.jsonl")] == ["meteor"]


@pytest.mark.parametrize("case", ["no-dir", "no-test-json", "bad-test-json"])
def test_bad_input_is_one_line_and_exit_3(case, tmp_path, capsys) -> None:
    target = tmp_path / "results"
    if case != "no-dir":
        d = target / "register" / "20261124T030000"
        d.mkdir(parents=True)
        FaultLedger(d / "nemesis.jsonl").applied(Fault("clock", "n1", {"file": str(tmp_path / "f")}))
        if case == "bad-test-json":
            (d / "test.json").write_text("{not json")
    code, out, err = seam_heal(capsys, str(target))
    assert code == 3 and len(err) == 1, (out, err)
    assert ("no such directory" if case == "no-dir" else "test.json") in err[0]


def test_a_run_whose_seam_test_still_runs_is_skipped_unless_all(tmp_path, capsys) -> None:
    results = tmp_path / "results"
    # A live process whose command line names seam stands in for the run's `seam test`.
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "seam", "test"])
    try:
        d = run_dir(results, control_pid=live.pid)
        f = d / "faketime"
        f.write_text("+9s\n")
        FaultLedger(d / "nemesis.jsonl").applied(Fault("clock", "n1", {"file": str(f)}))

        code, out, _ = seam_heal(capsys, "--results", str(results))
        assert code == 0 and "still running" in out[0] and f.read_text() == "+9s\n"

        code, out, _ = seam_heal(capsys, "--all", "--results", str(results))
        assert code == 0 and f.read_text().strip() == "+0s"
    finally:
        live.kill()
        live.wait(timeout=10)


def test_help_has_examples(capsys) -> None:
    code, out, _ = seam_heal(capsys, "--help")
    assert code == 0 and any("seam heal results/latest" in line for line in out)


def fake_node(workdir: str) -> subprocess.Popen:
    """A process whose command line is a node's (`-m target.node --config <workdir>/node.json`)."""
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "-m", "target.node",
                             "--config", f"{workdir}/node.json"])


def pid_file(workdir: str, name: str, pid: int) -> None:
    """What the daemon helper writes when it starts a node process: its pid, then its marker."""
    Path(workdir).mkdir(parents=True, exist_ok=True)
    (Path(workdir) / name).write_text(f"{pid}\n{workdir}\n")


def test_stop_nodes_kills_only_the_dead_runs_own_node_processes(tmp_path, capsys) -> None:
    results = tmp_path / "results"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(timeout=10)
    d = run_dir(results, control_pid=dead.pid)
    done = run_dir(results, stamp="20261124T040000", finished=True)
    workdir = json.loads((d / "test.json").read_text())["nodes"]["n1"]["workdir"]
    node, other = fake_node(workdir), subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    finished_node = fake_node(json.loads((done / "test.json").read_text())["nodes"]["n1"]["workdir"])
    procs = [node, other, finished_node]
    try:
        pid_file(workdir, "node.pid", node.pid)
        pid_file(workdir, "other.pid", other.pid)  # its pid is not a process of this run: no marker
        pid_file(json.loads((done / "test.json").read_text())["nodes"]["n1"]["workdir"], "node.pid", finished_node.pid)

        code, out, err = seam_heal(capsys, "--stop-nodes", "--results", str(results))

        assert code == 0, err
        assert out == [f"{d}: stopped n1: pid {node.pid} ({workdir}/node.pid), left running by the dead run",
                       f"seam heal: nothing to heal under {results}; stopped 1 node process(es)"]
        assert node.wait(timeout=5) == -signal.SIGKILL
        assert other.poll() is None and finished_node.poll() is None  # not this run's node / a finished run
    finally:
        for p in procs:
            p.kill()
            p.wait(timeout=10)


def test_heal_ledger_without_a_target_leaves_kills_and_app_faults_outstanding(tmp_path) -> None:
    """Marking a kill healed without restarting anything would hide it from `seam heal`."""
    from harness.core.errors import NemesisError
    from nemesis.heal import heal_ledger

    path = tmp_path / "nemesis.jsonl"
    ledger = FaultLedger(path)
    ledger.applied(Fault("kill", "n2", {"role": None}))
    ledger.applied(Fault("app", "n1", {"kind": "lost-response"}))
    with pytest.raises(NemesisError, match="restarting n2 needs the run's target"):
        heal_ledger(path, remote=None, target=None)  # type: ignore[arg-type]
    assert sorted(f.kind for f in outstanding(path)) == ["app", "kill"]
