"""A client library for the pipeline: orders, the quorum store, ledgers.

Standard library only, so that it runs wherever the pipeline runs; the harness
uses it for its clients. Every call has an explicit timeout, and every error
says whether the outcome is *definite* or *unknown*, because that is exactly
the difference between Jepsen's ``fail`` and ``info``:

* ``Refused``: the request certainly had no effect (connection refused before
  anything was sent, or a reply such as 400/404/409 that the service gives
  before it changes anything, or a 503 marked ``"definite": true``);
* ``Unknown``: the request may or may not have been applied (a timeout, a
  connection reset mid-request, a reply the server cut short, any other 5xx).

A ``Reply`` is returned for every 2xx answer. Reads (``read_order``,
``kv_read``, ``ledger``) change nothing, so callers may treat any read error
as definite.
"""

from __future__ import annotations

import http.client
import json
import select
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

#: Statuses the pipeline returns before it changes anything.
DEFINITE_STATUSES = frozenset({400, 402, 403, 404, 409})


class ClientError(Exception):
    """A call that did not succeed. ``definite`` says whether it surely had no effect."""

    definite = False

    def __init__(self, message: str, *, status: int | None = None, body: dict[str, Any] | None = None):
        super().__init__(message)
        self.status = status
        self.body = body or {}


class Refused(ClientError):
    """The request had no effect."""

    definite = True


class Unknown(ClientError):
    """The request may have been applied; nobody can say."""


@dataclass
class Reply:
    status: int
    body: dict[str, Any] = field(default_factory=dict)


class Connection:
    """A keep-alive HTTP connection to one node; reopened after any error."""

    def __init__(self, host: str, port: int, *, timeout: float = 2.0):
        self.host = host
        self.port = port
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    @classmethod
    def from_url(cls, url: str, *, timeout: float = 2.0) -> Connection:
        hostport = url.split("://", 1)[-1].rstrip("/")
        host, _, port = hostport.rpartition(":")
        return cls(host, int(port), timeout=timeout)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(self, method: str, path: str, body: Any = None) -> Reply:
        """One request; 2xx -> Reply, anything else -> Refused or Unknown."""
        if self._conn is not None and self._closed_by_server():
            # Idle too long, or the node restarted: reconnect, so that a dead node
            # refuses the new connection (definite) instead of failing mid-request.
            self.close()
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        where = f"{method} {self.host}:{self.port}{path}"
        try:
            status, data = exchange(self._conn, method, path, body, {"Connection": "keep-alive"})
        except ConnectionRefusedError as e:
            self.close()
            raise Refused(f"{where}: ConnectionRefusedError: {e} (nothing was sent)") from None
        except (OSError, http.client.HTTPException) as e:
            self.close()
            raise Unknown(f"{where}: {type(e).__name__}: {e}") from None
        if 200 <= status < 300:
            return Reply(status, data)
        message = f"{where}: {status} {data.get('error') or ''}".rstrip()
        if status in DEFINITE_STATUSES or data.get("definite") is True:
            raise Refused(message, status=status, body=data)
        raise Unknown(message, status=status, body=data)

    def _closed_by_server(self) -> bool:
        """A readable idle socket means EOF (or a stray byte): either way, not reusable."""
        sock = self._conn.sock if self._conn is not None else None
        if sock is None:
            return False
        try:
            return bool(select.select([sock], [], [], 0)[0])
        except (OSError, ValueError):
            return True


def exchange(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    """Send one JSON request on ``conn`` and read the reply: (status, body as a dict).

    Raises what the connection raises (OSError, http.client.HTTPException);
    callers decide what a failure means.
    """
    payload = None if body is None else json.dumps(body).encode()
    all_headers = dict(headers or {})
    if payload is not None:
        all_headers["Content-Type"] = "application/json"
    conn.request(method, path, body=payload, headers=all_headers)
    resp = conn.getresponse()
    return resp.status, _decode(resp.read())


def _decode(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        return {"error": raw[:200].decode("utf-8", "replace")}
    return data if isinstance(data, dict) else {"value": data}


def _q(part: Any) -> str:
    return quote(str(part), safe="")


class PipelineClient:
    """The pipeline's public operations over one Connection."""

    def __init__(self, conn: Connection):
        self.conn = conn

    def close(self) -> None:
        self.conn.close()

    # orders
    def place_order(self, order_id: str, sku: str, qty: int, amount: int) -> dict[str, Any]:
        body = {"order_id": order_id, "sku": sku, "qty": qty, "amount": amount}
        return self.conn.request("POST", "/orders", body).body

    def cancel_order(self, order_id: str) -> dict[str, Any]:
        return self.conn.request("POST", f"/orders/{_q(order_id)}/cancel", {}).body

    def read_order(self, order_id: str) -> dict[str, Any] | None:
        """The order, or None when the pipeline has never heard of it."""
        try:
            return self.conn.request("GET", f"/orders/{_q(order_id)}").body
        except Refused as e:
            if e.status == 404:
                return None
            raise

    # quorum store
    def kv_read(self, key: str) -> Any:
        """The key's value; None when it was never written."""
        try:
            return self.conn.request("GET", f"/kv/{_q(key)}").body.get("value")
        except Refused as e:
            if e.status == 404:
                return None
            raise

    def kv_write(self, key: str, value: Any) -> None:
        self.conn.request("PUT", f"/kv/{_q(key)}", {"value": value})

    def kv_cas(self, key: str, expected: Any, new: Any) -> None:
        """Raises Refused with status 409 when the current value is not ``expected``."""
        self.conn.request("POST", f"/kv/{_q(key)}/cas", {"expected": expected, "new": new})

    # ledgers and introspection
    def ledger(self, service: str) -> dict[str, Any]:
        """``{service, node, highest_token, rows, fence}`` of payment, inventory or shipping."""
        return self.conn.request("GET", f"/{_q(service)}/ledger").body

    def leader(self) -> dict[str, Any]:
        return self.conn.request("GET", "/leader").body

    def metrics(self) -> dict[str, Any]:
        return self.conn.request("GET", "/metrics").body
