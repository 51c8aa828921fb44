"""The local Remote: every node is this host; node names are only labels.

It is also the base of the netns Remote, which differs only in the argv
prefix (``ip netns exec <ns>``): both run real subprocesses, share the
filesystem, and see the same pids.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from harness.control.quoting import check_argv
from harness.core.errors import RemoteError, UnreachableError
from harness.core.protocols import Result

log = logging.getLogger("seam.control")


def unreachable(node: str, argv: Sequence[str], reason: str, fix: str) -> UnreachableError:
    """An UnreachableError whose message says "unreachable", not "timed out"."""
    err = UnreachableError(node, argv, status=None, stderr=reason, fix=fix)
    err.args = (f"on {node}: `{' '.join(argv)}`; unreachable: {reason}; fix: {fix}",)
    return err


def pid_alive(pid: int) -> bool:
    """True if pid exists and is not a zombie (a killed child not yet reaped)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    # state is the field after the parenthesised comm, which may itself hold spaces or ")"
    state = stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3]
    return state not in (b"Z", b"X")


class LocalRemote:
    """Runs argv with subprocess on this host, for any node name."""

    kind = "local"

    def __init__(self) -> None:
        self._children: dict[int, subprocess.Popen] = {}
        self._lock = threading.Lock()

    # -- what a subclass changes -------------------------------------------------
    def _wrap(self, node: str, argv: tuple[str, ...]) -> list[str]:
        """The argv actually executed for ``argv`` on ``node``."""
        return list(argv)

    def _diagnose(
        self, node: str, argv: tuple[str, ...], status: int, stderr: str
    ) -> RemoteError | None:
        """A more specific error for a failure that is the node's fault, not the command's."""
        return None

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
        try:
            proc = subprocess.run(
                self._wrap(node, args),
                input=stdin if stdin is not None else b"",
                capture_output=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as e:
            raise RemoteError(
                node,
                args,
                status=None,
                stderr=_text(e.stderr),
                fix=f"the command did not finish in {timeout:g}s; raise timeout= or find why it hangs",
            ) from None
        except FileNotFoundError:
            raise RemoteError(
                node,
                args,
                status=127,
                stderr=f"{self._wrap(node, args)[0]}: command not found",
                fix=f"install {args[0]!r} on {node} or give its full path",
            ) from None
        result = Result(node, args, proc.returncode, _text(proc.stdout), _text(proc.stderr))
        if proc.returncode != 0:
            specific = self._diagnose(node, args, proc.returncode, result.stderr)
            if specific is not None:
                raise specific
            if check:
                raise RemoteError(
                    node,
                    args,
                    status=proc.returncode,
                    stderr=result.stderr,
                    fix="see the command's stderr; pass check=False if a non-zero exit is expected",
                )
        return result

    def spawn(
        self,
        node: str,
        argv: Sequence[str],
        log: str,
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
    ) -> int:
        """Start argv detached (own session, stdin from /dev/null, output appended to log).

        Returns the pid of the program itself: Popen execs it directly (and
        ``ip netns exec`` execs too), so there is no wrapper shell.
        """
        args = check_argv(argv)
        Path(log).parent.mkdir(parents=True, exist_ok=True)
        full_env = {**os.environ, **env} if env else None
        with open(log, "ab") as out:
            try:
                proc = subprocess.Popen(
                    self._wrap(node, args),
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    env=full_env,
                    cwd=cwd,
                )
            except FileNotFoundError as e:
                raise RemoteError(
                    node,
                    args,
                    status=127,
                    stderr=str(e),
                    fix=f"install {args[0]!r} on {node}, give its full path, or check cwd={cwd!r}",
                ) from None
        with self._lock:
            self._children[proc.pid] = proc
        return proc.pid

    def signal(self, node: str, pid: int, sig: int) -> None:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            raise RemoteError(
                node,
                ["kill", f"-{int(sig)}", str(pid)],
                status=1,
                stderr=f"no process {pid}",
                fix="the process already exited; check alive() first or read its log",
            ) from None
        self._reap()

    def alive(self, node: str, pid: int) -> bool:
        self._reap()
        with self._lock:
            child = self._children.get(pid)
        if child is not None:
            return child.poll() is None
        return pid_alive(pid)

    def upload(self, node: str, src: Path, dst: str) -> None:
        """Copy a file to the path dst, or a directory's contents into dst."""
        _copy(node, Path(src), Path(dst), "upload")

    def download(self, node: str, src: str, dst: Path) -> None:
        """Copy the node's file src to dst, or its directory's contents into dst."""
        _copy(node, Path(src), Path(dst), "download")

    def close(self) -> None:
        """Forget spawned children; they keep running (they are services)."""
        self._reap()

    def _reap(self) -> None:
        """Collect exit statuses of our children that ended, so none stays a zombie."""
        with self._lock:
            for pid, child in list(self._children.items()):
                if child.poll() is not None:
                    del self._children[pid]


def _copy(node: str, src: Path, dst: Path, verb: str) -> None:
    try:
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True, symlinks=True)
        elif src.exists():
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
        else:
            raise RemoteError(
                node,
                [verb, str(src), str(dst)],
                status=1,
                stderr=f"{src}: no such file or directory",
                fix=f"check the source path of the {verb}",
            )
    except OSError as e:
        raise RemoteError(
            node,
            [verb, str(src), str(dst)],
            status=1,
            stderr=str(e),
            fix="check the paths and that the destination is writable",
        ) from None


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    if isinstance(data, bytes):
        return data.decode("utf-8", errors="replace")
    return data
