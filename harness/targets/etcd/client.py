"""The register client for etcd: read, write and compare-and-set over the v3 JSON gateway.

Values are ``[key, v]`` (Jepsen's independent register). A read is a range
request (``serializable`` when the target option says so: answered from the
member's own state, without asking the leader); a write is a put; a cas is
a txn comparing the key's value. Only a definite refusal is ``fail``: a read
changes nothing, so any failed read is ``fail``; a write or cas that got no
answer (a timeout, a dropped connection) may have happened and is ``info``;
one whose connection was refused never reached etcd and is ``fail``. A write
is never retried.
"""

from __future__ import annotations

import http.client
from dataclasses import replace
from typing import Any

from harness.core.errors import TargetError
from harness.core.op import Op
from harness.core.placement import NodeAddr
from harness.core.protocols import Test
from harness.targets.etcd.adapter import b64, gateway, unb64


class EtcdClient:
    """One client process's connection to one member, kept alive between ops (a fresh TCP
    connection per op cost more than etcd's own work). After any error it is dropped and
    the next op connects afresh, so only a fresh connect can be refused (definite)."""

    def __init__(self, addrs: dict[str, NodeAddr], *, timeout: float, serializable: bool = False,
                 node: str | None = None):
        self.addrs = addrs
        self.timeout = timeout
        self.serializable = serializable
        self.node = node
        self._conn: http.client.HTTPConnection | None = None

    def _call(self, a: NodeAddr, path: str, body: dict[str, Any]) -> dict[str, Any]:
        reused = self._conn is not None
        if self._conn is None:
            self._conn = http.client.HTTPConnection(a.address, a.port, timeout=self.timeout)
        try:
            return gateway(a, path, body, self.timeout, self._conn)
        except ConnectionRefusedError:
            self.close()
            if reused:  # the member restarted since: the request may have been sent
                raise ConnectionResetError("kept-alive connection refused") from None
            raise
        except (OSError, ValueError, http.client.HTTPException):
            self.close()
            raise

    def open(self, test: Test | None, node: str) -> EtcdClient:
        if node not in self.addrs:
            raise TargetError(f"client: unknown node {node!r}; this run has {', '.join(self.addrs)}")
        return EtcdClient(self.addrs, timeout=self.timeout, serializable=self.serializable, node=node)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def invoke(self, test: Test | None, op: Op) -> Op:
        if self.node is None:
            raise TargetError("etcd client used before open(test, node)")
        key, v = op.value
        a = self.addrs[self.node]
        try:
            if op.f == "read":
                return self._done(op, "ok", [key, self._read(a, str(key))])
            if op.f == "write":
                self._call(a, "/v3/kv/put", {"key": b64(str(key)), "value": b64(str(v))})
                return self._done(op, "ok", op.value)
            if op.f == "cas":
                old, new = v
                succeeded = self._cas(a, str(key), old, new)
                return self._done(op, "ok" if succeeded else "fail", op.value,
                                  None if succeeded else f"cas: {key} was not {old}")
        except ConnectionRefusedError as e:
            return self._done(op, "fail", op.value, f"connection refused: {e}")
        except (OSError, ValueError, http.client.HTTPException) as e:
            return self._done(op, "fail" if op.f == "read" else "info", op.value, f"{type(e).__name__}: {e}")
        raise TargetError(f"etcd client: unknown f {op.f!r} (read, write, cas)")

    def _read(self, a: NodeAddr, key: str) -> int | None:
        body: dict[str, Any] = {"key": b64(key)}
        if self.serializable:
            body["serializable"] = True
        kvs = self._call(a, "/v3/kv/range", body).get("kvs") or []
        return int(unb64(kvs[0]["value"])) if kvs else None

    def _cas(self, a: NodeAddr, key: str, old: Any, new: Any) -> bool:
        txn = {
            "compare": [{"key": b64(key), "target": "VALUE", "result": "EQUAL", "value": b64(str(old))}],
            "success": [{"requestPut": {"key": b64(key), "value": b64(str(new))}}],
        }
        return bool(self._call(a, "/v3/kv/txn", txn).get("succeeded"))

    def _done(self, op: Op, typ: str, value: Any, error: str | None = None) -> Op:
        extra = {**op.extra, "node": self.node}
        if error:
            extra["error"] = error
        return replace(op, type=typ, value=value, extra=extra)
