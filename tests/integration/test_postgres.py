"""PostgreSQL for real: servers from Debian's postgresql package, faults that really happen,
the published result on a write skew.

* The adapter on one local server: initdb and the postmaster (as the postgres
  user when root); a kill ends the postmaster and every backend, the restart
  recovers what was committed; a pause stops all of them (kernel state T);
  teardown leaves no process.
* Jepsen's PostgreSQL 12.3 result, made to happen at once: two transactions
  that read x and y and then append to one each. At repeatable read both
  commit, and the checker finds G2-item, which Adya's repeatable read
  forbids and snapshot isolation allows; at serializable one of them fails.
* `seam test --target postgres --nemesis kill` end to end at serializable:
  kills happen, and the history is valid.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from harness.control.local import LocalRemote
from harness.core.errors import TargetError
from harness.core.op import Op
from harness.core.placement import NodeAddr
from harness.targets.postgres.adapter import PostgresTarget
from harness.targets.postgres.client import PostgresClient, connect
from tests.integration.test_run_local import run_dirs, seam
from tests.integration.test_targets_tutorial import free_base_port


def state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def gone(pid: int) -> bool:
    return not Path(f"/proc/{pid}").exists() or state(pid) in "ZX"


def wait_for(what: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = what()
        if got:
            return got
        time.sleep(0.05)
    return None


def require_postgres(target: PostgresTarget) -> None:
    """CI installs PostgreSQL (`make install`); there a missing server is a failure, not a skip."""
    try:
        target.bindir("n1")
    except TargetError as e:
        if os.environ.get("CI") == "true":
            raise AssertionError(f"PostgreSQL is missing on CI: {e}") from None
        pytest.skip(f"needs PostgreSQL's server binaries: {e}")


@pytest.fixture(scope="module")
def server() -> Any:
    # Under the temp dir itself (pytest's tmp_path is private to root, and the postgres
    # user must reach its data directory); 127.0.0.221:7981, which no other test names.
    root = tempfile.mkdtemp(prefix="seam-pgtest-")
    os.chmod(root, 0o755)
    addrs = {"n1": NodeAddr("n1", "127.0.0.221", "127.0.0.221", 7981, f"{root}/n1")}
    remote = LocalRemote()
    target = PostgresTarget(remote, addrs)
    require_postgres(target)
    try:
        target.setup(None, "n1")
        target.wait_ready()
        yield target
    finally:
        target.stop_all()
        target.teardown(None, "n1")
        remote.close()
        shutil.rmtree(root, ignore_errors=True)


def txn(process: int, *mops: list[Any]) -> Op:
    return Op(index=0, time=0, process=process, type="invoke", f="txn", value=[list(m) for m in mops])


def test_kill_pause_and_restart_really_happen_and_committed_data_survives(server: PostgresTarget) -> None:
    c = PostgresClient(server.addrs, primary="n1", isolation="serializable").open(None, "n1")
    assert c.invoke(None, txn(0, ["append", 1, 10], ["append", 1, 11])).type == "ok"
    pids = server.pids(None, "n1")
    assert len(pids) >= 3, "the postmaster and its background processes and backend"
    owner = pwd.getpwnam("postgres").pw_uid if os.getuid() == 0 else os.getuid()
    assert os.stat(server.addrs["n1"].data_dir).st_uid == owner  # never root: PostgreSQL refuses it

    assert sorted(server.kill(None, "n1")) == sorted(pids)
    assert wait_for(lambda: all(gone(p) for p in pids)), "a process of the killed server is still alive"
    assert c.invoke(None, txn(0, ["r", 1, None])).type == "fail"  # nobody there: it did not happen
    server.start(None, "n1")
    server.wait_ready(["n1"])
    assert c.invoke(None, txn(0, ["r", 1, None])).value == [["r", 1, [10, 11]]]

    paused = server.pids(None, "n1")
    for p in paused:
        os.kill(p, 19)  # SIGSTOP, as the pause nemesis does
    try:
        assert wait_for(lambda: all(state(p) == "T" for p in paused), 2.0)
    finally:
        for p in paused:
            os.kill(p, 18)  # SIGCONT
    assert c.invoke(None, txn(0, ["r", 1, None])).type == "ok"
    c.close()
    server.stop_all()
    assert wait_for(lambda: all(gone(p) for p in paused)), "stop_all left a process"
    server.start(None, "n1")  # for the next test
    server.wait_ready(["n1"])


def test_another_runs_server_on_our_port_is_not_taken_for_ours(server: PostgresTarget) -> None:
    """A second run whose server cannot bind (the first holds the address and port, as
    happens when another run took the port while this one's server was down): its start
    fails, naming the reason, instead of its clients running in the first run's database."""
    a = server.addrs["n1"]
    root = tempfile.mkdtemp(prefix="seam-pgtest-")
    os.chmod(root, 0o755)
    addrs = {"n1": NodeAddr("n1", a.address, a.host, a.port, f"{root}/n1")}
    other = PostgresTarget(LocalRemote(), addrs, ready_timeout=20)
    try:
        with pytest.raises(TargetError, match="not this run's|exited during start-up"):
            other.setup(None, "n1")
            other.wait_ready()
        done = PostgresClient(addrs, primary="n1", isolation="serializable").open(None, "n1").invoke(
            None, txn(0, ["append", 1, 99]))
        assert done.type == "fail" and "not this run's" in done.extra["error"]
    finally:
        other.stop_all()
        other.teardown(None, "n1")
        shutil.rmtree(root, ignore_errors=True)
    assert PostgresClient(server.addrs, primary="n1", isolation="serializable").open(None, "n1").invoke(
        None, txn(0, ["r", 1, None])).type == "ok"  # the first server is untouched


class Barrier:
    """Wraps a connection: the first UPDATE waits until both transactions have read."""

    def __init__(self, conn: Any, barrier: threading.Barrier) -> None:
        self.conn, self.barrier, self.waited = conn, barrier, False

    def execute(self, sql: str, params: Any = ()) -> Any:
        if sql.startswith("UPDATE") and not self.waited:
            self.waited = True
            self.barrier.wait(timeout=10)
        return self.conn.execute(sql, params)

    @property
    def closed(self) -> bool:
        return bool(self.conn.closed)

    def close(self) -> None:
        self.conn.close()


def write_skew(server: PostgresTarget, isolation: str, x: int) -> list[Op]:
    """x = [1], y = [2] (keys ``x`` and ``x + 1``, fresh for each call); then T1 reads both
    and appends to x while T2 reads both and appends to y."""
    a = server.addrs["n1"]
    y = x + 1
    setup = PostgresClient(server.addrs, primary="n1", isolation="serializable").open(None, "n1")
    first = setup.invoke(None, txn(9, ["append", x, 1], ["append", y, 2]))
    setup.close()
    barrier = threading.Barrier(2)
    done: dict[int, Op] = {}

    def run(process: int, key: int, value: int) -> None:
        c = PostgresClient(server.addrs, primary="n1", isolation=isolation,
                           connect=lambda _a, timeout: Barrier(connect(a, timeout=timeout), barrier)).open(None, "n1")
        done[process] = c.invoke(None, txn(process, ["r", x, None], ["r", y, None], ["append", key, value]))
        c.close()

    threads = [threading.Thread(target=run, args=(1, x, 3)), threading.Thread(target=run, args=(2, y, 4))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    ops = [txn(9, ["append", x, 1], ["append", y, 2]), first]
    ops += [txn(1, ["r", x, None], ["r", y, None], ["append", x, 3]),
            txn(2, ["r", x, None], ["r", y, None], ["append", y, 4]), done[1], done[2]]
    return [Op(index=i, time=i, process=o.process, type=o.type, f="txn", value=o.value) for i, o in enumerate(ops)]


def check(history: list[Op], model: str) -> Any:
    from checkers.txn import TxnChecker, TxnOptions

    return TxnChecker(TxnOptions("list-append", consistency_models=(model,))).check(None, history, None)


def test_repeatable_read_commits_a_write_skew_which_is_g2_item(server: PostgresTarget) -> None:
    history = write_skew(server, "repeatable-read", 100)
    assert [o.type for o in history[-2:]] == ["ok", "ok"]
    result = check(history, "repeatable-read")
    assert result.valid is False and {a.kind for a in result.anomalies} == {"G2-item"}
    assert check(history, "snapshot-isolation").valid is True  # what PostgreSQL says repeatable read is


def test_serializable_refuses_the_same_write_skew(server: PostgresTarget) -> None:
    history = write_skew(server, "serializable", 200)
    outcomes = sorted(o.type for o in history[-2:])
    assert outcomes == ["fail", "ok"], [o.extra for o in history[-2:]]
    assert check(history, "serializable").valid is True


def test_seam_test_with_kills_at_serializable_is_valid(tmp_path: Path) -> None:
    require_postgres(PostgresTarget(LocalRemote(), {"n1": NodeAddr("n1", "h", "h", 1, str(tmp_path))}))
    results = tmp_path / "results"
    r = seam("test", "--target", "postgres", "--target-opt", "isolation=serializable", "--nemesis", "kill",
             "--nemesis-interval", "2", "--time-limit", "6", "--recovery-time", "1", "--node-count", "1", "--seed", "3",
             "--results", str(results), "--no-progress", "--base-port", str(free_base_port(10100)),
             cwd=tmp_path, timeout=120)
    (run_dir,) = run_dirs(results)
    data = json.loads((run_dir / "results.json").read_text())
    # On failure, say what was found: it failed once on a loaded machine (issue 21's notes).
    found = [(a["kind"], a["summary"][:300]) for a in data.get("anomalies", [])][:5]
    assert r.returncode == 0, (r.stdout, r.stderr[-2000:], found)
    assert data["checkers"]["txn"]["valid"] is True
    history = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]
    kills = [o for o in history if o.get("f") == "kill" and o["type"] == "info"]
    assert kills and all(o["value"]["pids"] for o in kills)
    assert sum(o["type"] == "ok" and o["f"] == "txn" for o in history) > 50
