"""HTTP/JSON plumbing for one node: a router, a threaded server, a client call.

Handlers take a ``Request`` and return ``(status, dict)`` (or ``(status, str)``
for plain text). They may raise ``HTTPError`` to answer with a JSON error that
names the field, or ``DropConnection`` to close the socket without a reply
(the lost-response fault). Any other exception becomes a logged 500: nothing a
client sends may crash the node.

``http_call`` separates the two ways a call can fail, because the caller must
know whether the effect may have happened: ``CallFailed(definite=True)`` means
the request never reached the server (connection refused); a timeout or a
dropped connection is ``CallTimeout`` / ``CallFailed(definite=False)``.

Connections between nodes are kept alive (HTTP/1.1 with ``Connection:
keep-alive``) and pooled per peer (``ConnectionPool``): opening a TCP
connection and a server thread per call cost more than the call itself. The
server keeps a connection open only when the request asks for it, so plain
clients (http.client, curl) still get one connection per request and a
restarted node still refuses them definitely. A pooled connection is reused
only while it is idle for less than ``POOL_IDLE`` seconds and its socket shows
no EOF; any error closes it and empties that peer's idle pool, so a paused,
partitioned or restarted peer never leaves dead sockets behind for the next
caller. A failure on a *reused* connection is never definite (the request may
have reached the server); only a failed connect is. Under a partition the
first calls on pooled connections therefore time out as unknown, where fresh
connections would have failed to connect (definite); the pool is emptied on
that first failure, so later calls connect afresh and fail definitely again.
"""

from __future__ import annotations

import functools
import json
import logging
import queue
import re
import select
import socket
import socketserver
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

MAX_BODY = 1 << 20
MAX_LINE = 65536
MAX_HEADERS = 100
#: Seconds a server keeps an idle kept-alive connection (and its thread).
IDLE_TIMEOUT = 30.0
#: Seconds a pooled client connection may sit idle before it is reused; well under
#: IDLE_TIMEOUT so the server never closes a connection just as we send on it.
POOL_IDLE = 5.0
#: Idle connections kept per peer; more callers than this at once open extra
#: connections that are closed after use.
POOL_SIZE = 32
#: Seconds a peer whose call failed is asked last by hedged quorum calls.
SUSPECT_SECONDS = 2.0
_MISSING = object()


class HTTPError(Exception):
    """Raise from a handler to answer ``{"error": message, "field": field}``."""

    def __init__(self, status: int, message: str, field: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.message}
        if self.field is not None:
            out["field"] = self.field
        return out


class DropConnection(Exception):
    """Raise from a handler to close the connection without sending any reply."""


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


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    _json: Any = _MISSING

    @property
    def json(self) -> dict[str, Any]:
        """The body as a JSON object ({} when empty); 400 naming ``body`` otherwise."""
        if self._json is _MISSING:
            if not self.body.strip():
                self._json = {}
            else:
                try:
                    self._json = json.loads(self.body)
                except (ValueError, UnicodeDecodeError) as e:
                    raise HTTPError(400, f"malformed JSON body: {e}", "body") from e
                if not isinstance(self._json, dict):
                    raise HTTPError(400, "JSON body must be an object", "body")
        return self._json

    def field(self, name: str, kind: type | tuple[type, ...] = str, default: Any = _MISSING) -> Any:
        """A body field of the given type; 400 naming the field when missing or mistyped."""
        body = self.json
        if name not in body or body[name] is None:
            if default is _MISSING:
                raise HTTPError(400, f"missing field {name!r}", name)
            return default
        value = body[name]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds:
            raise HTTPError(400, f"field {name!r} must be {_kind_names(kinds)}, got a boolean", name)
        if not isinstance(value, kinds):
            raise HTTPError(400, f"field {name!r} must be {_kind_names(kinds)}, got {type(value).__name__}", name)
        return value


def _kind_names(kinds: tuple[type, ...]) -> str:
    return " or ".join(k.__name__ for k in kinds)


Handler = Callable[[Request], "tuple[int, dict[str, Any] | str]"]


class Router:
    """Maps (method, path pattern) to handlers; ``{name}`` matches one path segment."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, str, re.Pattern[str], Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", re.escape(pattern).replace(r"\{", "{").replace(r"\}", "}"))
        for m, p, _, _ in self._routes:
            if m == method.upper() and p == pattern:
                raise ValueError(f"route {method} {pattern} registered twice")
        self._routes.append((method.upper(), pattern, re.compile(f"^{regex}$"), handler))

    def routes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p, _, _ in self._routes]

    def resolve(self, method: str, path: str) -> tuple[Handler, dict[str, str]]:
        allowed = []
        for m, _, regex, handler in self._routes:
            match = regex.match(path)
            if match:
                if m == method:
                    return handler, {k: unquote(v) for k, v in match.groupdict().items()}
                allowed.append(m)
        if allowed:
            raise HTTPError(405, f"{method} not allowed on {path}; use {', '.join(sorted(set(allowed)))}")
        raise HTTPError(404, f"no such path {path}")

    def dispatch(self, req: Request, log: logging.Logger | None = None) -> tuple[int, dict[str, Any] | str]:
        """Run the handler; every failure but DropConnection becomes a JSON error."""
        try:
            handler, req.params = self.resolve(req.method, req.path)
            result = handler(req)
            if not (isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], int)):
                raise TypeError(f"handler for {req.method} {req.path} returned {result!r}, not (status, dict)")
            return result
        except HTTPError as e:
            return e.status, e.body()
        except DropConnection:
            raise
        except Exception as e:  # noqa: BLE001 - the node must survive any handler bug
            if log:
                log.exception("handler error on %s %s", req.method, req.path)
            return 500, {"error": f"internal error: {type(e).__name__}: {e}"}


class _BadRequest(Exception):
    """A request the server cannot parse: answered with ``status`` and the connection closed."""

    def __init__(self, status: int, message: str, field: str | None = None):
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


_REASONS = {s.value: s.phrase for s in HTTPStatus}
_METHODS = frozenset({"GET", "POST", "PUT", "DELETE"})
_CLOSE = "Connection: close\r\n"


def _make_handler(router: Router, log: logging.Logger | None) -> type[socketserver.StreamRequestHandler]:
    """A lean HTTP/1.1 handler: keep-alive, Content-Length bodies, one write per reply.

    ``BaseHTTPRequestHandler`` parses headers with the email package and
    writes a reply in two segments; per request that costs more CPU than the
    store's own work, so this reads the request line and headers directly.
    """

    class _Handler(socketserver.StreamRequestHandler):
        timeout = IDLE_TIMEOUT  # a stalled or idle client cannot pin a thread forever
        disable_nagle_algorithm = True  # a reply is one segment; never wait for a delayed ACK

        def setup(self) -> None:
            super().setup()
            if isinstance(self.server, Server):
                self.server.track(self.connection)

        def finish(self) -> None:
            try:
                super().finish()
            except OSError:
                pass
            finally:
                if isinstance(self.server, Server):
                    self.server.untrack(self.connection)

        def handle(self) -> None:
            try:
                while self._one():
                    pass
            except (TimeoutError, OSError):
                pass  # idle too long, or the client went away: close quietly

        def _one(self) -> bool:
            """Serve one request; False when the connection must close."""
            try:
                req, keep = self._read_request()
            except _BadRequest as e:
                body = {"error": e.message} if e.field is None else {"error": e.message, "field": e.field}
                self._reply(e.status, body, keep=False)
                return False
            if req is None:
                return False
            try:
                status, payload = router.dispatch(req, log)
            except DropConnection:
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return False
            if log and log.isEnabledFor(logging.DEBUG):
                log.debug("%s %s %s -> %d", self.client_address[0], req.method, req.path, status)
            return self._reply(status, payload, keep=keep)

        def _read_request(self) -> tuple[Request | None, bool]:
            line = self.rfile.readline(MAX_LINE + 1)
            if not line:
                return None, False  # the client closed the connection between requests
            if len(line) > MAX_LINE:
                raise _BadRequest(414, "request line too long")
            parts = line.decode("latin-1").split()
            if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
                raise _BadRequest(400, f"malformed request line {line[:80]!r}")
            method, target, _version = parts
            headers: dict[str, str] = {}
            while True:
                h = self.rfile.readline(MAX_LINE + 1)
                if h in (b"\r\n", b"\n"):
                    break
                if not h:
                    return None, False  # the client went away mid-headers
                if len(h) > MAX_LINE or len(headers) >= MAX_HEADERS:
                    raise _BadRequest(431, "request headers too large")
                name, sep, value = h.decode("latin-1").partition(":")
                if not sep:
                    raise _BadRequest(400, f"malformed header line {h[:80]!r}")
                headers[name.strip().lower()] = value.strip()
            # Kept alive only on request: a client that reuses a connection must check it
            # is still open first, or a peer's restart turns a definite "connection
            # refused" into an ambiguous reset (``http_call`` checks; http.client does not).
            keep = "keep-alive" in headers.get("connection", "").lower()
            if method not in _METHODS:
                raise _BadRequest(501, f"method {method} not supported; use GET, POST, PUT or DELETE")
            if "transfer-encoding" in headers:
                raise _BadRequest(411, "chunked bodies are not supported; send Content-Length",
                                  "Transfer-Encoding")
            length = headers.get("content-length")
            try:
                n = int(length) if length else 0
                if n < 0 or n > MAX_BODY:
                    raise ValueError(n)
            except ValueError:
                raise _BadRequest(400, f"bad Content-Length {length!r}", "Content-Length") from None
            if n and headers.get("expect", "").lower() == "100-continue":
                self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            body = self.rfile.read(n) if n else b""
            if len(body) < n:
                return None, False  # the client went away mid-body
            if not target.startswith("/"):
                target = urlsplit(target)._replace(scheme="", netloc="").geturl() or "/"  # absolute form
            path, _, query = target.partition("?")
            req = Request(
                method=method,
                path=path,
                query=dict(parse_qsl(query, keep_blank_values=True)) if query else {},
                headers=headers,
                body=body,
            )
            return req, keep

        def _reply(self, status: int, payload: dict[str, Any] | str, *, keep: bool) -> bool:
            if isinstance(payload, str):
                data, ctype = payload.encode(), "text/plain; version=0.0.4; charset=utf-8"
            else:
                data, ctype = json.dumps(payload, default=_json_default).encode(), "application/json"
            head = (f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}\r\n"
                    f"Content-Type: {ctype}\r\nContent-Length: {len(data)}\r\n"
                    f"{'' if keep else _CLOSE}\r\n")
            try:
                self.wfile.write(head.encode("latin-1") + data)  # one segment: headers and body
            except OSError:
                return False  # the client went away; nothing to tell it
            return keep

    return _Handler


def _json_default(value: Any) -> Any:
    if hasattr(value, "to_json"):
        return value.to_json()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


class Server(ThreadingHTTPServer):
    """Thread per connection; ``server_close`` also cuts the kept-alive connections,
    so a stopped in-process server really stops answering (as a dead process would)."""

    daemon_threads = True
    request_queue_size = 128
    allow_reuse_address = True

    thread: threading.Thread

    def __init__(self, *args: Any, **kwargs: Any):
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def track(self, conn: socket.socket) -> None:
        with self._open_lock:
            self._open.add(conn)

    def untrack(self, conn: socket.socket) -> None:
        with self._open_lock:
            self._open.discard(conn)

    def server_close(self) -> None:
        super().server_close()
        with self._open_lock:
            conns, self._open = list(self._open), set()
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(host: str, port: int, router: Router, log: logging.Logger | None = None) -> Server:
    """Bind and start serving in a background thread; stop with ``server.shutdown()``
    then ``server.server_close()``."""
    server = Server((host, port), _make_handler(router, log))
    server.thread = threading.Thread(target=server.serve_forever, name=f"http-{port}", daemon=True)
    server.thread.start()
    return server


class _Conn:
    """One kept-alive client connection: a socket and a buffered reader on it."""

    __slots__ = ("sock", "rfile")

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.rfile = sock.makefile("rb")

    @classmethod
    def open(cls, host: str, port: int, timeout: float) -> _Conn:
        sock = socket.create_connection((host, port), timeout=timeout)
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
    data = json.dumps(body, default=_json_default).encode() if body is not None else b""
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


class Workers:
    """Daemon threads that run fan-out calls: a lean stand-in for ThreadPoolExecutor.

    A quorum call hands each remote node to a worker and collects replies on its
    own queue; no Future, Condition or waiter objects per call. Threads are
    started on demand (whenever more calls are queued than threads are idle), up
    to ``limit``, so a paused peer that holds workers for a whole timeout does not
    delay calls to the other peers.
    """

    def __init__(self, limit: int = 128, name: str = "fanout"):
        self.limit, self.name = limit, name
        self._q: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._count = self._idle = self._pending = 0
        self._closed = False
        self._executor: ThreadPoolExecutor | None = None

    def executor(self) -> ThreadPoolExecutor:
        """A ThreadPoolExecutor for the calls that want its timing (see fan_out)."""
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=32, thread_name_prefix=self.name)
            return self._executor

    def submit(self, fn: Callable[[str], Any], node: str, out: queue.SimpleQueue[Any]) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self.name} workers are shut down")
            self._pending += 1
            if self._pending > self._idle and self._count < self.limit:
                self._count += 1
                threading.Thread(target=self._run, name=f"{self.name}-{self._count}", daemon=True).start()
        self._q.put((fn, node, out))

    def _run(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            item = self._q.get()
            with self._lock:
                self._idle -= 1
                self._pending -= 1
            if item is None:
                return
            fn, node, out = item
            try:
                out.put((node, True, fn(node)))
            except BaseException as e:  # noqa: BLE001 - handed to the caller, which decides
                out.put((node, False, e))

    def shutdown(self) -> None:
        with self._lock:
            self._closed = True
            count = self._count
            if self._executor is not None:
                self._executor.shutdown(wait=False, cancel_futures=True)
        for _ in range(count):
            self._q.put(None)


_EXPECTED = (CallError, OSError, ValueError, KeyError, TypeError)


def fan_out(
    pool: Any,
    nodes: list[str],
    need: int,
    fn: Callable[[str], Any],
    timeout: float,
    *,
    local: str | None = None,
    hedge: float | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """Run fn(node) for the nodes; return as soon as ``need`` succeeded.

    Returns ({node: result}, {node: error}). Stragglers keep running (each
    bounded by its own call timeout) but are not waited for. ``pool`` is a
    ``Workers`` or any executor with ``submit`` (which always calls every node).

    With ``Workers``:
    - ``local`` (this node, if it is in ``nodes``) runs inline in the caller's
      thread while remote calls are in flight, saving a thread handoff;
    - need < 2 goes through an executor, every node in parallel, as before;
    - ``hedge`` (seconds), for calls whose effect is not needed everywhere
      (reads): only the first ``need`` nodes are asked at once, in the given
      order; the next one is asked when a call fails or every ``hedge`` seconds
      without ``need`` replies. Nodes never asked are not in either dict.
    """
    if not isinstance(pool, Workers):
        return _fan_out_futures(pool, nodes, need, fn, timeout)
    if need < 2:
        # One reply ends the call (weak quorums, a one-replica write-back): keep the
        # executor's timing, under which the other calls have usually run by the time
        # the caller goes on, as callers and tests of the weak-quorum bug expect.
        return _fan_out_futures(pool.executor(), nodes, need, fn, timeout)
    out: queue.SimpleQueue[Any] = queue.SimpleQueue()
    if local not in nodes:
        local = None
    remote = [n for n in nodes if n != local]
    waiting = list(reversed(remote))  # pop() asks them in order
    first = len(remote) if hedge is None else max(0, need - (local is not None))
    outstanding = 0
    for _ in range(min(first, len(waiting))):
        pool.submit(fn, waiting.pop(), out)
        outstanding += 1
    ok: dict[str, Any] = {}
    errors: dict[str, str] = {}
    deadline = _monotonic() + timeout
    if local is not None:
        try:
            ok[local] = fn(local)
        except _EXPECTED as e:
            errors[local] = str(e)
    while len(ok) < need and (outstanding or waiting):
        now = _monotonic()
        if deadline <= now:
            break
        short = len(ok) + outstanding < need  # not enough calls in flight to reach need
        if waiting and (short or not outstanding):
            pool.submit(fn, waiting.pop(), out)
            outstanding += 1
            continue
        left = deadline - now if hedge is None or not waiting else min(hedge, deadline - now)
        try:
            node, good, value = out.get(timeout=left)
        except queue.Empty:
            if waiting:  # slow replies: ask one more node
                pool.submit(fn, waiting.pop(), out)
                outstanding += 1
            continue
        outstanding -= 1
        if good:
            ok[node] = value
        elif isinstance(value, _EXPECTED):
            errors[node] = str(value)
        else:
            raise value
    asked = set(nodes) - set(waiting)
    for n in asked:
        if n not in ok:
            errors.setdefault(n, "no answer in time")
    return ok, errors


def _fan_out_futures(
    pool: Any, nodes: list[str], need: int, fn: Callable[[str], Any], timeout: float
) -> tuple[dict[str, Any], dict[str, str]]:
    from concurrent.futures import FIRST_COMPLETED, wait

    futures = {pool.submit(fn, n): n for n in nodes}
    ok: dict[str, Any] = {}
    errors: dict[str, str] = {}
    pending = set(futures)
    deadline = _monotonic() + timeout
    while pending and len(ok) < need:
        left = deadline - _monotonic()
        if left <= 0:
            break
        finished, pending = wait(pending, timeout=left, return_when=FIRST_COMPLETED)
        for f in finished:
            try:
                ok[futures[f]] = f.result()
            except _EXPECTED as e:
                errors[futures[f]] = str(e)
    for f in pending:
        errors.setdefault(futures[f], "no answer in time")
    return ok, errors


def _monotonic() -> float:
    return time.monotonic()
