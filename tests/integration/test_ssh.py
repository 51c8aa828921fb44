"""The SSH Remote against real sshds inside namespaces, with paramiko."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from harness.control.retry import RetryingRemote
from harness.control.ssh import SshHost, SshRemote
from harness.core.errors import RemoteError, UnreachableError
from harness.core.protocols import Remote
from tests.integration import cluster_fixture

ssh_cluster = cluster_fixture.ssh_cluster  # the fixture, under its own name

pytestmark = [pytest.mark.root, pytest.mark.netns, pytest.mark.ssh]

AWKWARD = ["two words", "$HOME;`echo x`", 'it\'s "q"', "new\nline", "ü ☃ 🚀", "", "*", "a|b&&c"]


@pytest.fixture
def remote(ssh_cluster):
    r = SshRemote(ssh_cluster.ssh_hosts())
    yield r
    r.close()


def test_runs_inside_the_node_with_verified_host_keys(remote, ssh_cluster):
    assert isinstance(remote, Remote)
    for n in ssh_cluster.node_infos():
        res = remote.run(n.name, ["ip", "-4", "-o", "addr", "show", "eth0"])
        assert f"{n.address}/" in res.stdout  # it ran in that node's namespace
    assert ssh_cluster.known_hosts.read_text().count("ssh-ed25519") == 3


def test_awkward_argv_stdin_and_pooling(remote):
    out = remote.run(
        "n1", [sys.executable, "-c", "import json, sys; print(json.dumps(sys.argv[1:]))", *AWKWARD]
    ).stdout
    assert json.loads(out) == AWKWARD
    assert remote.run("n1", ["tr", "a-z", "A-Z"], stdin=b"hello").stdout == "HELLO"
    first = remote.connection("n1")
    remote.run("n1", ["true"])
    assert remote.connection("n1") is first  # one pooled connection per node


def test_errors_name_node_command_status_stderr_and_fix(remote):
    with pytest.raises(RemoteError) as e:
        remote.run("n2", ["false"])
    assert (e.value.node, e.value.status) == ("n2", 1) and not isinstance(e.value, UnreachableError)
    with pytest.raises(RemoteError) as e:
        remote.run("n2", ["sh", "-c", "echo disk full >&2; exit 5"])
    msg = str(e.value)
    assert "n2" in msg and "exited 5" in msg and "disk full" in msg and "fix:" in msg
    assert remote.run("n2", ["false"], check=False).status == 1
    with pytest.raises(RemoteError, match="timed out"):
        remote.run("n2", ["sleep", "5"], timeout=0.5)
    assert remote.run("n2", ["echo", "still fine"]).stdout == "still fine\n"


def test_spawn_signal_alive(remote, ssh_cluster, tmp_path):
    log = str(tmp_path / "svc dir" / "out.log")
    pid = remote.spawn(
        "n3",
        [
            sys.executable,
            "-c",
            "import os, time; print('up', os.environ['K'], flush=True); time.sleep(60)",
        ],
        log,
        env={"K": "v;1"},
        cwd=str(tmp_path),
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and "up" not in (
            Path(log).read_text() if Path(log).exists() else ""
        ):
            time.sleep(0.05)
        assert Path(log).read_text() == "up v;1\n"
        # the pid is the service's own, and it lives in n3's namespace, detached from the ssh session
        assert Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0] == sys.executable.encode()
        assert (
            os.stat(f"/proc/{pid}/ns/net").st_ino
            == os.stat(f"/run/netns/{ssh_cluster.namespace(3)}").st_ino
        )
        assert os.stat(f"/proc/{pid}/ns/net").st_ino != os.stat("/proc/self/ns/net").st_ino
        assert os.getsid(pid) == pid
        assert remote.alive("n3", pid)
        remote.signal("n3", pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and remote.alive("n3", pid):
            time.sleep(0.05)
        assert not remote.alive("n3", pid)
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_upload_a_directory_and_download_files_and_directories(remote, tmp_path):
    src = tmp_path / "app"
    (src / "pkg" / "deep").mkdir(parents=True)
    (src / "main.py").write_text("print('main')\n")
    (src / "pkg" / "deep" / "data.bin").write_bytes(bytes(range(256)) * 100)
    (src / "run.sh").write_text("#!/bin/sh\necho ran\n")
    (src / "run.sh").chmod(0o755)
    dst = (
        tmp_path / "node1" / "opt app"
    )  # a path on the node (the filesystem is shared, so we can look)
    remote.upload("n1", src, str(dst))
    assert (dst / "pkg" / "deep" / "data.bin").read_bytes() == bytes(range(256)) * 100
    assert remote.run("n1", [str(dst / "run.sh")]).stdout == "ran\n"
    remote.upload("n1", src / "main.py", str(tmp_path / "node1" / "single" / "m.py"))
    assert (tmp_path / "node1" / "single" / "m.py").read_text() == "print('main')\n"
    remote.download("n1", str(dst / "main.py"), tmp_path / "back" / "main.py")
    assert (tmp_path / "back" / "main.py").read_text() == "print('main')\n"
    remote.download("n1", str(dst), tmp_path / "back" / "tree")
    assert (tmp_path / "back" / "tree" / "pkg" / "deep" / "data.bin").read_bytes() == bytes(
        range(256)
    ) * 100
    with pytest.raises(RemoteError) as e:
        remote.download("n1", str(tmp_path / "nope"), tmp_path / "x")
    assert e.value.node == "n1" and "nope" in str(e.value)
    with pytest.raises(RemoteError, match="no such file"):
        remote.upload("n1", tmp_path / "missing", "/tmp/x")


def test_unreachable_hosts_and_host_key_checks(ssh_cluster, tmp_path, caplog):
    good = ssh_cluster.ssh_hosts()["n1"]
    nobody = replace(
        good, host=ssh_cluster.address(50), connect_timeout=1.0
    )  # in the subnet, no node there
    refused = replace(good, port=2222)
    empty_kh = tmp_path / "known_hosts"
    empty_kh.write_text("")
    unknown_key = replace(good, known_hosts=str(empty_kh))
    cases = {
        "nobody": (nobody, "cannot connect"),
        "refused": (refused, "cannot connect"),
        "unknown": (unknown_key, "--ssh-insecure"),
    }
    r = SshRemote({k: v[0] for k, v in cases.items()})
    try:
        for node, (_, words) in cases.items():
            t0 = time.monotonic()
            with pytest.raises(UnreachableError) as e:
                r.run(node, ["true"])
            assert e.value.node == node and words in str(e.value), str(e.value)
            assert time.monotonic() - t0 < 8
    finally:
        r.close()
    # insecure accepts the unknown key, says so, and leaves the known_hosts file alone
    with caplog.at_level(logging.WARNING, logger="seam.ssh"):
        r = SshRemote({"n1": replace(unknown_key, insecure=True)})
        assert r.run("n1", ["echo", "in"]).stdout == "in\n"
        r.close()
    assert any("insecure" in rec.getMessage() for rec in caplog.records)
    assert empty_kh.read_text() == ""


def test_wrong_host_key_and_wrong_client_key(ssh_cluster, tmp_path):
    good = ssh_cluster.ssh_hosts()["n1"]
    # n2's key claimed for n1's address: a man in the middle, as far as the client can tell
    lines = ssh_cluster.known_hosts.read_text().splitlines()
    n2_key = lines[1].split(" ", 1)[1]
    wrong = tmp_path / "wrong_known_hosts"
    wrong.write_text(f"{good.host} {n2_key}\n")
    other_key = tmp_path / "other_key"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other_key)], check=True
    )
    r = SshRemote(
        {
            "mitm": replace(good, known_hosts=str(wrong)),
            "badkey": replace(good, key_file=str(other_key)),
        }
    )
    try:
        with pytest.raises(UnreachableError, match="does not match"):
            r.run("mitm", ["true"])
        with pytest.raises(UnreachableError, match="authentication failed"):
            r.run("badkey", ["true"])
    finally:
        r.close()


def test_a_dropped_connection_is_reopened_and_retry_wraps_unreachable(remote, ssh_cluster):
    conn = remote.connection("n2")
    conn.client.get_transport().close()
    assert remote.run("n2", ["echo", "again"]).stdout == "again\n"
    assert remote.connection("n2") is not conn
    waits: list[float] = []
    down = SshRemote(
        {
            "n9": SshHost(
                ssh_cluster.address(60),
                key_file=str(ssh_cluster.client_key),
                known_hosts=str(ssh_cluster.known_hosts),
                connect_timeout=0.5,
            )
        }
    )
    with pytest.raises(UnreachableError):
        RetryingRemote(down, attempts=3, backoff=0.01, sleep=waits.append).run("n9", ["true"])
    assert waits == [0.01, 0.02]
