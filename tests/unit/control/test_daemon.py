"""The daemon helper on real local processes: start once, find again by pid file, stop, kill."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

from harness.control import daemon
from harness.control.local import LocalRemote

SLEEPER = "import sys, time; time.sleep(60)"


@pytest.fixture
def remote():
    r = LocalRemote()
    yield r
    r.close()


def sleeper(tmp_path: Path, marker: str | None = None) -> daemon.Daemon:
    run = tmp_path / "seam-run" / "n1"
    run.mkdir(parents=True)
    return daemon.Daemon("n1", (sys.executable, "-c", SLEEPER, str(run)), str(run / "node.pid"), str(run / "node.log"),
                         marker=marker or str(run))


def test_start_writes_the_pid_file_and_a_second_start_finds_the_same_process(remote, tmp_path):
    d = sleeper(tmp_path)
    first = daemon.start(remote, d)
    try:
        assert Path(d.pidfile).read_text().splitlines() == [str(first), d.mark]
        assert daemon.start(remote, d) == first and daemon.alive(remote, d)
    finally:
        daemon.stop(remote, d)
    assert not remote.alive("n1", first) and not Path(d.pidfile).exists()
    assert daemon.stop(remote, d) is False  # idempotent


def test_a_paused_daemon_still_stops(remote, tmp_path):
    d = sleeper(tmp_path)
    pid = daemon.start(remote, d)
    assert daemon.signal_all(remote, d, signal.SIGSTOP) == [pid]
    assert daemon.stop(remote, d, grace=2.0) is True
    assert not remote.alive("n1", pid)


def test_kill_then_start_runs_a_new_process(remote, tmp_path):
    d = sleeper(tmp_path)
    pid = daemon.start(remote, d)
    assert daemon.kill(remote, d) == [pid] and daemon.pid(remote, d) is None
    again = daemon.start(remote, d)
    try:
        assert again != pid and daemon.alive(remote, d)
    finally:
        daemon.stop(remote, d)


def test_a_pid_file_naming_a_stranger_is_not_the_daemon(remote, tmp_path):
    """A reused pid (here: this test's own process) never counts as the daemon, so it is
    never signalled."""
    d = sleeper(tmp_path, marker="seam-run/n1/a-path-only-the-daemon-has")
    Path(d.pidfile).write_text(f"{__import__('os').getpid()}\n")
    assert daemon.pid(remote, d) is None and daemon.kill(remote, d) == []


def test_stop_all_stops_every_daemon_a_paused_one_too(remote, tmp_path):
    first, second = sleeper(tmp_path / "a"), sleeper(tmp_path / "b")
    pids = [daemon.start(remote, d) for d in (first, second)]
    daemon.signal_all(remote, second, signal.SIGSTOP)
    assert daemon.stop_all(remote, [first, second], grace=2.0) == ["n1", "n1"]
    assert not any(remote.alive("n1", p) for p in pids)
    assert daemon.stop_all(remote, [first, second]) == []  # idempotent


def test_leftovers_finds_every_running_daemon_under_a_run_directory_by_its_pid_file(remote, tmp_path):
    """What `seam heal --stop-nodes` stops: found with no target's help, a stopped one not."""
    running, stopped = sleeper(tmp_path / "a"), sleeper(tmp_path / "b")
    pid = daemon.start(remote, running)
    daemon.start(remote, stopped)
    daemon.kill(remote, stopped)
    try:
        found = daemon.leftovers(remote, "n1", str(tmp_path))
        assert [(f.node, f.pid, f.pidfile) for f in found] == [("n1", pid, running.pidfile)]
    finally:
        daemon.stop(remote, running)
    assert daemon.leftovers(remote, "n1", str(tmp_path)) == []


def test_leftovers_skips_a_pid_file_whose_pid_is_a_stranger_or_has_no_marker(remote, tmp_path):
    """A reused pid (this test's own process) is never a leftover, whatever the file says."""
    import os

    run = tmp_path / "seam-run" / "n1"
    run.mkdir(parents=True)
    (run / "old.pid").write_text(f"{os.getpid()}\n{run}/a-path-only-the-daemon-had\n")
    (run / "older.pid").write_text(f"{os.getpid()}\n")  # written before pid files named their marker
    assert daemon.leftovers(remote, "n1", str(tmp_path)) == []
