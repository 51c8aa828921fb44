"""target.client: every error says whether the outcome is definite or unknown."""

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from target.client import Connection, PipelineClient, Refused, Unknown


class Handler(BaseHTTPRequestHandler):
    replies: dict = {}

    def _reply(self):
        status, body = self.replies.get(self.path, (404, {"error": "unknown"}))
        if status == "hang":
            threading.Event().wait(2)
            return
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = _reply

    def log_message(self, *args):
        pass


@pytest.fixture
def api():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    client = PipelineClient(Connection("127.0.0.1", server.server_address[1], timeout=0.3))
    yield client
    client.close()
    server.shutdown()
    server.server_close()


def test_success_and_never_written(api):
    Handler.replies = {"/kv/a": (200, {"value": 3}), "/kv/b": (404, {"error": "no such key"})}
    assert api.kv_read("a") == 3
    assert api.kv_read("b") is None


@pytest.mark.parametrize(
    "status, body, kind",
    [
        (409, {"error": "cas mismatch"}, Refused),
        (400, {"error": "bad", "field": "value"}, Refused),
        (503, {"error": "no quorum", "definite": True}, Refused),
        (503, {"error": "no quorum"}, Unknown),
        (500, {"error": "boom"}, Unknown),
    ],
)
def test_status_classification(api, status, body, kind):
    Handler.replies = {"/kv/k/cas": (status, body)}
    with pytest.raises(kind) as info:
        api.kv_cas("k", 1, 2)
    assert info.value.status == status and info.value.definite is (kind is Refused)


def test_timeout_is_unknown_and_the_connection_recovers(api):
    Handler.replies = {"/kv/slow": ("hang", None), "/kv/fast": (200, {"value": 1})}
    with pytest.raises(Unknown, match="timed out|TimeoutError"):
        api.kv_write("slow", 1)
    assert api.kv_read("fast") == 1


def test_refused_connection_is_definite():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    api = PipelineClient(Connection("127.0.0.1", port, timeout=0.3))
    with pytest.raises(Refused) as info:
        api.place_order("o1", "sku", 1, 10)
    assert "nothing was sent" in str(info.value)


def test_a_node_that_died_after_a_kept_alive_reply_refuses_definitely():
    """Keep-alive must not turn a dead node into an unknown outcome: the client sees the
    server's close on the idle socket, reconnects, and the refused connect is definite."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]

    def serve_one():
        conn, _ = listener.accept()
        conn.recv(65536)
        body = b'{"value": 1}'
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: keep-alive\r\n\r\n%s" % (len(body), body))
        conn.close()  # the node dies: its socket and its listener go away
        listener.close()

    t = threading.Thread(target=serve_one, daemon=True)
    t.start()
    api = PipelineClient(Connection("127.0.0.1", port, timeout=0.5))
    assert api.kv_read("a") == 1
    t.join(2)
    with pytest.raises(Refused):
        api.kv_write("a", 2)
    api.close()
