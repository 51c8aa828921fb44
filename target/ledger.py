"""A durable, append-only service ledger with an idempotency table and a fence.

Every mutating call on payment, inventory and shipping goes through
`Ledger.apply`, which does three things in a fixed order under one lock:

1. **Fence** (before anything is written): a fencing token lower than the
   highest token this ledger has ever accepted is rejected, the rejection is
   logged as ``rejected token 7 < 12 for refund:order-42`` and recorded in the
   fence log.  With the ``fence-after-write`` bug (seed 003, snippet 2) the
   row is written first and the token compared afterwards, so a stale leader's
   write lands.
2. **Dedup**: a key already in the idempotency table returns the first
   result, marked ``"replay": true``, and changes nothing; the
   ``on_duplicate`` callback counts it (the seed's duplicate-key alert).
3. **Append**: the row is written as one JSON line and fsync'ed before
   `apply` returns, so an acknowledged entry survives SIGKILL.

The idempotency table and the highest token are not stored separately: they
are rebuilt from the ledger file on start, so there is one source of truth.
A torn last line (a crash mid-append, never acknowledged) is cut off on load.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ACCEPT = "accept"
REJECT = "reject"


@dataclass(frozen=True)
class Outcome:
    """What `Ledger.apply` did: ``applied``, ``replay`` or ``rejected``."""

    status: str
    row: dict[str, Any] | None = None
    highest: int = 0
    reason: str = ""

    @property
    def rejected(self) -> bool:
        return self.status == "rejected"

    def body(self) -> dict[str, Any]:
        """The JSON reply a service sends for this outcome."""
        if self.rejected:
            return {"error": self.reason, "field": "token", "highest_token": self.highest}
        out = dict(self.row or {})
        out["replay"] = self.status == "replay"
        return out


@dataclass
class _State:
    by_key: dict[str, dict[str, Any]] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)
    highest: int = 0


def _read_jsonl(path: Path, log: logging.Logger) -> list[dict[str, Any]]:
    """Read a JSON-lines file, cutting off a torn (unacknowledged) last line."""
    if not path.exists():
        return []
    data = path.read_bytes()
    cut = data.rfind(b"\n") + 1
    if cut != len(data):
        log.warning(
            "%s: dropping a torn last line of %d bytes (crash mid-append)", path, len(data) - cut
        )
        with open(path, "r+b") as fh:
            fh.truncate(cut)
            os.fsync(fh.fileno())
    rows = []
    for lineno, line in enumerate(data[:cut].splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"{path}:{lineno}: corrupt ledger row ({exc}); move the file away to start empty"
            ) from exc
    return rows


def _append(path: Path, row: dict[str, Any]) -> None:
    line = (json.dumps(row, sort_keys=True, separators=(",", ":")) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


class Ledger:
    """One service's ledger file ``<dir>/<name>.ledger.jsonl`` and fence log
    ``<dir>/<name>.fence.jsonl``.

    Invariants: a row is on disk (fsync'ed) before `apply` returns it; a key
    appears in at most one row (unless a caller bypasses keys, which is the
    ``refund-without-key`` bug); without ``fence_after_write`` no row carries a
    token lower than a row before it.
    """

    def __init__(
        self,
        directory: Path,
        name: str,
        *,
        fence_after_write: bool = False,
        on_duplicate: Callable[[str], None] | None = None,
        log: logging.Logger | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.path = Path(directory) / f"{name}.ledger.jsonl"
        self.fence_path = Path(directory) / f"{name}.fence.jsonl"
        self.fence_after_write = fence_after_write
        self._on_duplicate = on_duplicate
        self._log = log or logging.getLogger(f"target.ledger.{name}")
        self._clock = clock
        self._lock = threading.Lock()
        Path(directory).mkdir(parents=True, exist_ok=True)
        self._state = _State()
        for row in _read_jsonl(self.path, self._log):
            self._remember(row)
        _read_jsonl(self.fence_path, self._log)  # cut a torn line before we append

    def _remember(self, row: dict[str, Any]) -> None:
        self._state.rows.append(row)
        self._state.by_key.setdefault(row["key"], row)
        self._state.highest = max(self._state.highest, int(row.get("token", 0)))

    @property
    def highest_token(self) -> int:
        with self._lock:
            return self._state.highest

    def rows(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._state.rows)

    def fence_rows(self) -> list[dict[str, Any]]:
        with self._lock:
            return _read_jsonl(self.fence_path, self._log)

    def lookup(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            return self._state.by_key.get(key)

    def apply(self, key: str, token: int, op: str, entry: dict[str, Any]) -> Outcome:
        """Fence, dedup, then durably append ``{key, token, op, **entry}``."""
        with self._lock:
            highest = self._state.highest
            if not self.fence_after_write and token < highest:
                return self._reject(key, token, highest)
            first = self._state.by_key.get(key)
            if first is not None:
                if self._on_duplicate is not None:
                    self._on_duplicate(key)
                self._log.info(
                    "%s: duplicate key %s (replaying seq %s)", self.name, key, first["seq"]
                )
                return Outcome("replay", first, highest)
            row = dict(entry)
            row.update(seq=len(self._state.rows), key=key, token=token, op=op, wall=self._clock())
            _append(self.path, row)
            self._remember(row)
            if self.fence_after_write and token < highest:
                # The bug: the stale write is already on disk; noticing now is too late.
                self._log.warning(
                    "%s: token %d < %d for %s noticed after the write",
                    self.name,
                    token,
                    highest,
                    key,
                )
                self._fence_row(ACCEPT, key, token, highest, late=True)
            else:
                self._fence_row(ACCEPT, key, token, highest)
            return Outcome("applied", row, self._state.highest)

    def _reject(self, key: str, token: int, highest: int) -> Outcome:
        reason = f"rejected token {token} < {highest} for {key}"
        self._log.warning("%s: %s", self.name, reason)
        self._fence_row(REJECT, key, token, highest)
        return Outcome("rejected", None, highest, reason)

    def _fence_row(
        self, verdict: str, key: str, token: int, highest: int, *, late: bool = False
    ) -> None:
        row: dict[str, Any] = {
            "verdict": verdict,
            "key": key,
            "token": token,
            "highest": highest,
            "ledger": self.name,
            "wall": self._clock(),
        }
        if late:
            row["late"] = True
        _append(self.fence_path, row)


# --- the HTTP face shared by payment, inventory and shipping -----------------

ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:")
MAX_ID = 128


def check_id(value: Any, name: str) -> str:
    """A non-empty id of safe characters; HTTPError 400 naming the field otherwise."""
    from target.router import HTTPError

    if not isinstance(value, str) or not value or len(value) > MAX_ID or not set(value) <= ID_CHARS:
        raise HTTPError(
            400, f"{name} must be 1-{MAX_ID} characters of [A-Za-z0-9-_.:], got {value!r}", name
        )
    return value


@dataclass(frozen=True)
class Operation:
    """One mutating endpoint of a ledger service.

    ``fields`` are the required body fields beyond order_id/key/token, with
    their types; ``rule(ledger, order_id, values)`` returns the row's extra
    fields or raises HTTPError (402 declined, 409 out of stock) without
    writing; ``key_optional`` is true only for the refund-without-key bug.
    """

    name: str
    fields: dict[str, Any]
    rule: Callable[[Ledger, str, dict[str, Any]], dict[str, Any]]
    key_optional: bool = False


def find(ledger: Ledger, op: str, order_id: str) -> dict[str, Any] | None:
    """The first non-void row of ``op`` for an order (what a compensation undoes)."""
    for row in ledger.rows():
        if row["op"] == op and row.get("order_id") == order_id and not row.get("void"):
            return row
    return None


def _positive(req: Any, name: str, kind: Any) -> Any:
    from target.router import HTTPError

    value = req.field(name, kind)
    if value <= 0 or value != value or value > 1e12:
        raise HTTPError(
            400, f"field {name!r} must be a positive number below 1e12, got {value!r}", name
        )
    return value


def mount(ctx: Any, router: Any, service: str, operations: list[Operation]) -> Ledger:
    """Register ``POST /<service>/<op>`` for each operation and ``GET /<service>/ledger``."""
    from target import faults
    from target.router import HTTPError

    def duplicate(key: str) -> None:
        ctx.metrics.inc("duplicate_key_hits")
        ctx.metrics.inc("duplicate_key_hits", labels={"service": service})

    ledger = Ledger(
        ctx.data_dir,
        service,
        fence_after_write=ctx.bugs.on("fence-after-write"),
        on_duplicate=duplicate,
        log=ctx.log,
    )

    def make(op: Operation) -> Any:
        def handle(req: Any) -> tuple[int, dict[str, Any]]:
            order_id = check_id(req.field("order_id"), "order_id")
            token = req.field("token", int)
            if token < 0:
                raise HTTPError(400, f"field 'token' must be >= 0, got {token}", "token")
            key = req.field("key", str, None) if op.key_optional else req.field("key")
            if key is not None:
                check_id(key, "key")
            values = {}
            for name, kind in op.fields.items():
                values[name] = (
                    _positive(req, name, kind)
                    if kind in (int, (int, float))
                    else req.field(name, kind)
                )
            stamp = ctx.hlc.now()
            if "hlc" in req.json:
                try:
                    stamp = ctx.hlc.update(req.json["hlc"])
                except ValueError as e:
                    raise HTTPError(400, str(e), "hlc") from e
            entry = op.rule(ledger, order_id, values)
            if key is None:  # the refund-without-key bug: every call is a new refund
                key = f"{op.name}:{order_id}:call-{uuid.uuid4().hex[:12]}"
            out = ledger.apply(
                key,
                token,
                op.name,
                {"order_id": order_id, "node": ctx.node, "hlc": list(stamp), **entry},
            )
            if out.rejected:
                ctx.metrics.inc("fence_rejections", labels={"service": service})
                return 409, out.body()
            ctx.metrics.inc(
                "ledger_rows" if out.status == "applied" else "ledger_replays",
                labels={"service": service},
            )
            return 200, out.body()

        return handle

    for op in operations:
        router.add("POST", f"/{service}/{op.name}", faults.wrap(ctx, service, op.name, make(op)))

    def show(req: Any) -> tuple[int, dict[str, Any]]:
        return 200, {
            "service": service,
            "node": ctx.node,
            "highest_token": ledger.highest_token,
            "rows": ledger.rows(),
            "fence": ledger.fence_rows(),
        }

    router.add("GET", f"/{service}/ledger", show)
    return ledger
