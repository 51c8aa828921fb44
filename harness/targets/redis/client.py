"""The set client for Redis: SADD and SMEMBERS on the primary that Sentinel names.

Each op first asks Sentinel where the primary is (redis-py's
``Sentinel.discover_master``, the Sentinel of the client's own node first),
so the client follows a failover; a final read asks every Sentinel and goes
to the primary a majority names, the settled view after the run. Then one
command on a plain connection to that primary, with no retry anywhere:
redis-py's client object retries a command after a connection error, which
would send a write twice, so the connection is driven by hand.

What each outcome means (only a definite refusal is ``fail``):

* no primary found, or the connection refused: nothing was sent, ``fail``;
* ``READONLY`` (the node is a replica now), ``NOREPLICAS`` (fewer replicas
  than ``min-replicas-to-write``), ``LOADING``, ``MASTERDOWN``: Redis refused
  it, ``fail``;
* a timeout or a dropped connection after the command was sent: ``info``,
  never retried;
* with ``wait=N``, ``WAIT N`` follows every add; fewer than N replicas
  confirming leaves the add applied on the primary but unconfirmed: ``info``.

A read that went wrong in any way is ``fail``: a read changes nothing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

from harness.core.errors import TargetError
from harness.core.op import Op
from harness.core.placement import NodeAddr
from harness.core.protocols import Test

SERVICE = "seam"
#: Seconds a Sentinel gets to answer where the primary is.
SENTINEL_TIMEOUT = 0.5
#: Error codes with which Redis refuses a command without applying it (redis-py strips the
#: code of the ones it has a class for: see ``refused``).
REFUSALS = ("READONLY", "NOREPLICAS", "LOADING", "MASTERDOWN", "NOMASTERLINK", "OOM")


def _no_retry() -> Any:
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return Retry(NoBackoff(), 0)


def connection(host: str, port: int, timeout: float) -> Any:
    """A redis-py connection that never retries (connect it with ``.connect()``)."""
    from redis.connection import Connection

    return Connection(host=host, port=port, socket_timeout=timeout, socket_connect_timeout=timeout,
                      retry=_no_retry())


def command(host: str, port: int, *args: Any, timeout: float = 1.0) -> Any:
    """One command on a fresh connection; raises redis-py's errors."""
    conn = connection(host, port, timeout)
    try:
        conn.connect()
        conn.send_command(*args)
        return conn.read_response()
    finally:
        conn.disconnect()


def ask_sentinel(host: str, port: int, timeout: float = SENTINEL_TIMEOUT) -> tuple[str, int] | None:
    """Where the Sentinel at host:port says the primary is, or None (no answer)."""
    from redis.exceptions import RedisError

    try:
        found = command(host, port, "SENTINEL", "get-master-addr-by-name", SERVICE, timeout=timeout)
    except (RedisError, OSError):
        return None
    if not found:
        return None
    return _text(found[0]), int(found[1])


def ask_role(host: str, port: int, timeout: float = 1.0) -> tuple[Any, ...] | None:
    """ROLE: ("master", offset, replicas) or ("slave", host, port, state, offset); None: no answer."""
    from redis.exceptions import RedisError

    try:
        answer = command(host, port, "ROLE", timeout=timeout)
    except (RedisError, OSError):
        return None
    return tuple(_text(x) for x in answer)


def server_ready(host: str, port: int, replica: bool) -> None:
    """Raises unless the server answers and, for a replica, its link to the primary is up."""
    role = command(host, port, "ROLE")
    if replica and (_text(role[0]) != "slave" or _text(role[3]) != "connected"):
        raise TargetError(f"replica {host}:{port} is not in sync yet ({[_text(x) for x in role[:4]]})")


def sentinel_ready(host: str, port: int, others: int) -> None:
    """Raises unless the Sentinel knows the primary, its replicas and the other Sentinels."""
    masters = command(host, port, "SENTINEL", "MASTERS")
    if not masters:
        raise TargetError(f"sentinel {host}:{port} monitors nothing yet")
    fields = masters[0]
    pairs = fields.items() if isinstance(fields, dict) else zip(fields[::2], fields[1::2], strict=False)
    state = {_text(k): _text(v) for k, v in pairs}
    if int(state.get("num-other-sentinels", 0)) < others or int(state.get("num-slaves", 0)) < others:
        raise TargetError(f"sentinel {host}:{port} knows {state.get('num-other-sentinels')} other sentinels "
                          f"and {state.get('num-slaves')} replicas of {others}")


def refused(e: Exception) -> bool:
    """Redis answered with an error that says the command was not applied."""
    from redis.exceptions import BusyLoadingError, MasterDownError, OutOfMemoryError, ReadOnlyError

    if isinstance(e, (ReadOnlyError, BusyLoadingError, MasterDownError, OutOfMemoryError)):
        return True
    return str(e).split(" ", 1)[0] in REFUSALS


def _is_reply(e: Exception) -> bool:
    """An error Redis sent as its answer (not a timeout or a broken connection)."""
    from redis.exceptions import ConnectionError, ResponseError, TimeoutError

    return isinstance(e, ResponseError) and not isinstance(e, (ConnectionError, TimeoutError))


def _text(x: Any) -> Any:
    return x.decode() if isinstance(x, bytes) else x


class RedisSetClient:
    """One client process bound to one node: its Sentinel is asked first (see module docstring)."""

    def __init__(self, addrs: dict[str, NodeAddr], *, timeout: float, sentinel_offset: int | None,
                 wait: int = 0, node: str | None = None):
        self.addrs = addrs
        self.timeout = timeout
        self.sentinel_offset = sentinel_offset  # None: no Sentinels, the first node is the primary
        self.wait = wait
        self.node = node
        self._sentinel: Any = None
        self._conn: Any = None
        self._conn_to: tuple[str, int] | None = None

    def open(self, test: Test | None, node: str) -> RedisSetClient:
        if node not in self.addrs:
            raise TargetError(f"client: unknown node {node!r}; this run has {', '.join(self.addrs)}")
        return RedisSetClient(self.addrs, timeout=self.timeout, sentinel_offset=self.sentinel_offset,
                              wait=self.wait, node=node)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.disconnect()
            self._conn, self._conn_to = None, None
        if self._sentinel is not None:
            for s in self._sentinel.sentinels:
                s.close()
            self._sentinel = None

    # -- where the primary is -------------------------------------------------

    def _sentinels(self) -> list[tuple[str, int]]:
        order = [self.node, *(n for n in self.addrs if n != self.node)]
        return [(self.addrs[n].address, self.addrs[n].port + (self.sentinel_offset or 0)) for n in order if n]

    def primary(self, final: bool = False) -> tuple[str, int] | None:
        """The primary's address: asked of Sentinel (a majority of them for a final read)."""
        if self.sentinel_offset is None:
            a = next(iter(self.addrs.values()))
            return a.address, a.port
        if final:
            views = Counter(v for v in (ask_sentinel(h, p) for h, p in self._sentinels()) if v)
            top = views.most_common(1)
            return top[0][0] if top and top[0][1] > len(self.addrs) // 2 else None
        from redis.exceptions import RedisError
        from redis.sentinel import MasterNotFoundError, Sentinel

        if self._sentinel is None:
            kwargs = {"socket_timeout": SENTINEL_TIMEOUT, "socket_connect_timeout": SENTINEL_TIMEOUT,
                      "retry": _no_retry()}
            self._sentinel = Sentinel(self._sentinels(), sentinel_kwargs=kwargs)
        try:
            host, port = self._sentinel.discover_master(SERVICE)
        except (MasterNotFoundError, RedisError, OSError):
            return None
        return _text(host), int(port)

    def _node_of(self, addr: tuple[str, int]) -> str:
        return next((n for n, a in self.addrs.items() if (a.address, a.port) == addr), f"{addr[0]}:{addr[1]}")

    def _connect(self, addr: tuple[str, int]) -> Any:
        if self._conn is not None and self._conn_to != addr:
            self._conn.disconnect()
            self._conn = None
        if self._conn is None:
            conn = connection(addr[0], addr[1], self.timeout)
            conn.connect()  # raises before anything is sent
            self._conn, self._conn_to = conn, addr
        return self._conn

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.disconnect()
        self._conn, self._conn_to = None, None

    # -- ops ------------------------------------------------------------------

    def invoke(self, test: Test | None, op: Op) -> Op:
        if self.node is None:
            raise TargetError("redis client used before open(test, node)")
        if op.f not in ("add", "read"):
            raise TargetError(f"redis set client: unknown f {op.f!r} (add, read)")
        from redis.exceptions import RedisError

        key, element = op.value
        addr = self.primary(final=bool(op.extra.get("final")))
        if addr is None:
            return self._done(op, "fail", op.value, None, "no primary: no Sentinel named one")
        served = self._node_of(addr)
        try:
            conn = self._connect(addr)
        except (RedisError, OSError) as e:
            self._drop()
            return self._done(op, "fail", op.value, served, f"connect: {type(e).__name__}: {e}")
        if op.f == "read":
            return self._read(op, conn, addr, served)
        applied = False  # SADD answered: whatever WAIT says, the element is on the primary
        try:
            conn.send_command("SADD", key, element)
            conn.read_response()
            applied = True
            if self.wait:
                conn.send_command("WAIT", self.wait, max(1, int(self.timeout * 500)))
                confirmed = int(conn.read_response())
                if confirmed < self.wait:
                    return self._done(op, "info", op.value, served,
                                      f"WAIT {self.wait}: {confirmed} replica(s) confirmed; applied on the primary only")
            return self._done(op, "ok", op.value, served)
        except (RedisError, OSError) as e:
            self._drop()  # after any error the connection's state is unknown: the next op connects afresh
            # An error reply to SADD means Redis did not run it; a timeout or a reset may come after it ran.
            definite = not applied and (refused(e) or _is_reply(e))
            return self._done(op, "fail" if definite else "info", op.value, served, f"{type(e).__name__}: {e}")

    def _read(self, op: Op, conn: Any, addr: tuple[str, int], served: str) -> Op:
        """SMEMBERS; a kept-alive connection the server has closed since (a restart) is tried
        once more on a fresh one: a read changes nothing, so trying again is safe."""
        from redis.exceptions import ConnectionError, RedisError

        key = op.value[0]
        for attempt in (1, 2):
            try:
                conn.send_command("SMEMBERS", key)
                members = conn.read_response()
                return self._done(op, "ok", [key, sorted(int(_text(m)) for m in members)], served)
            except (RedisError, OSError) as e:
                self._drop()
                if attempt == 2 or not isinstance(e, (ConnectionError, ConnectionResetError, BrokenPipeError)):
                    return self._done(op, "fail", op.value, served, f"{type(e).__name__}: {e}")
                try:
                    conn = self._connect(addr)
                except (RedisError, OSError) as again:
                    return self._done(op, "fail", op.value, served, f"connect: {type(again).__name__}: {again}")
        raise AssertionError("unreachable")

    def _done(self, op: Op, typ: str, value: Any, served: str | None, error: str | None = None) -> Op:
        extra = {**op.extra, "node": self.node}
        if served is not None:
            extra["primary"] = served
        if error:
            extra["error"] = error
        return replace(op, type=typ, value=value, extra=extra)
