"""LocalRemote runs real processes: results, errors, detached spawn, signals, copies."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from harness.control.local import LocalRemote, pid_alive
from harness.core.errors import RemoteError, UnreachableError
from harness.core.protocols import Remote


def wait_until(cond, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.01)
    return cond()


@pytest.fixture
def remote():
    r = LocalRemote()
    yield r
    r.close()


def test_is_a_remote(remote):
    assert isinstance(remote, Remote)


def test_run_returns_status_stdout_stderr_and_takes_stdin(remote):
    res = remote.run(
        "n1",
        [
            sys.executable,
            "-c",
            "import sys; d = sys.stdin.read(); print(d.upper()); print('warn', file=sys.stderr)",
        ],
        stdin=b"abc",
    )
    assert (res.node, res.status, res.stdout, res.stderr) == ("n1", 0, "ABC\n", "warn\n")
    assert res.argv[0] == sys.executable


def test_failure_names_node_command_status_stderr_and_fix(remote):
    with pytest.raises(RemoteError) as e:
        remote.run("n3", ["sh", "-c", "echo boom >&2; exit 7"])
    err = e.value
    assert (err.node, err.status, err.stderr) == ("n3", 7, "boom\n")
    msg = str(err)
    assert "n3" in msg and "exited 7" in msg and "boom" in msg and "fix:" in msg and "sh -c" in msg
    assert not isinstance(err, UnreachableError)


def test_false_gives_status_1_and_check_false_returns_it(remote):
    with pytest.raises(RemoteError) as e:
        remote.run("n1", ["false"])
    assert e.value.status == 1
    assert remote.run("n1", ["false"], check=False).status == 1


def test_timeout_is_enforced(remote):
    t0 = time.monotonic()
    with pytest.raises(RemoteError) as e:
        remote.run("n1", ["sleep", "10"], timeout=0.3)
    assert e.value.status is None and "timed out" in str(e.value)
    assert time.monotonic() - t0 < 5


def test_missing_program_is_status_127_with_a_fix(remote):
    with pytest.raises(RemoteError) as e:
        remote.run("n2", ["seam-no-such-program-xyz"])
    assert e.value.status == 127 and "install" in e.value.fix


def test_spawn_detaches_logs_and_returns_the_real_pid(remote, tmp_path):
    log = tmp_path / "logs" / "svc.log"
    script = "import os, sys, time; print('out', os.environ['SEAM_T'], os.getcwd(), flush=True); print('err', file=sys.stderr, flush=True); time.sleep(30)"
    pid = remote.spawn(
        "n1", [sys.executable, "-c", script], str(log), env={"SEAM_T": "v 1"}, cwd=str(tmp_path)
    )
    try:
        assert wait_until(lambda: "err" in (log.read_text() if log.exists() else ""))
        text = log.read_text()
        assert f"out v 1 {tmp_path}" in text and "err" in text
        # the pid is the service itself (no wrapper shell), in a session of its own
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        assert cmdline[0] == sys.executable.encode() and cmdline[2] == script.encode()
        assert os.getsid(pid) == pid != os.getsid(0)
        assert remote.alive("n1", pid)
    finally:
        remote.signal("n1", pid, signal.SIGKILL)
    assert wait_until(lambda: not remote.alive("n1", pid))


def test_spawned_service_survives_close(remote, tmp_path):
    pid = remote.spawn("n1", ["sleep", "30"], str(tmp_path / "s.log"))
    remote.close()
    try:
        assert LocalRemote().alive("n1", pid)
    finally:
        os.kill(pid, signal.SIGKILL)
    assert wait_until(lambda: not remote.alive("n1", pid))


def test_killed_child_is_not_reported_alive_while_a_zombie(remote, tmp_path):
    pid = remote.spawn("n1", ["sleep", "30"], str(tmp_path / "z.log"))
    os.kill(pid, signal.SIGKILL)
    assert wait_until(lambda: not remote.alive("n1", pid))
    assert not pid_alive(pid)


def test_signal_to_a_gone_process_is_a_remote_error(remote, tmp_path):
    pid = remote.spawn("n1", ["true"], str(tmp_path / "t.log"))
    assert wait_until(lambda: not remote.alive("n1", pid))
    with pytest.raises(RemoteError, match="no process"):
        remote.signal("n1", pid, signal.SIGTERM)


def test_spawn_of_a_missing_program_fails_clearly(remote, tmp_path):
    with pytest.raises(RemoteError) as e:
        remote.spawn("n4", ["seam-no-such-program-xyz"], str(tmp_path / "x.log"))
    assert e.value.node == "n4" and e.value.status == 127


def test_upload_and_download_files_and_directories(remote, tmp_path):
    src = tmp_path / "src"
    (src / "sub dir").mkdir(parents=True)
    (src / "a.txt").write_text("A")
    (src / "sub dir" / "b.bin").write_bytes(bytes(range(256)))
    (src / "run.sh").write_text("#!/bin/sh\n")
    (src / "run.sh").chmod(0o755)
    remote.upload("n1", src, str(tmp_path / "node" / "app"))
    assert (tmp_path / "node" / "app" / "sub dir" / "b.bin").read_bytes() == bytes(range(256))
    assert os.access(tmp_path / "node" / "app" / "run.sh", os.X_OK)
    remote.upload("n1", src / "a.txt", str(tmp_path / "node" / "single" / "a.txt"))
    assert (tmp_path / "node" / "single" / "a.txt").read_text() == "A"
    remote.download("n1", str(tmp_path / "node" / "app"), tmp_path / "back")
    assert (tmp_path / "back" / "a.txt").read_text() == "A"
    with pytest.raises(RemoteError, match="no such file"):
        remote.download("n1", str(tmp_path / "missing"), tmp_path / "x")
