"""The order event log and its consumer with committed offsets.

Each node keeps its own append-only event log (one partition per node, like a
Kafka partition per broker): the order service appends ``order-placed`` and
``order-cancelled`` events to the log of the node that took the request,
fsync'ed before the client is answered.  Order is guaranteed inside one
partition only; the saga copes with a cancel arriving before its placement.

The orchestrator consumes every partition with committed offsets kept in the
quorum store (``offsets:saga:<partition>``), so a new leader resumes where the
old one committed.  Delivery is at-least-once: the effect is applied, *then*
the offset committed, so a crash between the two redelivers the event and the
effect's own dedup makes it exactly-once in effect (seed 002).  The
``commit-before-effect`` bug swaps the two, so a crash in between loses it.

Only the leader of one term may consume (issue 11: a leader paused by SIGSTOP
woke and went on consuming in its old term, and the next leader resumed past
sagas it never drove).  So the consumer asks ``leading()`` before every event
and stops the moment it is false, and a ``StaleTerm`` raised by a commit or an
effect (a newer term owns the offsets or the record) stops the whole pass.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from target.ledger import _read_jsonl

PLACED = "order-placed"
CANCELLED = "order-cancelled"
KINDS = (PLACED, CANCELLED)
MAX_BATCH = 200


class StaleTerm(Exception):
    """This consumer's term no longer leads: its lease lapsed, or a newer term owns the
    committed offsets or the record it was about to write.  The pass stops at once."""


def offset_record(value: Any) -> tuple[int, int]:
    """(offset, term) of a committed-offset record ``{"offset": n, "term": t}``.

    A plain integer is the format from before offsets carried their term: it
    reads as term 0, which any leader may overwrite.
    """
    if value is None:
        return 0, 0
    if isinstance(value, dict):
        return int(value["offset"]), int(value.get("term", 0))
    return int(value), 0


class EventLog:
    """``<dir>/events.jsonl``: this node's partition.  Offsets are line numbers."""

    def __init__(self, directory: Path, log: logging.Logger | None = None) -> None:
        self.path = Path(directory) / "events.jsonl"
        Path(directory).mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._events = _read_jsonl(self.path, log or logging.getLogger("target.events"))

    def append(self, event: dict[str, Any]) -> int:
        """Append durably; returns the event's offset."""
        with self._lock:
            offset = len(self._events)
            row = dict(event, offset=offset)
            line = (json.dumps(row, sort_keys=True, separators=(",", ":")) + "\n").encode()
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
            self._events.append(row)
            return offset

    def read(self, start: int, limit: int = MAX_BATCH) -> tuple[list[dict[str, Any]], int]:
        """Events from offset ``start`` (at most ``limit``) and the log's end offset."""
        with self._lock:
            start = max(0, start)
            return list(self._events[start : start + max(0, limit)]), len(self._events)

    @property
    def end(self) -> int:
        with self._lock:
            return len(self._events)


# Fetch(partition, start) -> (events, end); raises on an unreachable partition.
Fetch = Callable[[str, int], tuple[list[dict[str, Any]], int]]


@dataclass
class Consumer:
    """Consumes every partition, applying ``handle`` then committing.

    ``load`` reads a committed offset and ``commit`` stores one (both backed by
    the quorum store on a node, plain dicts in unit tests); on a node ``load``
    also *claims* the offsets for this term and both raise ``StaleTerm`` when a
    newer term owns them.  ``leading`` is asked before every event: a leader
    that lost its lease mid-batch stops there.  ``between`` runs between the
    first and the second of (effect, commit): the fault layer uses it to crash
    or stall the process exactly there.  ``commit_first`` is the
    ``commit-before-effect`` bug.
    """

    partitions: list[str]
    fetch: Fetch
    load: Callable[[str], int]
    commit: Callable[[str, int], None]
    handle: Callable[[dict[str, Any]], None]
    commit_first: bool = False
    between: Callable[[dict[str, Any]], None] = lambda event: None
    leading: Callable[[], bool] = lambda: True
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("target.events"))
    offsets: dict[str, int] = field(default_factory=dict)
    ends: dict[str, int] = field(default_factory=dict)

    def reset(self) -> None:
        """Forget cached offsets: a newly elected leader re-reads the committed ones."""
        self.offsets.clear()

    def lag(self) -> int:
        """Events published but not yet committed, over the partitions we could see."""
        return sum(max(0, self.ends.get(p, 0) - self.offsets.get(p, 0)) for p in self.ends)

    def claim(self) -> bool:
        """Load every committed offset not loaded yet (on a node: claim it for this term).

        An unreachable store only delays that partition to the next round; False
        means a newer term owns the offsets, so this consumer must stop.
        """
        for part in self.partitions:
            if part in self.offsets:
                continue
            try:
                self.offsets[part] = self.load(part)
            except StaleTerm as exc:
                self._stop(exc)
                return False
            except Exception as exc:  # retried next round
                self.log.info("events: offset of partition %s not loaded this round: %s", part, exc)
        return True

    def poll(self) -> int:
        """One pass over all partitions; returns how many events were handled."""
        handled = 0
        for part in self.partitions:
            if not self.leading():
                break
            try:
                handled += self._poll_partition(part)
            except StaleTerm as exc:
                self._stop(exc)
                break
            except Exception as exc:  # one unreachable partition must not stall the others
                self.log.info("events: partition %s skipped this round: %s", part, exc)
        return handled

    def _stop(self, exc: StaleTerm) -> None:
        self.log.warning("events: stopped consuming: %s", exc)
        self.offsets.clear()  # whoever leads next re-reads (and claims) the committed ones

    def _poll_partition(self, part: str) -> int:
        if part not in self.offsets:
            self.offsets[part] = self.load(part)
        events, end = self.fetch(part, self.offsets[part])
        self.ends[part] = end
        handled = 0
        for event in events:
            if not self.leading():  # e.g. woken from SIGSTOP past the lease, mid-batch
                self.log.info(
                    "events: partition %s: stopped before offset %d, no longer leading",
                    part,
                    event["offset"],
                )
                break
            nxt = event["offset"] + 1
            if self.commit_first:
                self.commit(part, nxt)
                self.offsets[part] = nxt
                self.between(event)
                self.handle(event)
            else:
                self.handle(event)
                self.between(event)
                self.commit(part, nxt)
                self.offsets[part] = nxt
            handled += 1
        return handled


def validate_event(kind: str, order: dict[str, Any]) -> dict[str, Any]:
    """The event body for an order record (the fields a saga needs)."""
    if kind not in KINDS:
        raise ValueError(f"unknown event kind {kind!r}; known: {', '.join(KINDS)}")
    return {"type": kind, **{k: order[k] for k in ("order_id", "sku", "qty", "amount")}}


# --- on a node -----------------------------------------------------------------

_logs: dict[int, EventLog] = {}
_logs_lock = threading.Lock()


def log_for(ctx: Any) -> EventLog:
    """This node's partition (created on first use: order.py may register first)."""
    with _logs_lock:
        if id(ctx) not in _logs:
            _logs[id(ctx)] = EventLog(ctx.data_dir, ctx.log)
        return _logs[id(ctx)]


def publish(ctx: Any, kind: str, order: dict[str, Any]) -> int:
    """Append an order event to this node's partition, stamped with HLC and wall clock."""
    event = validate_event(kind, order)
    event.update(node=ctx.node, hlc=ctx.hlc.now().to_json(), wall=time.time())
    offset = log_for(ctx).append(event)
    ctx.metrics.inc("events_published", labels={"type": kind})
    return offset


def register(ctx: Any, router: Any) -> None:
    """``GET /events?from=N&limit=M`` -> {events, end, node}: read this partition."""
    from target.router import HTTPError

    def read(req: Any) -> tuple[int, dict[str, Any]]:
        try:
            start = int(req.query.get("from", "0"))
        except ValueError:
            raise HTTPError(
                400, f"from must be an integer offset, got {req.query.get('from')!r}", "from"
            ) from None
        try:
            limit = int(req.query.get("limit", str(MAX_BATCH)))
        except ValueError:
            raise HTTPError(
                400, f"limit must be an integer, got {req.query.get('limit')!r}", "limit"
            ) from None
        if start < 0 or not 0 <= limit <= MAX_BATCH:
            raise HTTPError(
                400,
                f"need from >= 0 and 0 <= limit <= {MAX_BATCH}",
                "from" if start < 0 else "limit",
            )
        events, end = log_for(ctx).read(start, limit)
        return 200, {"node": ctx.node, "events": events, "end": end}

    log_for(ctx)
    router.add("GET", "/events", read)
