"""The postgres list-append client against a fake psycopg connection: the SQL it sends
for reads and appends, and which outcome each error gives (ok, fail, info)."""

from __future__ import annotations

import re
from typing import Any

import psycopg
import pytest

from harness.core.errors import TargetError
from harness.core.op import Op
from harness.core.placement import local_addrs
from harness.targets.postgres.client import PostgresClient

ADDRS = local_addrs(["n1", "n2"], "/tmp/seam-r1")


class Cursor:
    def __init__(self, rows: list[tuple[Any, ...]] | None = None, rowcount: int = 0, status: str = "") -> None:
        self.rows, self.rowcount, self.statusmessage = rows or [], rowcount, status

    def fetchone(self) -> tuple[Any, ...] | None:
        return self.rows[0] if self.rows else None


class FakeConn:
    """One table of rows per name, applied at once (no isolation: one client at a time).
    ``fail`` maps a statement's first word (or COMMIT) to the exception it raises once."""

    def __init__(self, db: dict[str, dict[int, str]], fail: dict[str, Exception] | None = None,
                 commit_status: str = "COMMIT") -> None:
        self.db, self.fail, self.commit_status = db, dict(fail or {}), commit_status
        self.sent: list[str] = []
        self.closed = False

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> Cursor:
        if self.closed:
            raise psycopg.OperationalError("the connection is closed")
        self.sent.append(sql)
        word = sql.split()[0]
        if word in self.fail:
            raise self.fail.pop(word)
        if word == "SELECT":
            t, k = re.search(r"FROM (\w+)", sql).group(1), params[0]  # type: ignore[union-attr]
            v = self.db.setdefault(t, {}).get(k)
            return Cursor([(v,)] if v is not None else [])
        if word == "UPDATE":
            t = re.search(r"UPDATE (\w+)", sql).group(1)  # type: ignore[union-attr]
            v, k = params
            rows = self.db.setdefault(t, {})
            if k not in rows:
                return Cursor(rowcount=0)
            rows[k] += "," + v
            return Cursor(rowcount=1)
        if word == "INSERT":
            t = re.search(r"INTO (\w+)", sql).group(1)  # type: ignore[union-attr]
            k, _, v = params
            rows = self.db.setdefault(t, {})
            if k in rows:
                raise psycopg.errors.UniqueViolation("duplicate key value violates unique constraint")
            rows[k] = v
            return Cursor(rowcount=1)
        if word == "COMMIT":
            return Cursor(status=self.commit_status)
        return Cursor(status=word)

    def close(self) -> None:
        self.closed = True


def client(conns: list[FakeConn], isolation: str = "repeatable-read") -> PostgresClient:
    made = iter(conns)

    def connect(a: Any, *, timeout: float) -> FakeConn:
        try:
            return next(made)
        except StopIteration:
            raise psycopg.OperationalError("connection refused") from None

    return PostgresClient(dict(ADDRS), primary="n1", isolation=isolation, connect=connect).open(None, "n2")


def txn(*mops: list[Any]) -> Op:
    return Op(index=0, time=0, process=0, type="invoke", f="txn", value=[list(m) for m in mops])


def test_reads_and_appends_and_every_op_goes_to_the_primary_at_the_isolation_level() -> None:
    conn = FakeConn({})
    c = client([conn])
    done = c.invoke(None, txn(["r", 4, None], ["append", 4, 1], ["append", 4, 2], ["r", 4, None], ["append", 5, 3]))
    assert done.type == "ok" and done.extra["node"] == "n1"
    assert done.value == [["r", 4, None], ["append", 4, 1], ["append", 4, 2], ["r", 4, [1, 2]], ["append", 5, 3]]
    assert conn.sent[0] == "BEGIN ISOLATION LEVEL REPEATABLE READ" and conn.sent[-1] == "COMMIT"
    assert conn.db == {"txn1": {4: "1,2"}, "txn2": {5: "3"}}
    first_append = conn.sent[2:6]
    assert [s.split()[0] for s in first_append] == ["UPDATE", "SAVEPOINT", "INSERT", "RELEASE"]


@pytest.mark.parametrize(("isolation", "words"), [("serializable", "SERIALIZABLE"),
                                                  ("read-committed", "READ COMMITTED")])
def test_isolation_levels(isolation: str, words: str) -> None:
    conn = FakeConn({})
    client([conn], isolation).invoke(None, txn(["r", 1, None]))
    assert conn.sent[0] == f"BEGIN ISOLATION LEVEL {words}"


def test_an_insert_that_loses_the_race_rolls_back_to_the_savepoint_and_updates() -> None:
    class Racing(FakeConn):
        def execute(self, sql: str, params: tuple[Any, ...] = ()) -> Cursor:
            if sql.startswith("INSERT"):  # another transaction inserted the key just now
                self.db.setdefault("txn0", {})[3] = "7"
            return super().execute(sql, params)

    conn = Racing({})
    done = client([conn]).invoke(None, txn(["append", 3, 9]))
    assert done.type == "ok" and conn.db["txn0"][3] == "7,9"
    assert "ROLLBACK TO SAVEPOINT upsert" in conn.sent


def test_a_serialization_failure_is_fail_and_the_transaction_is_rolled_back() -> None:
    conn = FakeConn({}, fail={"UPDATE": psycopg.errors.SerializationFailure("could not serialize access")})
    c = client([conn])
    done = c.invoke(None, txn(["r", 1, None], ["append", 1, 5]))
    assert done.type == "fail" and "SerializationFailure" in done.extra["error"]
    assert conn.sent[-1] == "ROLLBACK" and not conn.closed
    assert c.invoke(None, txn(["append", 1, 6])).type == "ok"  # the same connection goes on


def test_a_serialization_failure_at_commit_is_fail() -> None:
    conn = FakeConn({}, fail={"COMMIT": psycopg.errors.SerializationFailure("could not serialize access")})
    assert client([conn], "serializable").invoke(None, txn(["append", 1, 5])).type == "fail"


def test_a_connection_lost_during_commit_is_info_and_the_next_op_reconnects() -> None:
    first = FakeConn({}, fail={"COMMIT": psycopg.OperationalError("server closed the connection unexpectedly")})
    second = FakeConn({})
    c = client([first, second])
    done = c.invoke(None, txn(["append", 1, 5]))
    assert done.type == "info" and "in doubt" in done.extra["error"] and first.closed
    assert c.invoke(None, txn(["r", 1, None])).type == "ok" and second.sent


def test_completion_unknown_at_commit_is_info() -> None:
    class Unknown(psycopg.errors.TransactionRollback):
        sqlstate = "40003"

    conn = FakeConn({}, fail={"COMMIT": Unknown("statement completion unknown")})
    assert client([conn]).invoke(None, txn(["append", 1, 5])).type == "info"


def test_a_connection_lost_before_commit_is_fail() -> None:
    conn = FakeConn({}, fail={"SELECT": psycopg.OperationalError("server closed the connection unexpectedly")})
    done = client([conn]).invoke(None, txn(["r", 1, None], ["append", 1, 2]))
    assert done.type == "fail" and "COMMIT" not in conn.sent


def test_a_commit_that_answers_rollback_is_fail() -> None:
    done = client([FakeConn({}, commit_status="ROLLBACK")]).invoke(None, txn(["append", 1, 5]))
    assert done.type == "fail" and "ROLLBACK" in done.extra["error"]


def test_no_server_is_fail() -> None:
    done = client([]).invoke(None, txn(["append", 1, 5]))
    assert done.type == "fail" and done.extra["error"].startswith("connect:")


def test_misuse_is_a_target_error() -> None:
    base = PostgresClient(dict(ADDRS), primary="n1", isolation="serializable")
    with pytest.raises(TargetError, match="before open"):
        base.invoke(None, txn(["r", 1, None]))
    with pytest.raises(TargetError, match="unknown node"):
        base.open(None, "n9")
    with pytest.raises(TargetError, match="isolation 'snapshot'"):
        PostgresClient(dict(ADDRS), primary="n1", isolation="snapshot")


def test_a_serial_database_gives_a_history_the_checker_finds_serializable() -> None:
    """The generator's ops through the client into one database, one at a time: a
    serializable history, which the transactional checker must accept."""
    from checkers.txn import TxnChecker, TxnOptions
    from harness.workloads.list_append import ListAppendGen

    gen = ListAppendGen(7, max_txn_length=4)
    c = client([FakeConn({})])
    history: list[Op] = []
    for n in range(400):
        invoke = Op(index=2 * n, time=2 * n, process=n % 5, type="invoke", f="txn", value=gen.template(n)["value"])
        done = c.invoke(None, invoke)
        history += [invoke, Op(index=2 * n + 1, time=2 * n + 1, process=n % 5, type=done.type, f="txn",
                               value=done.value)]
    result = TxnChecker(TxnOptions("list-append", consistency_models=("strict-serializable",))).check(None, history, None)
    assert result.valid is True, result.anomalies[:1]


class Marked:
    """A connection whose server names a data directory (the adapter's MARKER setting)."""

    def __init__(self, data_dir: str | None) -> None:
        self.data_dir, self.closed, self.sent = data_dir, False, []

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> Cursor:
        self.sent.append(sql)
        return Cursor([(self.data_dir,)])

    def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize("theirs", ["/tmp/seam-other/n1/data", None])
def test_a_server_of_another_run_on_our_port_is_refused_and_closed(monkeypatch: pytest.MonkeyPatch,
                                                                  theirs: str | None) -> None:
    """Another run took the port while ours was down: its server must not get our transactions."""
    from harness.targets.postgres import client as module

    conn = Marked(theirs)
    monkeypatch.setattr(psycopg, "connect", lambda **_: conn)
    with pytest.raises(module.NotOurServer, match="not this run's"):
        module.connect(ADDRS["n1"], timeout=1.0)
    assert conn.closed and conn.sent == ["SELECT current_setting('seam.data_dir', true)"]
    done = PostgresClient(dict(ADDRS), primary="n1", isolation="serializable").open(None, "n1").invoke(
        None, txn(["append", 1, 5]))
    assert done.type == "fail" and "NotOurServer" in done.extra["error"]
    assert not any(s.startswith("BEGIN") for s in conn.sent)  # no transaction was sent


def test_our_own_server_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.targets.postgres import client as module

    conn = Marked(ADDRS["n1"].data_dir)
    monkeypatch.setattr(psycopg, "connect", lambda **_: conn)
    assert module.connect(ADDRS["n1"], timeout=1.0) is conn and not conn.closed
