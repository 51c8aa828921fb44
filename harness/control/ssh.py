"""The SSH Remote: nodes are hosts reached with paramiko.

One pooled connection per node, opened on first use and reopened after it
drops. Host keys are verified against a known_hosts file by default (the
namespace cluster writes one for its sshds); ``insecure=True`` accepts
unknown keys and logs a warning saying so. Every argv is joined with
``shlex.join`` here, because the exec channel hands one string to the remote
login shell. Files move over SFTP (directories recursively) as the login
user; ``sudo=True`` applies to commands only.

The connection is a small seam of its own (``exec``/``sftp``/``close``), so
unit tests can swap in a connection that runs the command line through a
local ``sh -c`` (see tests/unit/control/test_ssh_unit.py).
"""

from __future__ import annotations

import logging
import os
import posixpath
import socket
import stat
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from harness.control.local import unreachable
from harness.control.quoting import check_argv, sh_join, spawn_command
from harness.core.errors import RemoteError, UnreachableError
from harness.core.protocols import Result

log = logging.getLogger("seam.ssh")

#: sshd's default MaxSessions is 10; stay under it on one pooled connection
MAX_CHANNELS = 8

_ALIVE = 's=$(cat /proc/"$1"/stat 2>/dev/null) || exit 1; case "${s##*) }" in Z*|X*) exit 1;; esac'


@dataclass(frozen=True)
class SshHost:
    """How to reach one node. ``known_hosts=None`` means ``~/.ssh/known_hosts``."""

    host: str
    port: int = 22
    username: str = "root"
    key_file: str | None = None  # None: use the SSH agent and ~/.ssh keys
    known_hosts: str | None = None
    sudo: bool = False
    insecure: bool = False
    connect_timeout: float = 10.0


class Connection(Protocol):
    """What SshRemote needs from a connection: run one command line, SFTP, close."""

    def exec(
        self, command: str, stdin: bytes | None, timeout: float
    ) -> tuple[int | None, bytes, bytes]:
        """(exit status or None on timeout, stdout, stderr). Raises OSError/EOFError if the link drops."""
        ...

    def sftp(self) -> Any: ...

    def active(self) -> bool: ...

    def close(self) -> None: ...


class SshRemote:
    """Remote over SSH; ``hosts`` maps node name to SshHost."""

    kind = "ssh"

    def __init__(
        self,
        hosts: Mapping[str, SshHost],
        *,
        connect: Callable[[str, SshHost], Connection] | None = None,
    ):
        self.hosts = dict(hosts)
        self._connect = connect or ParamikoConnection
        self._pool: dict[str, Connection] = {}
        self._locks: dict[str, threading.Lock] = {n: threading.Lock() for n in self.hosts}
        self._slots: dict[str, threading.BoundedSemaphore] = {
            n: threading.BoundedSemaphore(MAX_CHANNELS) for n in self.hosts
        }

    # -- pool --------------------------------------------------------------------
    def _host(self, node: str, argv: Sequence[str]) -> SshHost:
        try:
            return self.hosts[node]
        except KeyError:
            known = ", ".join(sorted(self.hosts)) or "none"
            raise unreachable(
                node,
                argv,
                f"unknown node {node!r} (known: {known})",
                "use a node from --nodes / --nodes-file",
            ) from None

    def connection(self, node: str, argv: Sequence[str] = ("ssh",)) -> Connection:
        host = self._host(node, argv)
        with self._locks[node]:
            conn = self._pool.get(node)
            if conn is not None and conn.active():
                return conn
            if conn is not None:
                conn.close()
            try:
                conn = self._connect(node, host)
            except RemoteError:
                raise
            except Exception as e:  # paramiko raises many kinds; all mean "cannot reach"
                raise connect_error(node, host, argv, e) from None
            self._pool[node] = conn
            return conn

    def _drop(self, node: str, conn: Connection) -> None:
        with self._locks[node]:
            if self._pool.get(node) is conn:
                del self._pool[node]
        conn.close()

    def _exec(
        self, node: str, argv: Sequence[str], command: str, stdin: bytes | None, timeout: float
    ) -> tuple[int | None, str, str]:
        conn = self.connection(node, argv)
        with self._slots[node]:
            try:
                status, out, err = conn.exec(command, stdin, timeout)
            except (OSError, EOFError) as e:
                self._drop(node, conn)
                h = self.hosts[node]
                raise unreachable(
                    node,
                    argv,
                    f"connection to {h.host}:{h.port} dropped: {e or type(e).__name__}",
                    "check that the node is up and sshd runs; the command may or may not have run",
                ) from None
            except Exception as e:
                if type(e).__module__.startswith("paramiko"):
                    self._drop(node, conn)
                    raise unreachable(
                        node,
                        argv,
                        f"ssh channel failed: {e}",
                        "check sshd on the node (MaxSessions, logs)",
                    ) from None
                raise
        return status, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")

    def _command(self, node: str, line: str) -> str:
        return f"sudo -n -- sh -c {sh_join([line])}" if self.hosts[node].sudo else line

    # -- Remote ------------------------------------------------------------------
    def run(
        self,
        node: str,
        argv: Sequence[str],
        *,
        timeout: float = 60.0,
        check: bool = True,
        stdin: bytes | None = None,
    ) -> Result:
        args = check_argv(argv)
        self._host(node, args)
        status, out, err = self._exec(
            node, args, self._command(node, sh_join(args)), stdin, timeout
        )
        if status is None:
            raise RemoteError(
                node,
                args,
                status=None,
                stderr=err,
                fix=f"the command did not finish in {timeout:g}s; raise timeout= or find why it hangs",
            )
        if check and status != 0:
            raise RemoteError(
                node, args, status=status, stderr=err, fix=_fix_for(status, self.hosts[node])
            )
        return Result(node, args, status, out, err)

    def spawn(
        self,
        node: str,
        argv: Sequence[str],
        log: str,
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
    ) -> int:
        """Start argv detached (setsid + nohup, output appended to log on the node); return its pid."""
        args = check_argv(argv)
        self._host(node, args)
        line = f"mkdir -p {sh_join([posixpath.dirname(log) or '.'])} && {{ {spawn_command(args, log, env=env, cwd=cwd)}; }}"
        status, out, err = self._exec(node, args, self._command(node, line), None, 30.0)
        pid = out.strip().splitlines()[-1] if out.strip() else ""
        if status != 0 or not pid.isdigit():
            raise RemoteError(
                node,
                args,
                status=status,
                stderr=err or out,
                fix=f"could not start it detached; check cwd={cwd!r} and that {log} is writable",
            )
        return int(pid)

    def signal(self, node: str, pid: int, sig: int) -> None:
        self.run(node, ["kill", f"-{int(sig)}", str(int(pid))], timeout=30.0)

    def alive(self, node: str, pid: int) -> bool:
        return (
            self.run(
                node, ["sh", "-c", _ALIVE, "sh", str(int(pid))], timeout=30.0, check=False
            ).status
            == 0
        )

    def upload(self, node: str, src: Path, dst: str) -> None:
        """Put a file at dst, or a directory's contents into dst, over SFTP."""
        src = Path(src)
        argv = ["sftp-put", str(src), dst]
        if not src.exists():
            raise RemoteError(
                node,
                argv,
                status=1,
                stderr=f"{src}: no such file or directory",
                fix="check the local path",
            )
        sftp = self._sftp(node, argv)
        try:
            if src.is_dir():
                _sftp_makedirs(sftp, dst)
                for root, dirs, files in os.walk(src):
                    rel = Path(root).relative_to(src)
                    remote_root = posixpath.join(dst, *rel.parts)
                    for d in dirs:
                        _sftp_makedirs(sftp, posixpath.join(remote_root, d))
                    for f in files:
                        _put(sftp, Path(root) / f, posixpath.join(remote_root, f))
            else:
                _sftp_makedirs(sftp, posixpath.dirname(dst) or ".")
                _put(sftp, src, dst)
        except OSError as e:
            raise RemoteError(
                node,
                argv,
                status=1,
                stderr=str(e),
                fix="check that the destination is writable by the ssh user (sftp does not use sudo)",
            ) from None
        finally:
            sftp.close()

    def download(self, node: str, src: str, dst: Path) -> None:
        """Get the node's file src to dst, or its directory's contents into dst."""
        argv = ["sftp-get", src, str(dst)]
        sftp = self._sftp(node, argv)
        try:
            _get(sftp, src, Path(dst))
        except OSError as e:
            raise RemoteError(
                node, argv, status=1, stderr=f"{src}: {e}", fix="check the path on the node"
            ) from None
        finally:
            sftp.close()

    def close(self) -> None:
        for node in list(self._pool):
            conn = self._pool.pop(node, None)
            if conn is not None:
                conn.close()

    def _sftp(self, node: str, argv: Sequence[str]) -> Any:
        self._host(node, argv)
        conn = self.connection(node, argv)
        try:
            return conn.sftp()
        except Exception as e:
            self._drop(node, conn)
            raise unreachable(
                node,
                argv,
                f"sftp failed to open: {e}",
                "check that sshd has `Subsystem sftp` enabled",
            ) from None


def _fix_for(status: int, host: SshHost) -> str:
    if status == 127:
        return "the program is not installed on the node or not on the login PATH"
    if host.sudo and status == 1:
        return "see stderr; if sudo asked for a password, allow passwordless sudo for the user"
    return "see the command's stderr; pass check=False if a non-zero exit is expected"


def connect_error(node: str, host: SshHost, argv: Sequence[str], e: Exception) -> UnreachableError:
    """Turn paramiko's connect failures into one line that says what to do."""
    name = type(e).__name__
    where = f"{host.username}@{host.host}:{host.port}"
    kh = host.known_hosts or "~/.ssh/known_hosts"
    if name == "BadHostKeyException":
        return unreachable(
            node,
            argv,
            f"host key of {where} does not match {kh}",
            f"if the node was re-provisioned, remove its line from {kh}; otherwise do not connect",
        )
    if name == "AuthenticationException":
        return unreachable(
            node,
            argv,
            f"authentication failed for {where}: {e}",
            "check --username and --ssh-key (or the agent)",
        )
    if "not found in known_hosts" in str(e):
        return unreachable(
            node,
            argv,
            f"host key of {where} is not in {kh}",
            f"add it (ssh-keyscan -p {host.port} {host.host} >> {kh}) or pass --ssh-insecure",
        )
    return unreachable(
        node,
        argv,
        f"cannot connect to {where}: {name}: {e}",
        "check the address and port, and that sshd runs there",
    )


class ParamikoConnection:
    """A real SSH connection (paramiko SSHClient), verifying host keys unless insecure."""

    def __init__(self, node: str, host: SshHost):
        import paramiko

        client = paramiko.SSHClient()
        known = host.known_hosts or os.path.expanduser("~/.ssh/known_hosts")
        if os.path.exists(known):
            # system, not "own" host keys: paramiko never rewrites this file
            client.load_system_host_keys(known)
        if host.insecure:
            log.warning(
                "ssh %s (%s:%d): insecure mode, accepting an unknown host key without verification",
                node,
                host.host,
                host.port,
            )
            client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        else:
            client.set_missing_host_key_policy(paramiko.RejectPolicy())
        sock = socket.create_connection((host.host, host.port), timeout=host.connect_timeout)
        # paramiko writes small packets; without this, Nagle and delayed ACKs add ~40 ms per channel open
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            client.connect(
                host.host,
                port=host.port,
                username=host.username,
                key_filename=host.key_file,
                sock=sock,
                allow_agent=host.key_file is None,
                look_for_keys=host.key_file is None,
                timeout=host.connect_timeout,
                banner_timeout=host.connect_timeout,
                auth_timeout=host.connect_timeout,
            )
        except BaseException:
            client.close()
            sock.close()
            raise
        self.client = client

    def active(self) -> bool:
        t = self.client.get_transport()
        return t is not None and t.is_active()

    def exec(
        self, command: str, stdin: bytes | None, timeout: float
    ) -> tuple[int | None, bytes, bytes]:
        transport = self.client.get_transport()
        if transport is None:
            raise EOFError("transport closed")
        chan = transport.open_session(timeout=timeout)
        try:
            chan.exec_command(command)
            if stdin:
                chan.sendall(stdin)
            chan.shutdown_write()
            return _drain(chan, timeout)
        finally:
            chan.close()

    def sftp(self) -> Any:
        return self.client.open_sftp()

    def close(self) -> None:
        self.client.close()


def _drain(chan: Any, timeout: float) -> tuple[int | None, bytes, bytes]:
    """Read stdout and stderr together (neither can fill its window and block the other)."""
    out, err = bytearray(), bytearray()
    deadline = time.monotonic() + timeout
    pause = 0.001
    while True:
        got = False
        while chan.recv_ready():
            out += chan.recv(65536)
            got = True
        while chan.recv_stderr_ready():
            err += chan.recv_stderr(65536)
            got = True
        if chan.exit_status_ready() and not chan.recv_ready() and not chan.recv_stderr_ready():
            if chan.eof_received or chan.closed:
                return chan.recv_exit_status(), bytes(out), bytes(err)
        if chan.closed and not chan.exit_status_ready():
            raise EOFError("channel closed without an exit status")
        if time.monotonic() > deadline:
            return None, bytes(out), bytes(err)
        if got:
            pause = 0.001
        else:
            # paramiko's status event does not fire for data: poll, backing off to 20 ms
            chan.status_event.wait(pause)
            pause = min(pause * 2, 0.02)


def _sftp_makedirs(sftp: Any, path: str) -> None:
    if path in ("", ".", "/"):
        return
    try:
        if stat.S_ISDIR(sftp.stat(path).st_mode):
            return
    except FileNotFoundError:
        pass
    _sftp_makedirs(sftp, posixpath.dirname(path.rstrip("/")))
    try:
        sftp.mkdir(path)
    except OSError:
        if not stat.S_ISDIR(sftp.stat(path).st_mode):
            raise


def _put(sftp: Any, local: Path, remote: str) -> None:
    sftp.put(str(local), remote)
    sftp.chmod(remote, stat.S_IMODE(local.stat().st_mode))


def _get(sftp: Any, remote: str, local: Path) -> None:
    attrs = sftp.stat(remote)
    if stat.S_ISDIR(attrs.st_mode):
        local.mkdir(parents=True, exist_ok=True)
        for entry in sftp.listdir_attr(remote):
            _get(sftp, posixpath.join(remote, entry.filename), local / entry.filename)
    else:
        local.parent.mkdir(parents=True, exist_ok=True)
        sftp.get(remote, str(local))
