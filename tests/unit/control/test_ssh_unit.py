"""SshRemote without a network: a connection that runs each command line in a real `sh -c`.

This proves what SshRemote sends (quoting, sudo, the detached spawn line) by
running it, and how it maps connection failures to errors. The paramiko path
itself is exercised against real sshds in tests/integration/test_ssh.py.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import paramiko
import pytest

from harness.control.ssh import SshHost, SshRemote
from harness.core.errors import RemoteError, UnreachableError
from harness.core.protocols import Remote

_KEY_A, _KEY_B = paramiko.RSAKey.generate(1024), paramiko.RSAKey.generate(1024)
AWKWARD = ["two words", "$HOME;`x`", 'it\'s "q"', "new\nline", "ü ☃", "", "*"]
ECHO = [sys.executable, "-c", "import json, sys; print(json.dumps(sys.argv[1:]))"]


class ShellConnection:
    """Runs what the exec channel would get through the local sh, like a login shell would."""

    def __init__(self, log: list[str], path: str | None = None):
        self.log = log
        self.path = path
        self.open = True

    def exec(self, command: str, stdin: bytes | None, timeout: float):
        self.log.append(command)
        env = {**os.environ, "PATH": f"{self.path}:{os.environ['PATH']}"} if self.path else None
        try:
            p = subprocess.run(
                ["sh", "-c", command],
                input=stdin or b"",
                capture_output=True,
                timeout=timeout,
                env=env,
            )
        except subprocess.TimeoutExpired as e:
            return None, e.stdout or b"", e.stderr or b""
        return p.returncode, p.stdout, p.stderr

    def sftp(self):
        raise paramiko.SSHException("no sftp in the fake")

    def active(self) -> bool:
        return self.open

    def close(self) -> None:
        self.open = False


@pytest.fixture
def fake():
    commands: list[str] = []
    connects: list[str] = []

    def connect(node, host):
        connects.append(node)
        return ShellConnection(commands)

    hosts = {"n1": SshHost("10.0.0.1"), "n 2;$x": SshHost("10.0.0.2")}
    r = SshRemote(hosts, connect=connect)
    yield r, commands, connects
    r.close()


def test_is_a_remote(fake):
    assert isinstance(fake[0], Remote)


def test_awkward_argv_arrives_intact_and_connection_is_pooled(fake):
    r, commands, connects = fake
    for node in ["n1", "n 2;$x", "n1"]:
        assert json.loads(r.run(node, [*ECHO, *AWKWARD]).stdout) == AWKWARD
    assert connects == ["n1", "n 2;$x"]
    assert shlex.split(commands[0]) == [*ECHO, *AWKWARD]


def test_stdin_and_failure_details(fake):
    r, _, _ = fake
    assert r.run("n1", ["tr", "a-z", "A-Z"], stdin=b"abc").stdout == "ABC"
    with pytest.raises(RemoteError) as e:
        r.run("n1", ["sh", "-c", "echo nope >&2; exit 3"])
    assert (e.value.node, e.value.status, e.value.stderr) == ("n1", 3, "nope\n")
    assert "fix:" in str(e.value)
    with pytest.raises(RemoteError) as e:
        r.run("n1", ["seam-no-such-program-xyz"])
    assert e.value.status == 127 and "not installed" in e.value.fix
    with pytest.raises(RemoteError, match="timed out"):
        r.run("n1", ["sleep", "5"], timeout=0.2)


def test_spawn_line_starts_the_service_itself_detached(fake, tmp_path):
    r, _, _ = fake
    log = tmp_path / "a dir" / "svc $1.log"
    pid = r.spawn(
        "n1",
        [
            sys.executable,
            "-c",
            "import os, time; print(os.environ['K'], os.getcwd(), flush=True); time.sleep(30)",
        ],
        str(log),
        env={"K": "v w"},
        cwd=str(tmp_path),
    )
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not (log.exists() and log.read_text()):
            time.sleep(0.01)
        assert log.read_text() == f"v w {tmp_path}\n"
        assert Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0] == sys.executable.encode()
        assert os.getsid(pid) == pid
        assert r.alive("n1", pid)
        r.signal("n1", pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and r.alive("n1", pid):
            time.sleep(0.01)
        assert not r.alive("n1", pid)
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_spawn_in_a_missing_cwd_fails(fake, tmp_path):
    r, _, _ = fake
    with pytest.raises(RemoteError, match="cwd"):
        r.spawn("n1", ["sleep", "1"], str(tmp_path / "l.log"), cwd=str(tmp_path / "missing"))


def test_sudo_wraps_the_same_command_line(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    # a stand-in sudo that insists on non-interactive use and runs the rest
    (bindir / "sudo").write_text(
        '#!/bin/sh\n[ "$1" = -n ] && [ "$2" = -- ] || exit 99\nshift 2\nSEAM_SUDO=1 exec "$@"\n'
    )
    (bindir / "sudo").chmod(0o755)
    commands: list[str] = []
    r = SshRemote(
        {"n1": SshHost("h", sudo=True)}, connect=lambda n, h: ShellConnection(commands, str(bindir))
    )
    out = r.run(
        "n1",
        [
            sys.executable,
            "-c",
            "import json, os, sys; print(json.dumps([os.environ.get('SEAM_SUDO'), sys.argv[1:]]))",
            *AWKWARD,
        ],
    ).stdout
    assert json.loads(out) == ["1", AWKWARD]
    assert commands[0].startswith("sudo -n -- sh -c ")


def test_unknown_node_is_unreachable_and_names_known_ones(fake):
    r, _, _ = fake
    with pytest.raises(UnreachableError) as e:
        r.run("n9", ["true"])
    assert "n9" in str(e.value) and "n1" in str(e.value) and "unreachable" in str(e.value)


@pytest.mark.parametrize(
    "exc, words",
    [
        (paramiko.AuthenticationException("Authentication failed."), "--ssh-key"),
        (paramiko.SSHException("Server '10.0.0.1' not found in known_hosts"), "--ssh-insecure"),
        (paramiko.BadHostKeyException("10.0.0.1", _KEY_A, _KEY_B), "re-provisioned"),
        (ConnectionRefusedError(111, "Connection refused"), "sshd runs"),
        (TimeoutError("timed out"), "sshd runs"),
    ],
)
def test_connect_failures_become_unreachable_with_a_fix(exc, words):
    def connect(node, host):
        raise exc

    r = SshRemote({"n1": SshHost("10.0.0.1", known_hosts="/k/known_hosts")}, connect=connect)
    with pytest.raises(UnreachableError) as e:
        r.run("n1", ["true"])
    assert e.value.node == "n1" and words in str(e.value)


def test_a_dropped_connection_is_reopened_on_the_next_call():
    conns: list[ShellConnection] = []

    class Dropping(ShellConnection):
        def exec(self, command, stdin, timeout):
            if len(conns) == 1:
                raise EOFError("link down")
            return super().exec(command, stdin, timeout)

    def connect(node, host):
        conns.append(Dropping([]))
        return conns[-1]

    r = SshRemote({"n1": SshHost("h")}, connect=connect)
    with pytest.raises(UnreachableError, match="dropped"):
        r.run("n1", ["true"])
    assert not conns[0].open
    assert r.run("n1", ["echo", "back"]).stdout == "back\n"
    assert len(conns) == 2
