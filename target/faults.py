"""Application faults on demand, armed through a secret-protected admin endpoint.

``POST /admin/fault {secret, service, op, kind, seconds, count}`` arms a fault
for the next ``count`` calls of one operation on this node (``count`` 0 means
until cleared); ``POST /admin/fault/clear {secret}`` disarms all;
``GET /admin/faults`` lists what is armed.  Without the node's
``admin_secret`` (or when the config has none) the answer is 403.

Kinds, and where they act:
- ``lost-response`` (payment/inventory/shipping ops, orders): apply the
  effect, then drop the connection without a reply (seed 000: the refund
  succeeded, the response never came back);
- ``slow-response``: apply the effect, then answer after ``seconds``;
- ``down``: do NOT apply; drop the connection, as a crashed service would
  (used to show the retry budget holding while payment is out);
- ``stall`` (service ``saga``, op = a step name such as ``ship``): the
  orchestrator, having already taken its fencing token, sleeps ``seconds``
  before sending that step: a GC pause at the worst moment, made
  deterministic so the stale-leader test can SIGSTOP the node right there;
- ``crash`` (service ``events``, op ``consume``): the process exits between
  the effect and the offset commit (or the commit and the effect with
  ``commit-before-effect``): the crash the at-least-once contract is about;
- ``stall`` (service ``store``, op ``replica-put``): a replica sleeps
  ``seconds`` before applying a write it was sent, so the write sits on its
  coordinator alone meanwhile (what reads without write-back trip over);
- ``stall`` (service ``events``, op ``consume``): the consumer sleeps
  ``seconds`` at that same point, mid-batch, so a test can SIGSTOP a leader
  there and check it does not go on consuming in its old term when woken.
"""

from __future__ import annotations

import hmac
import os
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

from target.router import DropConnection, HTTPError, Request

KINDS = ("lost-response", "slow-response", "down", "stall", "crash")
MAX_SECONDS = 600.0


@dataclass
class Fault:
    service: str
    op: str
    kind: str
    seconds: float = 0.0
    count: int = 1  # calls left; 0 = unlimited
    fired: int = 0


class FaultTable:
    """Armed faults by (service, op); thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: dict[tuple[str, str], Fault] = {}

    def arm(self, fault: Fault) -> None:
        with self._lock:
            self._faults[(fault.service, fault.op)] = fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, service: str, op: str) -> Fault | None:
        """The armed fault for this call, if any; spends one of its count."""
        with self._lock:
            f = self._faults.get((service, op))
            if f is None:
                return None
            f.fired += 1
            if f.count and f.fired >= f.count:
                del self._faults[(service, op)]
            return f

    def listing(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(f) for f in self._faults.values()]


_tables: dict[int, FaultTable] = {}
_tables_lock = threading.Lock()


def table(ctx: Any) -> FaultTable:
    """The fault table of one node context (one per process in practice)."""
    with _tables_lock:
        return _tables.setdefault(id(ctx), FaultTable())


def wrap(ctx: Any, service: str, op: str, handler: Any) -> Any:
    """A handler with the request-level faults of (service, op) applied around it.

    It also counts calls per operation (``service_calls{service,op}``), so a
    test can see that the service received two calls but wrote one row.
    """

    def handle(req: Request) -> tuple[int, Any]:
        ctx.metrics.inc("service_calls", labels={"service": service, "op": op})
        fault = table(ctx).take(service, op)
        if fault is not None and fault.kind == "down":
            ctx.log.warning("fault: %s/%s down: dropping the call unapplied", service, op)
            raise DropConnection()
        result = handler(req)
        if fault is not None and fault.kind == "lost-response":
            ctx.log.warning(
                "fault: %s/%s applied (status %s), dropping the response", service, op, result[0]
            )
            raise DropConnection()
        if fault is not None and fault.kind == "slow-response":
            ctx.log.warning("fault: %s/%s applied, answering after %gs", service, op, fault.seconds)
            time.sleep(fault.seconds)
        return result

    return handle


def stall_point(ctx: Any, step: str) -> None:
    """Called by the saga after taking its token, before sending ``step``."""
    fault = table(ctx).take("saga", step)
    if fault is not None and fault.kind == "stall":
        ctx.log.warning(
            "fault: saga stalls %gs before sending %s (token already taken)", fault.seconds, step
        )
        ctx.metrics.inc("saga_stalls")
        time.sleep(fault.seconds)


def delay_point(ctx: Any, service: str, op: str) -> None:
    """Called where a ``stall`` of (service, op) sleeps before doing the work: the
    store's replica put (``store``/``replica-put``), so a write sits on its
    coordinator alone for ``seconds`` while reads go on."""
    fault = table(ctx).take(service, op)
    if fault is not None and fault.kind == "stall":
        ctx.log.warning("fault: %s/%s stalls %gs before applying", service, op, fault.seconds)
        time.sleep(fault.seconds)


def crash_point(ctx: Any, where: str) -> None:
    """Called by the consumer between effect and commit; exits (or sleeps) if armed."""
    fault = table(ctx).take("events", "consume")
    if fault is not None and fault.kind == "crash":
        ctx.log.error("fault: crashing the node at %s (armed by /admin/fault)", where)
        for h in ctx.log.handlers:
            h.flush()
        os._exit(86)
    if fault is not None and fault.kind == "stall":
        ctx.log.warning("fault: consumer stalls %gs at %s (offset not committed)", fault.seconds,
                        where)
        time.sleep(fault.seconds)


def _check_secret(ctx: Any, req: Request) -> None:
    expected = ctx.config.admin_secret
    if not expected:
        raise HTTPError(
            403, "admin endpoint disabled: this node's config has no admin_secret", "secret"
        )
    given = req.json.get("secret")
    if not isinstance(given, str) or not hmac.compare_digest(given.encode(), expected.encode()):
        raise HTTPError(403, "wrong or missing admin secret", "secret")


def _arm(ctx: Any, req: Request) -> tuple[int, dict[str, Any]]:
    _check_secret(ctx, req)
    service = req.field("service")
    op = req.field("op")
    kind = req.field("kind")
    if kind not in KINDS:
        raise HTTPError(400, f"unknown fault kind {kind!r}; known: {', '.join(KINDS)}", "kind")
    seconds = float(req.field("seconds", (int, float), 0.0))
    if not 0 <= seconds <= MAX_SECONDS:
        raise HTTPError(400, f"seconds must be between 0 and {MAX_SECONDS:g}", "seconds")
    count = req.field("count", int, 1)
    if count < 0:
        raise HTTPError(400, "count must be >= 0 (0 = until cleared)", "count")
    fault = Fault(service, op, kind, seconds, count)
    table(ctx).arm(fault)
    ctx.log.warning("fault armed: %s", asdict(fault))
    return 200, {"armed": asdict(fault), "node": ctx.node}


def _clear(ctx: Any, req: Request) -> tuple[int, dict[str, Any]]:
    _check_secret(ctx, req)
    table(ctx).clear()
    return 200, {"cleared": True, "node": ctx.node}


def register(ctx: Any, router: Any) -> None:
    router.add("POST", "/admin/fault", lambda req: _arm(ctx, req))
    router.add("POST", "/admin/fault/clear", lambda req: _clear(ctx, req))
    router.add(
        "GET",
        "/admin/faults",
        lambda req: (200, {"faults": table(ctx).listing(), "node": ctx.node}),
    )
