import socket
import threading
import time

import pytest

from target.httpserver import serve
from target.pool import CallFailed, CallTimeout, http_call
from target.router import DropConnection, HTTPError, Request, Router


def make_router() -> Router:
    r = Router()
    r.add("GET", "/orders/{id}", lambda req: (200, {"id": req.params["id"], "q": req.query}))
    r.add("POST", "/orders", lambda req: (201, {"amount": req.field("amount", int)}))
    r.add("POST", "/drop", lambda req: (_ for _ in ()).throw(DropConnection()))
    r.add("GET", "/boom", lambda req: 1 / 0)
    r.add("GET", "/slow", lambda req: (time.sleep(1.0), (200, {}))[1])
    r.add("GET", "/text", lambda req: (200, "plain\n"))
    r.add("GET", "/bad", lambda req: "not a tuple")
    return r


def test_router_params_and_errors():
    r = make_router()
    assert r.dispatch(Request("GET", "/orders/o%2F1", query={"a": "1"})) == (200, {"id": "o/1", "q": {"a": "1"}})
    assert r.dispatch(Request("GET", "/nope"))[0] == 404
    assert r.dispatch(Request("DELETE", "/orders/1"))[0] == 405
    status, body = r.dispatch(Request("POST", "/orders", body=b"{bad"))
    assert status == 400 and body["field"] == "body"
    status, body = r.dispatch(Request("POST", "/orders", body=b'{"amount": "x"}'))
    assert status == 400 and body["field"] == "amount" and "int" in body["error"]
    status, body = r.dispatch(Request("POST", "/orders", body=b'{"amount": true}'))
    assert status == 400 and body["field"] == "amount"
    status, body = r.dispatch(Request("POST", "/orders", body=b"[1]"))
    assert status == 400 and body["field"] == "body"
    assert r.dispatch(Request("GET", "/boom"))[0] == 500
    assert r.dispatch(Request("GET", "/bad"))[0] == 500
    with pytest.raises(ValueError, match="twice"):
        r.add("GET", "/orders/{id}", lambda req: (200, {}))


def test_http_error_body_names_the_field():
    assert HTTPError(400, "missing", "sku").body() == {"error": "missing", "field": "sku"}


@pytest.fixture
def server():
    s = serve("127.0.0.1", 0, make_router())
    yield f"http://127.0.0.1:{s.server_address[1]}"
    s.shutdown()
    s.server_close()


def test_real_server_round_trip_and_survives_garbage(server):
    assert http_call(server, "GET", "/orders/7?x=y", timeout=2) == (200, {"id": "7", "q": {"x": "y"}})
    assert http_call(server, "POST", "/orders", {"amount": 5}, timeout=2) == (201, {"amount": 5})
    assert http_call(server, "GET", "/text", timeout=2) == (200, {"raw": "plain\n"})
    host, port = server[7:].split(":")
    with socket.create_connection((host, int(port))) as s:  # not HTTP at all
        s.sendall(b"\x00\x01garbage\r\n\r\n")
        s.recv(1024)
    with socket.create_connection((host, int(port))) as s:
        s.sendall(b"POST /orders HTTP/1.0\r\nContent-Length: -5\r\n\r\n")
        assert b" 400 " in s.recv(1024)
    assert http_call(server, "GET", "/boom", timeout=2)[0] == 500
    assert http_call(server, "GET", "/orders/8", timeout=2)[0] == 200


def test_dropped_connection_is_not_definite(server):
    with pytest.raises(CallFailed) as e:
        http_call(server, "POST", "/drop", {}, timeout=2)
    assert e.value.definite is False


def test_timeout_is_call_timeout(server):
    with pytest.raises(CallTimeout, match="no reply within 0.2s"):
        http_call(server, "GET", "/slow", timeout=0.2)


def test_refused_is_definite():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(CallFailed) as e:
        http_call(f"http://127.0.0.1:{port}", "GET", "/", timeout=1)
    assert e.value.definite is True


def test_concurrent_requests_are_served_in_parallel(server):
    results = []

    def slow():
        results.append(http_call(server, "GET", "/slow", timeout=3)[0])

    threads = [threading.Thread(target=slow) for _ in range(5)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 5 and time.monotonic() - start < 2.5
