"""The list-append client for PostgreSQL, as Jepsen's PostgreSQL test does it (psycopg 3).

Keys live in a few tables (``txn0``, ``txn1``, ...: one per key group, key
``k`` in ``txn{k mod tables}``), one row per key: ``id`` (the primary key),
``sk`` (the same key, unindexed) and ``val``, the list as text (``1,5,9``).
A read selects ``val``; an append updates ``val = val || ',' || v`` and, when
no row was there, inserts one inside a savepoint, so that losing the race to
insert the same key (a unique violation) rolls back the insert alone and the
update is tried again.

Every op is one transaction at the run's isolation level
(``BEGIN ISOLATION LEVEL ...`` ... ``COMMIT``). What a completion says:

* ``ok``: COMMIT answered ``COMMIT``;
* ``fail``: the transaction certainly did not commit: any error before COMMIT
  was sent (the server rolls back a transaction whose connection is gone), a
  serialization failure or deadlock (SQLSTATE class 40 but 40003, completion
  unknown) at any point, a COMMIT
  that answered ``ROLLBACK``, no connection at all, or a connection to a server
  that is not this run's (``ours``);
* ``info``: the connection broke, or anything else went wrong, while COMMIT
  was in flight: it may or may not have committed.

A broken connection is dropped and the next op opens a new one. A server that
is paused never answers; the interpreter's ``op_timeout`` records such an op
as ``info`` and abandons its thread.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from harness.core.errors import TargetError
from harness.core.op import Op
from harness.core.placement import NodeAddr
from harness.core.protocols import Test
from harness.targets.postgres.adapter import DBNAME, DBUSER, MARKER, table

#: --target-opt isolation -> the SQL words.
LEVELS = {"serializable": "SERIALIZABLE", "repeatable-read": "REPEATABLE READ", "read-committed": "READ COMMITTED"}


def connect(a: NodeAddr, *, timeout: float) -> Any:
    """An autocommit psycopg connection to the server on ``a`` (we send BEGIN ourselves),
    once it has shown it is this node's server (``ours``)."""
    import psycopg

    conn = psycopg.connect(host=a.address, port=a.port, user=DBUSER, dbname=DBNAME, autocommit=True,
                           connect_timeout=max(1, round(timeout)), application_name="seam")
    try:
        ours(conn, a)
    except BaseException:
        conn.close()
        raise
    return conn


class NotOurServer(Exception):
    """The server on a node's address and port belongs to another run (see ``ours``)."""


def ours(conn: Any, a: NodeAddr) -> None:
    """NotOurServer unless the server on the connection runs ``a``'s data directory.

    An address and port name a server only while it listens: when this run's
    server is down (a kill, a slow restart), another run can take the port,
    and this run's restart then fails to bind. Without this check the clients
    would run their transactions in the other run's database, and its appends
    would look like garbage and aborted reads here (and ours there). Each
    postmaster carries its data directory as a setting of ours (``MARKER``).
    """
    row = conn.execute(f"SELECT current_setting('{MARKER}', true)").fetchone()
    found = row[0] if row else None
    if found != a.data_dir:
        raise NotOurServer(f"{a.name}: the PostgreSQL server at {a.address}:{a.port} is not this run's "
                           f"(it serves {found or 'a data directory it does not name'}, this run's is "
                           f"{a.data_dir}): another run took the port while this one's server was down; "
                           "give each run its own ports (--base-port)")


def create_tables(conn: Any, tables: int) -> None:
    for i in range(tables):
        conn.execute(f"CREATE TABLE IF NOT EXISTS txn{i} (id int NOT NULL PRIMARY KEY, sk int NOT NULL, val text)")


class UpsertFailed(Exception):
    """An append found no row, lost the race to insert one, and still found no row."""


class InDoubt(Exception):
    """COMMIT was sent and no clear answer came back."""


class PostgresClient:
    """Client for the list-append workload; every process talks to the ``primary`` node."""

    def __init__(self, addrs: dict[str, NodeAddr], *, primary: str, isolation: str, tables: int = 3,
                 timeout: float = 5.0, connect: Any = connect):
        if isolation not in LEVELS:
            raise TargetError(f"isolation {isolation!r}: choose one of {', '.join(LEVELS)}")
        self.addrs = addrs
        self.primary = primary
        self.isolation = isolation
        self.tables = tables
        self.timeout = timeout
        self._connect = connect
        self.conn: Any = None
        self.opened = False

    def open(self, test: Test | None, node: str) -> PostgresClient:
        if node not in self.addrs or self.primary not in self.addrs:
            raise TargetError(f"client: unknown node {node!r}; this run has {', '.join(self.addrs)}")
        c = PostgresClient(self.addrs, primary=self.primary, isolation=self.isolation, tables=self.tables,
                           timeout=self.timeout, connect=self._connect)
        c.opened = True
        return c

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:  # closing a broken connection: nothing left to do
                pass
            self.conn = None

    def invoke(self, test: Test | None, op: Op) -> Op:
        if not self.opened:
            raise TargetError("postgres client used before open(test, node)")
        if op.f != "txn":
            raise TargetError(f"postgres client: unknown f {op.f!r} (txn)")
        import psycopg

        try:
            if self.conn is None or self.conn.closed:
                self.conn = self._connect(self.addrs[self.primary], timeout=self.timeout)
        except (psycopg.Error, OSError, NotOurServer) as e:  # no transaction was sent
            self.close()
            return self._done(op, "fail", op.value, f"connect: {type(e).__name__}: {e}")
        try:
            value = self._txn(op.value)
        except InDoubt as e:
            self.close()
            return self._done(op, "info", op.value, str(e))
        except (psycopg.Error, UpsertFailed, OSError) as e:
            self._rollback()
            return self._done(op, "fail", op.value, f"{type(e).__name__}: {e}".strip())
        return self._done(op, "ok", value)

    def _txn(self, mops: list[list[Any]]) -> list[list[Any]]:
        import psycopg

        conn = self.conn
        conn.execute(f"BEGIN ISOLATION LEVEL {LEVELS[self.isolation]}")
        done = [self._mop(conn, mop) for mop in mops]
        try:
            cur = conn.execute("COMMIT")
        except psycopg.Error as e:
            if _definite(e):
                raise
            raise InDoubt(f"in doubt: COMMIT sent, then {type(e).__name__}: {e}") from None
        except Exception as e:
            raise InDoubt(f"in doubt: COMMIT sent, then {type(e).__name__}: {e}") from None
        if cur.statusmessage != "COMMIT":  # an aborted transaction's COMMIT answers ROLLBACK
            raise UpsertFailed(f"COMMIT answered {cur.statusmessage}: the transaction was rolled back")
        return done

    def _mop(self, conn: Any, mop: list[Any]) -> list[Any]:
        f, k, v = mop
        t = table(int(k), self.tables)
        if f == "r":
            row = conn.execute(f"SELECT val FROM {t} WHERE id = %s", (k,)).fetchone()
            return [f, k, None if row is None or row[0] is None else [int(x) for x in row[0].split(",")]]
        if f == "append":
            if not self._update(conn, t, k, v) and not self._insert(conn, t, k, v) and not self._update(conn, t, k, v):
                raise UpsertFailed(f"append {v} to {k}: no row to update, and the insert lost a race")
            return [f, k, v]
        raise TargetError(f"postgres client: unknown micro-op {f!r} (r, append)")

    @staticmethod
    def _update(conn: Any, t: str, k: int, v: int) -> bool:
        cur = conn.execute(f"UPDATE {t} SET val = val || ',' || %s WHERE id = %s", (str(v), k))
        return bool(cur.rowcount)

    @staticmethod
    def _insert(conn: Any, t: str, k: int, v: int) -> bool:
        """Insert the key's row inside a savepoint; False if another transaction inserted it first."""
        import psycopg

        conn.execute("SAVEPOINT upsert")
        try:
            conn.execute(f"INSERT INTO {t} (id, sk, val) VALUES (%s, %s, %s)", (k, k, str(v)))
        except psycopg.errors.UniqueViolation:
            conn.execute("ROLLBACK TO SAVEPOINT upsert")
            return False
        conn.execute("RELEASE SAVEPOINT upsert")
        return True

    def _rollback(self) -> None:
        """End the failed transaction; a connection that cannot is dropped."""
        if self.conn is None:
            return
        try:
            if not self.conn.closed:
                self.conn.execute("ROLLBACK")
                return
        except Exception:  # broken: the server rolls it back itself
            pass
        self.close()

    def _done(self, op: Op, typ: str, value: Any, error: str | None = None) -> Op:
        extra = {**op.extra, "node": self.primary}
        if error:
            extra["error"] = error
        return replace(op, type=typ, value=value, extra=extra)


def _definite(e: Exception) -> bool:
    """An error that says the transaction did not commit: SQLSTATE class 40
    (serialization failure, deadlock, integrity violation at commit), except
    40003, statement completion unknown."""
    state = getattr(e, "sqlstate", None)
    return isinstance(state, str) and state.startswith("40") and state != "40003"
