"""A one-file register server: the minimal system under test of the
"a target is one folder" test. Each node keeps its own keys in memory and
serves them over HTTP (standard library only: it is uploaded and run with
plain python3, as target/ is).

    GET  /health           {"pid": ...}
    GET  /kv/<key>         {"value": v}          (null when never written)
    PUT  /kv/<key>         {"value": v}
    POST /cas/<key>        {"old": a, "new": b}  -> 200, or 409 when the value is not a
"""

from __future__ import annotations

import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DATA: dict[str, object] = {}
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        sys.stdout.write(f"{self.address_string()} {format % args}\n")

    def _reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def do_GET(self) -> None:
        if self.path == "/health":
            return self._reply(200, {"pid": os.getpid()})
        if self.path.startswith("/kv/"):
            with LOCK:
                return self._reply(200, {"value": DATA.get(self.path[4:])})
        self._reply(404, {"error": "no such path"})

    def do_PUT(self) -> None:
        if not self.path.startswith("/kv/"):
            return self._reply(404, {"error": "no such path"})
        value = self._body().get("value")
        with LOCK:
            DATA[self.path[4:]] = value
        self._reply(200, {"value": value})

    def do_POST(self) -> None:
        if not self.path.startswith("/cas/"):
            return self._reply(404, {"error": "no such path"})
        body, key = self._body(), self.path[5:]
        with LOCK:
            if DATA.get(key) != body.get("old"):
                return self._reply(409, {"error": "cas mismatch"})
            DATA[key] = body.get("new")
        self._reply(200, {"value": body.get("new")})


if __name__ == "__main__":
    host, port = sys.argv[1], int(sys.argv[2])
    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    print(f"miniregister on {host}:{port} pid {os.getpid()}", flush=True)
    server.serve_forever()
