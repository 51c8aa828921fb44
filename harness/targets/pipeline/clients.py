"""The pipeline's clients: the register client (the quorum store as a
key/value register) and the orders client (the saga's front door).

They follow one rule (STYLE habit 4): only a definite refusal is ``fail``;
anything that may have happened is ``info``. Which errors are definite is
decided once, by ``target.client`` (the client library the nodes ship).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from harness.core.errors import TargetError
from harness.core.op import Op
from harness.core.placement import NodeAddr
from harness.core.protocols import Test
from target.client import ClientError, Connection, PipelineClient


def _complete(op: Op, typ: str, value: Any, node: str, error: str | None = None) -> Op:
    extra = dict(op.extra)
    extra["node"] = node
    if error:
        extra["error"] = error
    return replace(op, type=typ, value=value, extra=extra)


def _failed(op: Op, value: Any, node: str, e: ClientError) -> Op:
    """A read changes nothing, so any failed read is ``fail``; otherwise the
    client library says whether the outcome is definite (``fail``) or not (``info``)."""
    typ = "fail" if op.f in ("read", "read-ledger") or e.definite else "info"
    return _complete(op, typ, value, node, str(e))


class _PipelineClient:
    """Shared open/close for the pipeline's clients. ``open`` returns a new, bound client."""

    def __init__(self, addrs: dict[str, NodeAddr], *, timeout: float = 2.0, node: str | None = None):
        self.addrs = addrs
        self.timeout = timeout
        self.node = node
        self.api: PipelineClient | None = None
        if node is not None:
            a = addrs[node]
            self.api = PipelineClient(Connection(a.address, a.port, timeout=timeout))

    def open(self, test: Test | None, node: str) -> Any:
        if node not in self.addrs:
            raise TargetError(f"client: unknown node {node!r}; this run has {', '.join(self.addrs)}")
        return type(self)(self.addrs, timeout=self.timeout, node=node)

    def close(self) -> None:
        if self.api is not None:
            self.api.close()

    def _api(self) -> PipelineClient:
        if self.api is None:
            raise TargetError("client used before open(test, node)")
        return self.api


class RegisterClient(_PipelineClient):
    """read / write / cas on the quorum store, values ``[key, v]`` (Jepsen's independent shape).

    Classification comes from ``target.client``: a write or cas is ``fail``
    only when it certainly did not happen (refused connection, 400, 409 cas
    mismatch, a 503 marked definite); every other error or timeout is
    ``info``. A read changes nothing, so any read error is ``fail``.
    """

    def invoke(self, test: Test | None, op: Op) -> Op:
        key, v = op.value
        node = self.node or "?"
        api = self._api()
        try:
            if op.f == "read":
                return _complete(op, "ok", [key, api.kv_read(str(key))], node)
            if op.f == "write":
                api.kv_write(str(key), v)
            elif op.f == "cas":
                api.kv_cas(str(key), v[0], v[1])
            else:
                raise TargetError(f"register client: unknown f {op.f!r} (read, write, cas)")
        except ClientError as e:
            return _failed(op, op.value, node, e)
        return _complete(op, "ok", op.value, node)


def quiesce_poll_seconds(timeout: float) -> float:
    """How long one quiesce op polls: 3/4 of the client timeout, so it answers in time."""
    return max(0.5, timeout * 0.75)


class OrdersClient(_PipelineClient):
    """place / cancel / read orders; ``read-ledger`` reads one service's ledger on every node.

    Values: place ``{"order_id", "sku", "qty", "amount"}``; cancel and read
    ``{"order_id"}`` (read's ok value adds ``"order"``, None for an unknown
    order); read-ledger ``{"service"}``, whose ok value adds ``"ledgers":
    {node: GET /<service>/ledger}`` (rows, fence rows, highest token).
    ``quiesce`` polls every node's ``GET /saga`` for a few seconds: ``ok``
    once a leader has consumed every event and drives no saga, else ``fail``
    with what is still pending (it changes nothing, so ``fail`` is exact).
    """

    LEDGER_SERVICES = ("payment", "inventory", "shipping")

    def invoke(self, test: Test | None, op: Op) -> Op:
        node = self.node or "?"
        v = op.value or {}
        if op.f == "read-ledger":
            return self._read_ledger(op, v.get("service", ""), node)
        if op.f == "quiesce":
            return self._quiesce(op, node)
        api = self._api()
        oid = str(v.get("order_id", ""))
        try:
            if op.f == "place":
                result = api.place_order(oid, v.get("sku", ""), v.get("qty", 0), v.get("amount", 0))
            elif op.f == "cancel":
                result = api.cancel_order(oid)  # 202: accepted, the saga compensates later
            elif op.f == "read":
                return _complete(op, "ok", {**v, "order": api.read_order(oid)}, node)
            else:
                raise TargetError(f"orders client: unknown f {op.f!r} (place, cancel, read, read-ledger)")
        except ClientError as e:
            return _failed(op, v, node, e)
        return _complete(op, "ok", {**v, "result": result}, node)

    def _quiesce(self, op: Op, node: str) -> Op:
        """Quiet = some node leads, its consumers lag 0 and it drives no saga (busy or active)."""
        from harness.targets.pipeline.adapter import http_json

        deadline = time.monotonic() + quiesce_poll_seconds(self.timeout)
        pending: dict[str, Any] = {"leader": None}
        while True:
            for name, a in self.addrs.items():
                try:
                    status, body = http_json(a.address, a.port, "GET", "/saga", timeout=0.5)
                except OSError:
                    continue
                if status != 200 or not body.get("leading"):
                    continue
                pending = {"leader": name, "term": body.get("term"), "consumer_lag": body.get("consumer_lag"),
                           "active": len(body.get("active") or []), "busy": len(body.get("busy") or [])}
                if pending["consumer_lag"] == 0 and not pending["active"] and not pending["busy"]:
                    return _complete(op, "ok", {**(op.value or {}), "quiet": True, **pending}, node)
            if time.monotonic() > deadline:
                return _complete(op, "fail", {**(op.value or {}), "quiet": False, **pending}, node, "not quiet yet")
            time.sleep(0.2)

    def _read_ledger(self, op: Op, service: str, node: str) -> Op:
        if service not in self.LEDGER_SERVICES:
            return _complete(op, "fail", op.value, node, f"unknown service {service!r}")
        ledgers: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for name, a in self.addrs.items():
            api = PipelineClient(Connection(a.address, a.port, timeout=self.timeout))
            try:
                ledgers[name] = api.ledger(service)
            except ClientError as e:
                errors[name] = str(e)
            finally:
                api.close()
        value = {"service": service, "ledgers": ledgers}
        if errors:
            value["errors"] = errors
        return _complete(op, "ok" if ledgers else "fail", value, node, "; ".join(f"{k}: {e}" for k, e in errors.items()) or None)
