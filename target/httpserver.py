"""The node's HTTP/1.1 server: a thread per connection, keep-alive on request.

``serve`` binds a ``Router`` (see ``router``) and serves it in a background
thread. The server keeps a connection open only when the request asks for it,
so plain clients (http.client, curl) still get one connection per request and
a restarted node still refuses them definitely; kept-alive connections are
what ``pool`` reuses between nodes.
"""

from __future__ import annotations

import json
import logging
import socket
import socketserver
import threading
from http import HTTPStatus
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from target.router import DropConnection, Request, Router, json_default

MAX_BODY = 1 << 20
MAX_LINE = 65536
MAX_HEADERS = 100
#: Seconds a server keeps an idle kept-alive connection (and its thread).
IDLE_TIMEOUT = 30.0


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
                data, ctype = json.dumps(payload, default=json_default).encode(), "application/json"
            head = (f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}\r\n"
                    f"Content-Type: {ctype}\r\nContent-Length: {len(data)}\r\n"
                    f"{'' if keep else _CLOSE}\r\n")
            try:
                self.wfile.write(head.encode("latin-1") + data)  # one segment: headers and body
            except OSError:
                return False  # the client went away; nothing to tell it
            return keep

    return _Handler


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


#: How often the serving loop looks for a shutdown request. The default 0.5 s made
#: every node take about half a second to stop, one after another at the end of a run.
SHUTDOWN_POLL = 0.05


def serve(host: str, port: int, router: Router, log: logging.Logger | None = None) -> Server:
    """Bind and start serving in a background thread; stop with ``server.shutdown()``
    then ``server.server_close()``."""
    server = Server((host, port), _make_handler(router, log))
    server.thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": SHUTDOWN_POLL},
                                     name=f"http-{port}", daemon=True)
    server.thread.start()
    return server
