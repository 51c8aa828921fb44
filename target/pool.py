"""Calls between nodes: pooled keep-alive connections and ``http_call``.

``http_call`` separates the two ways a call can fail, because the caller must
know whether the effect may have happened: ``CallFailed(definite=True)`` means
the request never reached the server (connection refused); a timeout or a
dropped connection is ``CallTimeout`` / ``CallFailed(definite=False)``.

Connections between nodes are kept alive (HTTP/1.1 with ``Connection:
keep-alive``) and pooled per peer (``ConnectionPool``): opening a TCP
connection and a server thread per call cost more than the call itself. A
pooled connection is reused only while it is idle for less than ``POOL_IDLE``
seconds and its socket shows no EOF; any error closes it and empties that
peer's idle pool, so a paused, partitioned or restarted peer never leaves dead
sockets behind for the next caller. A failure on a *reused* connection is
never definite (the request may have reached the server); only a failed
connect is. Under a partition the first calls on pooled connections therefore
time out as unknown, where fresh connections would have failed to connect
(definite); the pool is emptied on that first failure, so later calls connect
afresh and fail definitely again.
"""

from __future__ import annotations

import functools
import json
import select
import socket
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from target.router import json_default

#: The longest status or header line read from a reply.
MAX_LINE = 65536
#: Seconds a pooled client connection may sit idle before it is reused; well under
#: the server's IDLE_TIMEOUT (``httpserver``) so it never closes a connection just
#: as we send on it.
POOL_IDLE = 5.0
#: Idle connections kept per peer; more callers than this at once open extra
#: connections that are closed after use.
POOL_SIZE = 32
#: Seconds a peer whose call failed is asked last by hedged quorum calls.
SUSPECT_SECONDS = 2.0


class CallError(Exception):
    """A call that got no HTTP response."""

    definite = False

    def __init__(self, url: str, problem: str):
        super().__init__(f"{url}: {problem}")
        self.url = url
        self.problem = problem


class CallTimeout(CallError):
    """No reply within the timeout: the effect may or may not have happened."""


class CallFailed(CallError):
    """Connection refused (definite: never delivered) or reset/dropped (not definite)."""

    def __init__(self, url: str, problem: str, *, definite: bool):
        super().__init__(url, problem)
        self.definite = definite


class _Conn:
    """One kept-alive client connection: a socket and a buffered reader on it."""

    __slots__ = ("sock", "rfile")

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.rfile = sock.makefile("rb")

    @classmethod
    def open(cls, host: str, port: int, timeout: float) -> _Conn:
        source = (_source, 0) if _source else None
        sock = socket.create_connection((host, port), timeout=timeout, source_address=source)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        return cls(sock)

    def close(self) -> None:
        try:
            self.rfile.close()
        finally:
            self.sock.close()

    def exchange(self, request: bytes, timeout: float) -> tuple[int, bytes, bool]:
        """Send one request, read its reply: (status, body, server will close).

        Raises TimeoutError, OSError, or _Protocol for a reply it cannot read.
        """
        self.sock.settimeout(timeout)
        self.sock.sendall(request)
        line = self.rfile.readline(MAX_LINE + 1)
        if not line:
            raise _Protocol("connection closed before any reply")
        parts = line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise _Protocol(f"malformed status line {line[:80]!r}")
        status = int(parts[1])
        close = parts[0] == b"HTTP/1.0"
        length = -1
        while True:
            h = self.rfile.readline(MAX_LINE + 1)
            if h in (b"\r\n", b"\n"):
                break
            if not h:
                raise _Protocol("connection closed in the reply headers")
            name, _, value = h.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value.strip())
            elif name == b"connection":
                v = value.strip().lower()
                close = v == b"close" or (close and v != b"keep-alive")
        if status < 200 or status in (204, 304):
            body = b""  # no body by definition
        elif length < 0:
            body, close = self.rfile.read(), True  # no length: the body runs to EOF
        else:
            body = self.rfile.read(length) if length else b""
            if len(body) < length:
                raise _Protocol(f"reply cut short: {len(body)} of {length} bytes")
        return status, body, close


class _Protocol(Exception):
    """The server's reply was cut short or unreadable."""


class ConnectionPool:
    """Idle keep-alive connections to one peer (host, port): thread-safe, bounded, LIFO.

    ``take`` hands out an idle connection that still looks alive, or None (the
    caller connects afresh); ``give`` returns a healthy one; ``flush`` closes all
    idle ones, used after any error so one dead peer costs one failure per
    in-flight call, not one per pooled socket. A failed call also makes the peer
    *suspect* for ``SUSPECT_SECONDS`` (until a call succeeds), so hedged quorum
    calls ask it last.
    """

    suspect_until = 0.0

    def __init__(self, host: str, port: int, size: int = POOL_SIZE, max_idle: float = POOL_IDLE):
        self.host, self.port = host, port
        self.size, self.max_idle = size, max_idle
        self._idle: list[tuple[_Conn, float]] = []
        self._lock = threading.Lock()

    def take(self) -> _Conn | None:
        now = time.monotonic()
        while True:
            with self._lock:
                if not self._idle:
                    return None
                conn, since = self._idle.pop()
            if now - since < self.max_idle and _looks_alive(conn):
                return conn
            conn.close()

    def give(self, conn: _Conn) -> None:
        with self._lock:
            if len(self._idle) < self.size:
                self._idle.append((conn, time.monotonic()))
                return
        conn.close()

    def suspect(self) -> bool:
        return self.suspect_until > time.monotonic()

    def failed(self) -> None:
        self.suspect_until = time.monotonic() + SUSPECT_SECONDS
        self.flush()

    def flush(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn, _ in idle:
            conn.close()

    def __len__(self) -> int:
        with self._lock:
            return len(self._idle)


def _looks_alive(conn: _Conn) -> bool:
    """An idle kept-alive socket must have nothing to read: readable means EOF (the
    peer closed or died) or stray bytes, and either way it cannot carry a request."""
    sock = conn.sock
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


#: The address this node's outgoing connections come from (``bind_source``); None: the kernel's choice.
_source: str | None = None


def bind_source(host: str) -> None:
    """Send from the address this node serves on, so a peer (and an iptables rule that
    names this node by address) sees who is calling. On a shared host every node
    has its own 127.0.0.x, but the kernel would send from 127.0.0.1: a partition
    between two local nodes would then never match. A wildcard host keeps the
    kernel's choice."""
    global _source
    _source = None if host in ("", "0.0.0.0", "::") else host


_pools: dict[tuple[str, int], ConnectionPool] = {}
_pools_lock = threading.Lock()


def pool_for(host: str, port: int) -> ConnectionPool:
    """The process-wide pool for one peer."""
    key = (host, port)
    pool = _pools.get(key)
    if pool is None:
        with _pools_lock:
            pool = _pools.setdefault(key, ConnectionPool(host, port))
    return pool


def suspect(base_url: str) -> bool:
    """Whether a call to this peer failed recently (and none succeeded since)."""
    host, port = _host_port(base_url)
    return pool_for(host, port).suspect()


@functools.lru_cache(maxsize=256)
def _host_port(base_url: str) -> tuple[str, int]:
    url = urlsplit(base_url)
    return url.hostname or "127.0.0.1", url.port or 80


def close_pools() -> None:
    """Close every pooled connection (a node shutting down, or a test)."""
    with _pools_lock:
        pools = list(_pools.values())
    for pool in pools:
        pool.flush()


def http_call(
    base_url: str,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    *,
    timeout: float,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    """One HTTP request over a pooled keep-alive connection, no retries.

    Returns (status, JSON body as dict). Raises CallFailed(definite=True) only
    when a fresh connection could not be opened (nothing was sent).
    """
    where = f"{method} {base_url}{path}"
    pool = pool_for(*_host_port(base_url))
    data = json.dumps(body, default=json_default).encode() if body is not None else b""
    hdrs = {"Host": f"{pool.host}:{pool.port}", "Connection": "keep-alive",
            **({"Content-Type": "application/json"} if body is not None else {}), **(headers or {})}
    if body is not None:
        hdrs["Content-Length"] = str(len(data))
    head = [f"{method} {path} HTTP/1.1\r\n"] + [f"{k}: {v}\r\n" for k, v in hdrs.items()]
    request = ("".join(head) + "\r\n").encode("latin-1") + data
    conn = pool.take()
    if conn is None:
        try:
            conn = _Conn.open(pool.host, pool.port, timeout)
        except ConnectionRefusedError as e:
            pool.failed()
            raise CallFailed(where, "connection refused", definite=True) from e
        except TimeoutError as e:
            pool.failed()
            raise CallFailed(where, "connect timed out (request not sent)", definite=True) from e
        except OSError as e:
            pool.failed()
            raise CallFailed(where, f"cannot connect: {e}", definite=True) from e
    try:
        status, raw, close = conn.exchange(request, timeout)
    except TimeoutError as e:
        conn.close()
        pool.failed()
        raise CallTimeout(where, f"no reply within {timeout:g}s") from e
    except (_Protocol, ValueError, OSError) as e:
        conn.close()
        pool.failed()
        raise CallFailed(where, f"connection dropped: {type(e).__name__}: {e}", definite=False) from e
    pool.suspect_until = 0.0
    if close:
        conn.close()
    else:
        pool.give(conn)
    try:
        payload = json.loads(raw) if raw else {}
    except ValueError:
        payload = {"raw": raw.decode(errors="replace")}
    if not isinstance(payload, dict):
        payload = {"value": payload}
    return status, payload
