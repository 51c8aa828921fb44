"""--base-port checks: a port another process listens on is refused; one a finished run
left in TIME_WAIT is not (the nodes bind with SO_REUSEADDR, and so does the check)."""

from __future__ import annotations

import socket

import pytest

from harness.assemble.nodes import check_ports_free
from harness.core.errors import TargetError
from harness.core.placement import NodeAddr


def addr(port: int) -> dict[str, NodeAddr]:
    return {"n1": NodeAddr("n1", "127.0.0.1", "127.0.0.1", port, "/tmp/seam-x/n1")}


def test_a_listening_port_is_refused_naming_the_node_and_the_fix() -> None:
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen()
        with pytest.raises(TargetError, match=r"^n1: cannot listen on 127\.0\.0\.1:\d+ .*fix: stop it or pass --base-port"):
            check_ports_free(addr(server.getsockname()[1]))


def test_a_port_left_in_time_wait_by_a_finished_run_is_free() -> None:
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    conn, _ = server.accept()
    conn.close()  # the server's side closes first: its end sits in TIME_WAIT
    client.close()
    server.close()
    check_ports_free(addr(port))
