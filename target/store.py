"""Quorum-replicated key/value store for orders and saga state.

Each key lives on ``n`` replicas: a hash of the key picks a start in the
sorted list of node names and the next ``n`` names (wrapping) are the key's
replicas; the first is its *home*. Every node runs a replica (durable:
append-only JSON lines, fsync before acking) and can coordinate.

- get (any node): ask all replicas, take the newest (by HLC ts) of the first
  R replies, write it back until W replicas hold it, then answer. The
  write-back is what makes reads linearizable rather than merely regular: once
  a read returned a version, every later read quorum overlaps a replica that
  holds it. (``no-write-back`` skips it.)
- put and cas: coordinated by the key's home node under a per-key lock (a
  non-home node forwards). The coordinator first reads R replicas and picks a
  timestamp above the newest it saw (ABD's query phase), so a node with a
  slow clock cannot write "into the past", then waits for W acks.
  Serialising writes per key at one coordinator is what makes cas atomic; a
  quorum store alone cannot do compare-and-set. When the home node refuses
  connections (it is down) the next replica in order coordinates; when the
  home times out the write fails as unknown, because the home may still be
  working on it. (So cas is linearizable while at most one coordinator per key
  is alive; a home restarted in the middle of a fallback's cas is a documented
  window.)
- ``weak-quorum`` uses W=1, R=1: R+W <= N, so a read can miss an
  acknowledged write.
- The replication the store runs with (N, W, R, after any bug flag) is
  reported at ``/metrics`` as the gauges ``store_replicas``,
  ``store_write_quorum`` and ``store_read_quorum``, and in the log line the
  store writes when it starts: the checkers judge quorum overlap from what
  the node says it does, not from the options the test asked for.

A put that gets fewer than W acks raises ``NoQuorum``: its effect is unknown
(some replicas may hold it), and the HTTP answer is 503 with definite=false.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from target import faults
from target.fanout import Workers, fan_out
from target.hlc import ZERO, Timestamp
from target.pool import CallError, http_call, suspect
from target.router import HTTPError, Request, Router

if TYPE_CHECKING:
    import logging

    from target.context import NodeContext

_ABSENT = object()
#: A hedged read asks one more replica when the first ones have not answered by then.
HEDGE_SECONDS = 0.05


class NoQuorum(Exception):
    """Fewer than the needed replicas answered; the outcome of a write is unknown."""

    definite = False

    def __init__(self, op: str, key: str, needed: int, got: int, errors: dict[str, str]):
        detail = "; ".join(f"{n}: {e}" for n, e in sorted(errors.items())) or "no error detail"
        super().__init__(f"{op} {key!r}: {got} of {needed} replicas answered ({detail})")
        self.op, self.key, self.needed, self.got, self.errors = op, key, needed, got, errors


def placement(key: str, nodes: list[str], n: int) -> list[str]:
    """The n replicas of key, home first: a stable function of the key and the names."""
    return list(_placement(key, tuple(sorted(nodes)), n))


@functools.lru_cache(maxsize=8192)
def _placement(key: str, names: tuple[str, ...], n: int) -> tuple[str, ...]:
    start = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % len(names)
    return tuple(names[(start + i) % len(names)] for i in range(min(n, len(names))))


class Replica:
    """One node's copy: newest version per key, kept in a durable append-only file.

    Durability is group-committed: ``put`` appends under the lock, then waits
    until an fsync that started after its append has finished. One fsync
    covers every append made while the previous one ran, so concurrent puts
    share it, yet no put returns (and no reply acknowledges it) before its row
    is on disk. ``get`` never shows a version whose row is not yet synced.
    """

    def __init__(self, path: Path, log: logging.Logger | None = None):
        self.path = path
        self._log = log
        self._data: dict[str, tuple[Any, Timestamp]] = {}
        self._lock = threading.Lock()  # guards _data, _row_seq, the file's buffer and _written
        self._sync_lock = threading.Lock()  # one fsync at a time
        self._written = 0  # rows appended so far
        self._synced = 0  # rows known to be on disk
        self._row_seq: dict[str, int] = {}  # key -> the row number of its newest version
        self.fsyncs = 0
        self._load()
        self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - kept open for appends

    def _load(self) -> None:
        if not self.path.exists():
            return
        self._truncate_torn_tail()
        with open(self.path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                try:
                    row = json.loads(line)
                    ts = Timestamp.from_json(row["ts"])
                    key, value = row["key"], row["value"]
                except (ValueError, KeyError, TypeError):
                    if self._log:  # a torn last line after a crash: it was never acked
                        self._log.warning("%s:%d: skipped unreadable store row", self.path, lineno)
                    continue
                cur = self._data.get(key)
                if cur is None or ts > cur[1]:
                    self._data[key] = (value, ts)

    def _truncate_torn_tail(self) -> None:
        """Cut a partial last line (a crash mid-append: never acked) so appends start clean."""
        with open(self.path, "rb+") as f:
            data = f.read()
            end = data.rfind(b"\n") + 1
            if end < len(data):
                if self._log:
                    self._log.warning("%s: dropped %d bytes of a torn last row", self.path, len(data) - end)
                f.truncate(end)
                f.flush()
                os.fsync(f.fileno())

    def get(self, key: str) -> tuple[Any, Timestamp] | None:
        with self._lock:
            value = self._data.get(key)
            seq = self._row_seq.get(key, 0)
        if seq > self._synced:
            self._sync(seq)  # its row is still in flight: show it only once it is durable
        return value

    def put(self, key: str, value: Any, ts: Timestamp) -> tuple[bool, Timestamp]:
        """Keep (value, ts) if newer; durable before returning. Returns (applied, held ts).

        A put that is not applied still waits for the held version's row: its
        ack says "this replica holds ts or newer", which must survive a crash.
        """
        with self._lock:
            cur = self._data.get(key)
            if cur is not None and cur[1] >= ts:
                seq, applied, held = self._row_seq.get(key, 0), False, cur[1]
            else:
                self._file.write(json.dumps({"key": key, "value": value, "ts": ts.to_json()}) + "\n")
                self._written += 1
                seq, applied, held = self._written, True, ts
                self._data[key] = (value, ts)
                self._row_seq[key] = seq
        if seq > self._synced:
            self._sync(seq)
        return applied, held

    def _sync(self, seq: int) -> None:
        """Return once row ``seq`` is on disk, fsyncing (for everyone queued) if needed."""
        with self._sync_lock:
            if self._synced >= seq:
                return  # the fsync we queued behind covered our row
            with self._lock:
                self._file.flush()
                upto = self._written
            os.fsync(self._file.fileno())
            self.fsyncs += 1
            self._synced = upto

    @property
    def rows_written(self) -> int:
        return self._written

    def keys(self) -> list[str]:
        with self._lock:
            return sorted(self._data)

    def close(self) -> None:
        with self._lock:
            self._file.close()


def _ts_or_none(raw: Any) -> Timestamp | None:
    return None if raw is None else Timestamp.from_json(raw)


class StoreClient:
    """Replica endpoints plus the coordinator for get/put/cas (see module doc)."""

    def __init__(self, ctx: NodeContext):
        self.ctx = ctx
        repl = ctx.config.replication
        weak = ctx.bugs.on("weak-quorum")
        self.n = repl.n
        self.w = 1 if weak else repl.w
        self.r = 1 if weak else repl.r
        self.write_back = not ctx.bugs.on("no-write-back")
        self.timeout = ctx.config.request_timeout
        self.hedge = min(HEDGE_SECONDS, self.timeout / 4)
        self._names = tuple(ctx.peers)
        self.replica = Replica(ctx.data_dir / "store.jsonl", ctx.log)
        self._pool = Workers(limit=128, name="store")
        self._key_locks: dict[str, threading.Lock] = {}
        ctx.metrics.collector(self._gauges)
        self._locks_lock = threading.Lock()
        ctx.log.info("store: replication N=%d W=%d R=%d%s", self.n, self.w, self.r,
                     " (bug weak-quorum: W=1, R=1)" if weak else "")

    def _gauges(self) -> dict[str, float]:
        """Rows appended and fsyncs done (their ratio is how well group commit batches), and
        the replication this store runs with, after any bug flag: N, W, R. Checkers read
        these to judge quorum overlap from what the node does, not from what it was asked."""
        return {"store_rows_written": self.replica.rows_written, "store_fsyncs": self.replica.fsyncs,
                "store_replicas": self.n, "store_write_quorum": self.w, "store_read_quorum": self.r}

    # ---- replica access (local call for this node, HTTP for the others) ----

    def _read_one(self, node: str, key: str) -> tuple[Any, Timestamp] | None:
        if node == self.ctx.node:
            return self.replica.get(key)
        status, body = http_call(self.ctx.url(node), "GET", f"/store/replica/get?key={_q(key)}",
                                 timeout=self.timeout)
        if status != 200:
            raise CallError(node, f"replica get answered {status}: {body.get('error')}")
        ts = _ts_or_none(body.get("ts"))
        return None if ts is None else (body.get("value"), ts)

    def _write_one(self, node: str, key: str, value: Any, ts: Timestamp) -> Timestamp:
        if node == self.ctx.node:
            return self.replica.put(key, value, ts)[1]
        status, body = http_call(self.ctx.url(node), "POST", "/store/replica/put",
                                 {"key": key, "value": value, "ts": ts.to_json()}, timeout=self.timeout)
        if status != 200:
            raise CallError(node, f"replica put answered {status}: {body.get('error')}")
        return Timestamp.from_json(body["ts"])

    def _quorum(self, nodes: list[str], need: int, fn: Callable[[str], Any]) -> tuple[dict[str, Any], dict[str, str]]:
        """Run fn(node) on all nodes in parallel; return once ``need`` succeeded (or none can)."""
        return fan_out(self._pool, nodes, need, fn, self.timeout + 0.5, local=self.ctx.node)

    # ---- coordinator ----

    def replicas(self, key: str) -> list[str]:
        return list(_placement(key, self._names, self.n))

    def _read_quorum(self, key: str) -> tuple[dict[str, tuple[Any, Timestamp] | None], tuple[Any, Timestamp] | None]:
        """The first R replies. Reads are hedged: R replicas are asked (this node and
        peers that have not failed lately first), a further one only when one of
        them fails or is slow, so a healthy cluster serves a read with R calls, not N."""
        nodes = sorted(self.replicas(key), key=lambda n: n != self.ctx.node and suspect(self.ctx.url(n)))
        replies, errors = fan_out(self._pool, nodes, self.r, lambda n: self._read_one(n, key),
                                  self.timeout + 0.5, local=self.ctx.node, hedge=self.hedge)
        if len(replies) < self.r:
            raise NoQuorum("read", key, self.r, len(replies), errors)
        versions = [v for v in replies.values() if v is not None]
        newest = max(versions, key=lambda v: v[1]) if versions else None
        return replies, newest

    def _write_quorum(self, key: str, value: Any, ts: Timestamp, nodes: list[str], need: int, op: str) -> None:
        if need <= 0:
            return
        acks, errors = self._quorum(nodes, need, lambda n: self._write_one(n, key, value, ts))
        if len(acks) < need:
            raise NoQuorum(op, key, need, len(acks), errors)

    def get(self, key: str) -> tuple[Any, Timestamp] | None:
        """Linearizable read (unless a bug flag is on): (value, ts) or None if absent."""
        start = time.monotonic()
        try:
            replies, newest = self._read_quorum(key)
            if newest is None:
                return None
            self.ctx.hlc.update(newest[1])
            if self.write_back:
                holders = [n for n, v in replies.items() if v is not None and v[1] == newest[1]]
                others = [n for n in self.replicas(key) if n not in holders]
                self._write_quorum(key, newest[0], newest[1], others, self.w - len(holders), "read write-back")
            return newest
        finally:
            self.ctx.metrics.observe("store_read_seconds", time.monotonic() - start)

    def _key_lock(self, key: str) -> threading.Lock:
        with self._locks_lock:
            return self._key_locks.setdefault(key, threading.Lock())

    def _coordinate(self, key: str, expected: Any, value: Any) -> tuple[bool, Any, Timestamp | None]:
        """Under the key lock: read, compare (unless expected is _ABSENT), write. Local only."""
        start = time.monotonic()
        try:
            with self._key_lock(key):
                _, newest = self._read_quorum(key)
                current = None if newest is None else newest[0]
                if expected is not _ABSENT and current != expected:
                    return False, current, None if newest is None else newest[1]
                ts = self.ctx.hlc.update(newest[1]) if newest else self.ctx.hlc.now()
                self._write_quorum(key, value, ts, self.replicas(key), self.w, "write")
                return True, value, ts
        finally:
            self.ctx.metrics.observe("store_write_seconds", time.monotonic() - start)

    def _route(self, key: str, expected: Any, value: Any) -> tuple[bool, Any, Timestamp | None]:
        """Coordinate here if this node is the first live replica, else forward to it."""
        body: dict[str, Any] = {"key": key, "value": value}
        if expected is not _ABSENT:
            body["expected"] = expected
        refused: dict[str, str] = {}
        for node in self.replicas(key):
            if node == self.ctx.node:
                return self._coordinate(key, expected, value)
            try:
                status, reply = http_call(self.ctx.url(node), "POST", "/store/coord/write", body,
                                          timeout=3 * self.timeout + 1)
            except CallError as e:
                if e.definite:
                    refused[node] = str(e)
                    continue  # that coordinator is down: the next replica takes over
                raise NoQuorum("write", key, 1, 0, {node: f"coordinator did not answer: {e}"}) from e
            if status == 503:
                raise NoQuorum("write", key, self.w, 0, {node: str(reply.get("error"))})
            if status != 200:
                raise HTTPError(status, str(reply.get("error")), reply.get("field"))
            ts = _ts_or_none(reply.get("ts"))
            if ts is not None:
                self.ctx.hlc.update(ts)
            return bool(reply["ok"]), reply.get("current"), ts
        raise NoQuorum("write", key, 1, 0, refused)

    def put(self, key: str, value: Any) -> Timestamp:
        """Write value; returns its timestamp once W replicas hold it, else raises NoQuorum."""
        ok, _, ts = self._route(key, _ABSENT, value)
        assert ok and ts is not None
        return ts

    def cas(self, key: str, expected: Any, new: Any) -> bool:
        """Atomically set key to new if its value is expected (None = absent). False on mismatch."""
        return self._route(key, expected, new)[0]

    def cas_detail(self, key: str, expected: Any, new: Any) -> tuple[bool, Any, Timestamp | None]:
        """cas that also returns (ok, current value, ts) for the HTTP 409 body."""
        return self._route(key, expected, new)

    def close(self) -> None:
        self._pool.shutdown()
        self.replica.close()

    # ---- HTTP ----

    def register(self, router: Router) -> None:
        router.add("GET", "/store/replica/get", self._h_replica_get)
        router.add("POST", "/store/replica/put", self._h_replica_put)
        router.add("POST", "/store/coord/write", self._h_coord_write)
        router.add("GET", "/kv/{key}", self._h_kv_get)
        router.add("PUT", "/kv/{key}", self._h_kv_put)
        router.add("POST", "/kv/{key}", self._h_kv_put)
        router.add("POST", "/kv/{key}/cas", self._h_kv_cas)

    def _h_replica_get(self, req: Request) -> tuple[int, dict[str, Any]]:
        key = req.query.get("key")
        if not key:
            raise HTTPError(400, "query parameter 'key' is required", "key")
        v = self.replica.get(key)
        return 200, {"key": key, "found": v is not None, "value": None if v is None else v[0],
                     "ts": None if v is None else v[1].to_json()}

    def _h_replica_put(self, req: Request) -> tuple[int, dict[str, Any]]:
        key = req.field("key", str)
        if "value" not in req.json:
            raise HTTPError(400, "missing field 'value'", "value")
        try:
            ts = Timestamp.from_json(req.json.get("ts"))
        except ValueError as e:
            raise HTTPError(400, str(e), "ts") from e
        self.ctx.hlc.update(ts)
        faults.delay_point(self.ctx, "store", "replica-put")
        applied, held = self.replica.put(key, req.json["value"], ts)
        return 200, {"ok": True, "applied": applied, "ts": held.to_json()}

    def _h_coord_write(self, req: Request) -> tuple[int, dict[str, Any]]:
        key = req.field("key", str)
        if "value" not in req.json:
            raise HTTPError(400, "missing field 'value'", "value")
        expected = req.json["expected"] if "expected" in req.json else _ABSENT
        try:
            ok, current, ts = self._coordinate(key, expected, req.json["value"])
        except NoQuorum as e:
            return 503, {"error": str(e), "definite": False}
        return 200, {"ok": ok, "current": current, "ts": None if ts is None else ts.to_json()}

    def _h_kv_get(self, req: Request) -> tuple[int, dict[str, Any]]:
        key = req.params["key"]
        try:
            v = self.get(key)
        except NoQuorum as e:
            return 503, {"error": str(e), "definite": True}
        if v is None:
            return 404, {"error": f"no such key {key!r}", "key": key}
        return 200, {"key": key, "value": v[0], "ts": v[1].to_json()}

    def _h_kv_put(self, req: Request) -> tuple[int, dict[str, Any]]:
        key = req.params["key"]
        if "value" not in req.json:
            raise HTTPError(400, "missing field 'value'", "value")
        try:
            ts = self.put(key, req.json["value"])
        except NoQuorum as e:
            return 503, {"error": str(e), "definite": False}
        return 200, {"key": key, "ok": True, "ts": ts.to_json()}

    def _h_kv_cas(self, req: Request) -> tuple[int, dict[str, Any]]:
        key = req.params["key"]
        for f in ("expected", "new"):
            if f not in req.json:
                raise HTTPError(400, f"missing field {f!r} (expected may be null: key absent)", f)
        try:
            ok, current, ts = self.cas_detail(key, req.json["expected"], req.json["new"])
        except NoQuorum as e:
            return 503, {"error": str(e), "definite": False}
        if not ok:
            return 409, {"error": "cas mismatch", "key": key, "current": current, "definite": True}
        return 200, {"key": key, "ok": True, "ts": None if ts is None else ts.to_json()}


def _q(key: str) -> str:
    from urllib.parse import quote

    return quote(key, safe="")


__all__ = ["NoQuorum", "Replica", "StoreClient", "ZERO", "placement"]
