"""Keep-alive connection pools (target.pool), hedged quorum calls (target.fanout) and the lean HTTP/1.1 server."""

import queue
import socket
import threading
import time

import pytest

from target.fanout import Workers, fan_out
from target.httpserver import serve
from target.pool import CallFailed, CallTimeout, http_call, pool_for, suspect
from target.router import DropConnection, Router


def make_router() -> Router:
    r = Router()
    r.add("GET", "/echo/{id}", lambda req: (200, {"id": req.params["id"], "q": req.query}))
    r.add("POST", "/echo", lambda req: (200, req.json))
    r.add("GET", "/slow/{id}", lambda req: (time.sleep(0.5), (200, {"id": req.params["id"]}))[1])
    r.add("POST", "/drop", lambda req: (_ for _ in ()).throw(DropConnection()))
    return r


@pytest.fixture
def server():
    s = serve("127.0.0.1", 0, make_router())
    yield s
    s.shutdown()
    s.server_close()


def url(s) -> str:
    return f"http://127.0.0.1:{s.server_address[1]}"


def test_sequential_calls_share_one_kept_alive_connection(server):
    for i in range(5):
        assert http_call(url(server), "GET", f"/echo/{i}?a={i}", timeout=2) == (200, {"id": str(i), "q": {"a": str(i)}})
    assert http_call(url(server), "POST", "/echo", {"x": [1, 2]}, timeout=2) == (200, {"x": [1, 2]})
    assert len(server._open) == 1  # the server saw one connection, still open for the next call
    assert len(pool_for("127.0.0.1", server.server_address[1])) == 1


def test_a_timed_out_connection_never_returns_to_the_pool(server):
    """A late reply to the timed-out call must not be read as the answer to the next one."""
    http_call(url(server), "GET", "/echo/warm", timeout=2)
    with pytest.raises(CallTimeout):
        http_call(url(server), "GET", "/slow/late", timeout=0.2)
    assert len(pool_for("127.0.0.1", server.server_address[1])) == 0
    assert suspect(url(server))
    assert http_call(url(server), "GET", "/echo/next", timeout=2)[1]["id"] == "next"
    time.sleep(0.5)  # the slow handler answers its (closed) connection meanwhile
    assert http_call(url(server), "GET", "/echo/after", timeout=2)[1]["id"] == "after"
    assert not suspect(url(server))  # a success clears the suspicion


def test_a_dropped_reply_on_a_reused_connection_is_not_definite(server):
    http_call(url(server), "GET", "/echo/warm", timeout=2)
    with pytest.raises(CallFailed) as e:
        http_call(url(server), "POST", "/drop", {}, timeout=2)
    assert e.value.definite is False
    assert http_call(url(server), "GET", "/echo/again", timeout=2)[0] == 200


def test_a_restarted_peer_is_reached_through_a_fresh_connection():
    s = serve("127.0.0.1", 0, make_router())
    port = s.server_address[1]
    assert http_call(url(s), "GET", "/echo/1", timeout=2)[0] == 200
    s.shutdown()
    s.server_close()  # also cuts the kept-alive connection, as a dead process would
    time.sleep(0.05)
    with pytest.raises(CallFailed) as e:  # the stale pooled socket is skipped, not used
        http_call(f"http://127.0.0.1:{port}", "GET", "/echo/2", timeout=2)
    assert e.value.definite is True and "refused" in str(e.value)
    s2 = serve("127.0.0.1", port, make_router())
    try:
        assert http_call(f"http://127.0.0.1:{port}", "GET", "/echo/3", timeout=2)[1]["id"] == "3"
    finally:
        s2.shutdown()
        s2.server_close()


def test_only_clients_that_ask_for_keep_alive_keep_the_connection(server):
    """A client that does not ask (http.client, curl) gets a fresh connection per request, so
    a restarted node refuses its next request definitely instead of resetting a stale one."""
    host, port = server.server_address
    for request in (b"GET /echo/a HTTP/1.0\r\n\r\n", b"GET /echo/b HTTP/1.1\r\nConnection: close\r\n\r\n",
                    b"GET /echo/c HTTP/1.1\r\nHost: x\r\n\r\n"):
        with socket.create_connection((host, port), timeout=2) as s:
            s.sendall(request)
            data = b""
            while chunk := s.recv(4096):  # EOF after the reply: the server closed
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200") and b"Connection: close" in head and body.startswith(b'{"id"')


def test_pipelined_keep_alive_requests_on_one_raw_socket(server):
    host, port = server.server_address
    with socket.create_connection((host, port), timeout=2) as s:
        s.sendall(b"GET /echo/1 HTTP/1.1\r\nConnection: keep-alive\r\n\r\n"
                  b"POST /echo HTTP/1.1\r\nConnection: Keep-Alive\r\nContent-Length: 8\r\n\r\n{\"y\": 2}")
        f = s.makefile("rb")
        replies = []
        for _ in range(2):
            status = f.readline()
            length = 0
            while (line := f.readline()) != b"\r\n":
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            replies.append((status.split()[1], f.read(length)))
    assert replies == [(b"200", b'{"id": "1", "q": {}}'), (b"200", b'{"y": 2}')]


def test_bad_framing_is_answered_then_closed(server):
    host, port = server.server_address
    for request, status in ((b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", b" 411 "),
                            (b"PATCH /echo HTTP/1.1\r\n\r\n", b" 501 "),
                            (b"POST /echo HTTP/1.1\r\nContent-Length: x\r\n\r\n", b" 400 ")):
        with socket.create_connection((host, port), timeout=2) as s:
            s.sendall(request)
            data = b""
            while chunk := s.recv(4096):
                data += chunk
        assert status in data.split(b"\r\n")[0] + b" " and b"Connection: close" in data


def test_hedged_fan_out_asks_only_what_it_needs_while_peers_are_healthy():
    called: list[str] = []
    lock = threading.Lock()

    def fn(node: str) -> str:
        with lock:
            called.append(node)
        return node

    workers = Workers(limit=8)
    ok, errors = fan_out(workers, ["me", "b", "c"], 2, fn, 1.0, local="me", hedge=0.5)
    assert set(ok) == {"me", "b"} and errors == {}
    time.sleep(0.05)
    assert sorted(called) == ["b", "me"]  # c was never asked
    ok, _ = fan_out(workers, ["me", "b", "c"], 2, fn, 1.0, local="me")  # unhedged: everyone
    time.sleep(0.05)
    assert called.count("c") == 1
    workers.shutdown()


def test_hedged_fan_out_asks_the_next_node_on_failure_or_slowness():
    def fn(node: str) -> str:
        if node == "dead":
            raise CallFailed(node, "connection refused", definite=True)
        if node == "slow":
            time.sleep(0.6)
        return node

    workers = Workers(limit=8)
    start = time.monotonic()
    ok, errors = fan_out(workers, ["dead", "b", "c"], 2, fn, 2.0, hedge=0.5)
    assert set(ok) == {"b", "c"} and "refused" in errors["dead"]
    assert time.monotonic() - start < 0.3  # a failure asks the next node at once
    start = time.monotonic()
    ok, errors = fan_out(workers, ["slow", "b", "c"], 2, fn, 2.0, hedge=0.1)
    took = time.monotonic() - start
    assert set(ok) == {"b", "c"} and 0.09 < took < 0.5  # the hedge, not the slow reply
    ok, errors = fan_out(workers, ["slow", "dead"], 2, fn, 0.3, hedge=0.05)
    assert ok == {} and errors["slow"] == "no answer in time"
    workers.shutdown()


def test_workers_grow_so_a_stuck_call_does_not_block_others():
    gate = threading.Event()
    workers = Workers(limit=4)
    for n in ("x", "y"):  # two workers blocked, as by a paused peer
        workers.submit(lambda n: gate.wait(2), n, queue.SimpleQueue())
    start = time.monotonic()
    ok, _ = fan_out(workers, ["a", "b"], 2, lambda n: n, 1.0)
    assert set(ok) == {"a", "b"} and time.monotonic() - start < 0.5
    gate.set()
    workers.shutdown()
