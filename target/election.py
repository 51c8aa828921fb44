"""Leader election with majority leases; the term is the fencing token.

Every node is an acceptor and a candidate.

- A candidate picks a term above every term it knows and asks all nodes to
  *promise* it (POST /election/prepare). An acceptor promises only a term
  higher than any it promised before (stored durably, fsync, so a restarted
  node never promises or reuses an old term), and only while no other node
  holds an unexpired lease from it.
- With a majority of promises the candidate asks for a *lease*
  (POST /election/lease): an acceptor grants it for ``lease_seconds`` from
  the moment it receives the request, unless it promised a higher term or
  another node's lease from it is still running.
- A majority of grants makes the candidate leader until ``send time +
  SAFETY * lease_seconds``, measured from *before* it sent the request, so the
  leader's lease always ends before any granting acceptor would grant to
  someone else (given clock rates within 1/SAFETY of each other). The leader
  renews every lease/4 and steps down when its lease runs out or an acceptor
  reports a higher term.
- A restarted acceptor has forgotten whose lease it granted, so it refuses
  leases and promises to everyone for one lease period.

A paused leader (SIGSTOP) wakes up believing nothing; ``is_leader()`` checks
the deadline on every call, but an action started before the pause can still
land late: that is what the fencing token (``term()``) is for.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from target.fanout import fan_out
from target.pool import CallError, http_call
from target.router import HTTPError, Request, Router

if TYPE_CHECKING:
    from target.context import NodeContext

SAFETY = 0.75


def _write_durable(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


class Acceptor:
    """This node's votes: the highest promised term (durable) and the lease it granted."""

    def __init__(self, path: Path, lease_seconds: float, clock: Any = time.monotonic):
        self.path = path
        self.lease_seconds = lease_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self.promised = 0
        if path.exists():
            try:
                self.promised = int(json.loads(path.read_text())["promised"])
            except (ValueError, KeyError, TypeError) as e:
                raise SystemExit(f"{path}: unreadable election state ({e}); it holds the highest "
                                 f"promised term: restore it, do not delete it") from e
        self.holder: str | None = None
        self.holder_term = 0
        self.changes = 0  # how often the (holder, term) we granted changed: leader churn
        self.expiry = 0.0
        self.quiet_until = clock() + lease_seconds  # forgot our grants: wait one lease out

    def _live_other(self, node: str, now: float) -> bool:
        return self.holder is not None and self.holder != node and now < self.expiry

    def _promise(self, term: int) -> None:
        _write_durable(self.path, {"promised": term})
        self.promised = term

    def prepare(self, node: str, term: int) -> dict[str, Any]:
        with self._lock:
            now = self._clock()
            if now < self.quiet_until:
                return {"ok": False, "promised": self.promised, "reason": "recovering"}
            if term <= self.promised:
                return {"ok": False, "promised": self.promised, "reason": "term too low"}
            if self._live_other(node, now):
                return {"ok": False, "promised": self.promised, "reason": f"lease held by {self.holder}"}
            self._promise(term)
            return {"ok": True, "promised": term}

    def lease(self, node: str, term: int) -> dict[str, Any]:
        with self._lock:
            now = self._clock()
            if now < self.quiet_until:
                return {"ok": False, "promised": self.promised, "reason": "recovering"}
            if term < self.promised:
                return {"ok": False, "promised": self.promised, "reason": "term too low"}
            if self._live_other(node, now):
                return {"ok": False, "promised": self.promised, "reason": f"lease held by {self.holder}"}
            if term > self.promised:
                self._promise(term)
            if (self.holder, self.holder_term) != (node, term):
                self.changes += 1
            self.holder, self.holder_term, self.expiry = node, term, now + self.lease_seconds
            return {"ok": True, "promised": self.promised}

    def release(self, node: str) -> None:
        """Forget our grant to node: only for a leader stepping down, whose own lease is over."""
        with self._lock:
            if self.holder == node:
                self.holder, self.expiry = None, 0.0

    def view(self) -> tuple[str | None, int, int]:
        """(live lease holder or None, its term, highest promised term)."""
        with self._lock:
            live = self.holder is not None and self._clock() < self.expiry
            return (self.holder if live else None), self.holder_term, self.promised


class Election:
    def __init__(self, ctx: NodeContext, *, clock: Any = time.monotonic):
        self.ctx = ctx
        self.node = ctx.node
        self.lease_seconds = ctx.config.lease_seconds
        self.timeout = min(ctx.config.request_timeout, self.lease_seconds / 2)
        self._clock = clock
        self.acceptor = Acceptor(ctx.data_dir / "election.json", self.lease_seconds, clock)
        self._lock = threading.Lock()
        self._term = 0  # the term we lead in; 0 when not leading
        self._lease_until = 0.0
        self._known = self.acceptor.promised
        self._rng = random.Random(f"{ctx.config.seed}-{self.node}")
        self._pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="election")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        ctx.metrics.collector(self._gauges)

    # ---- queries ----

    def is_leader(self) -> bool:
        with self._lock:
            return self._term > 0 and self._clock() < self._lease_until

    def token(self) -> int | None:
        """The fencing token if this node leads right now, else None (one atomic check)."""
        with self._lock:
            return self._term if self._term > 0 and self._clock() < self._lease_until else None

    def term(self) -> int:
        """The term this node leads in, or the highest term it knows of."""
        tok = self.token()
        if tok is not None:
            return tok
        _, _, promised = self.acceptor.view()
        with self._lock:
            return max(self._known, promised)

    def leader(self) -> tuple[str | None, int]:
        """Who this node believes leads, and in which term."""
        tok = self.token()
        if tok is not None:
            return self.node, tok
        holder, holder_term, promised = self.acceptor.view()
        if holder is not None:
            return holder, holder_term
        with self._lock:
            return None, max(self._known, promised)

    # ---- the candidate loop ----

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="election", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=2 * self.lease_seconds)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self) -> None:
        tick = self.lease_seconds / 4
        campaign_at: float | None = None
        while not self._stop.wait(tick):
            try:
                with self._lock:
                    leading = self._term > 0
                if leading:
                    self._renew()
                    continue
                holder, _, _ = self.acceptor.view()
                if holder is not None and holder != self.node:
                    campaign_at = None
                    continue
                now = self._clock()
                if campaign_at is None:  # random delay so candidates rarely collide
                    campaign_at = now + self._rng.uniform(0, self.lease_seconds / 2)
                if now >= campaign_at:
                    campaign_at = None
                    self._campaign()
            except Exception:  # noqa: BLE001 - the loop must outlive any one bad round
                self.ctx.log.exception("election round failed")

    def _ask(self, path: str, term: int) -> tuple[dict[str, Any], dict[str, str]]:
        peers = self.ctx.peers
        majority = len(peers) // 2 + 1

        def one(node: str) -> dict[str, Any]:
            if node == self.node:
                fn = self.acceptor.prepare if path.endswith("prepare") else self.acceptor.lease
                return fn(self.node, term)
            status, body = http_call(self.ctx.url(node), "POST", path, {"node": self.node, "term": term},
                                     timeout=self.timeout)
            if status != 200:
                raise CallError(node, f"{path} answered {status}")
            return body

        replies, errors = fan_out(self._pool, peers, len(peers), one, self.timeout + 0.2)
        granted = {n: r for n, r in replies.items() if r.get("ok")}
        highest = max([int(r.get("promised", 0)) for r in replies.values()] + [0])
        with self._lock:
            self._known = max(self._known, highest)
        if len(granted) >= majority:
            return granted, errors
        return {}, {**errors, **{n: str(r.get("reason")) for n, r in replies.items() if not r.get("ok")}}

    def _campaign(self) -> None:
        with self._lock:
            term = max(self._known, self.acceptor.promised) + 1
        promised, why = self._ask("/election/prepare", term)
        if not promised:
            self.ctx.log.debug("campaign for term %d failed: %s", term, why)
            return
        sent = self._clock()
        granted, why = self._ask("/election/lease", term)
        if not granted:
            self.ctx.log.info("term %d promised but lease refused: %s", term, why)
            return
        with self._lock:
            self._term, self._lease_until = term, sent + SAFETY * self.lease_seconds
        self.ctx.metrics.inc("elections_won")
        self.ctx.log.info("became leader in term %d (lease %.2fs, granted by %s)", term,
                          self.lease_seconds, ",".join(sorted(granted)))

    def _renew(self) -> None:
        with self._lock:
            term = self._term
        sent = self._clock()
        granted, why = self._ask("/election/lease", term)
        with self._lock:
            if self._term != term:
                return
            behind = self._known > term
            if granted:
                self._lease_until = max(self._lease_until, sent + SAFETY * self.lease_seconds)
                stepping_down = False
            else:
                expired = self._clock() >= self._lease_until
                stepping_down = behind or expired
                if stepping_down:
                    self._term, self._lease_until = 0, 0.0
        if granted and behind:
            self._absorb(term)
        if stepping_down:
            # Our own acceptor may have re-granted us during the failed round; drop that
            # so it does not keep naming us (or blocking the real leader) for a lease.
            self.acceptor.release(self.node)
            self.ctx.metrics.inc("leader_stepdowns")
            self.ctx.log.info("stepped down from term %d: %s", term,
                              f"term {self._known} seen" if behind else f"renewal failed ({why})")

    def _absorb(self, term: int) -> None:
        """Still leading, but some acceptor promised a higher term (a candidate that could
        not see our lease): move to a fresh term above it, or that acceptor would refuse
        our renewals forever and never learn who leads."""
        with self._lock:
            new = max(self._known, self.acceptor.promised) + 1
        promised, _ = self._ask("/election/prepare", new)
        if not promised:
            return
        sent = self._clock()
        granted, _ = self._ask("/election/lease", new)
        if not granted:
            return
        with self._lock:
            if self._term != term:
                return
            self._term, self._lease_until = new, sent + SAFETY * self.lease_seconds
        self.ctx.log.info("raised leader term %d -> %d to absorb a higher promise", term, new)

    def _gauges(self) -> dict[str, float]:
        node, term = self.leader()
        return {"election_term": term, "is_leader": 1 if self.is_leader() else 0,
                "leader_known": 0 if node is None else 1, "leader_changes": self.acceptor.changes}

    # ---- HTTP ----

    def register(self, router: Router) -> None:
        router.add("POST", "/election/prepare", lambda r: self._h_vote(r, self.acceptor.prepare))
        router.add("POST", "/election/lease", lambda r: self._h_vote(r, self.acceptor.lease))
        router.add("GET", "/leader", self._h_leader)

    def _h_vote(self, req: Request, fn: Any) -> tuple[int, dict[str, Any]]:
        node = req.field("node", str)
        if node not in self.ctx.config.peers:
            raise HTTPError(400, f"unknown node {node!r}", "node")
        term = req.field("term", int)
        if term < 1:
            raise HTTPError(400, "term must be >= 1", "term")
        return 200, fn(node, term)

    def _h_leader(self, req: Request) -> tuple[int, dict[str, Any]]:
        node, term = self.leader()
        return 200, {"node": node, "term": term, "self": self.node, "is_leader": self.is_leader()}
