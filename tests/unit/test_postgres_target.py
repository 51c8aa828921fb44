"""The postgres target against a fake Remote (no PostgreSQL, no processes): how it
runs initdb and the postmaster, as whom, what kill and pause reach, what it refuses."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

from harness.core.errors import ConfigError, RemoteError, TargetError, UnsupportedError
from harness.core.placement import local_addrs
from harness.core.protocols import (
    HasLogs,
    HasRoleHolders,
    HasRoles,
    Killable,
    Pausable,
    Result,
    StopsAll,
    Target,
)
from harness.spec import TestSpec
from harness.targets.postgres import TARGET, consistency_model
from harness.targets.postgres.adapter import DEBIAN_BINDIRS, PostgresTarget, table

BINDIR = DEBIAN_BINDIRS[0]


class FakeNode:
    """One node's files and processes, as the daemon helper and the adapter ask about them."""

    def __init__(self, *, uid: str = "0", has_user: bool = True, bindir: str | None = BINDIR) -> None:
        self.uid, self.has_user, self.bindir = uid, has_user, bindir
        self.files: dict[str, str] = {}
        self.cmdline: dict[int, str] = {}
        self.children: dict[int, list[int]] = {}


class FakeRemote:
    """Answers the commands the adapter and the daemon helper run; records them all."""

    def __init__(self, **node: Any) -> None:
        self.node = FakeNode(**node)
        self.runs: list[list[str]] = []
        self.spawned: list[tuple[list[str], str | None]] = []
        self.signals: list[tuple[int, int]] = []
        self.live: set[int] = set()
        self._next = 500

    def run(self, node: str, argv: Any, *, timeout: float = 60, check: bool = True, stdin: bytes | None = None) -> Result:
        argv = list(argv)
        self.runs.append(argv)
        n = self.node
        status, out = 0, ""
        if argv[:2] == ["sh", "-c"] and "initdb" in argv[2]:  # where are the binaries
            status, out = (0, n.bindir + "\n") if n.bindir else (1, "")
        elif argv[:2] == ["sh", "-c"] and "printf" in argv[2]:
            # the daemon helper's pid file has two lines (pid, marker); other writes one text
            text, path = ("".join(f"{a}\n" for a in argv[4:-1]), argv[-1]) if "%s\\n%s" in argv[2] else (argv[4], argv[5])
            n.files[path] = (n.files.get(path, "") if ">>" in argv[2] else "") + text
        elif argv == ["id", "-u"]:
            out = n.uid + "\n"
        elif argv[:2] == ["id", "-u"]:
            status = 0 if n.has_user else 1
        elif argv[0] == "cat":
            path = argv[1]
            if path.startswith("/proc/"):
                pid = int(path.split("/")[2])
                status, out = (0, n.cmdline[pid]) if pid in self.live else (1, "")
            else:
                status, out = (0, n.files[path]) if path in n.files else (1, "")
        elif argv[:2] == ["test", "-f"]:
            status = 0 if argv[2] in n.files else 1
        elif argv[:2] == ["pgrep", "-P"]:
            kids = [k for k in n.children.get(int(argv[2]), []) if k in self.live]
            status, out = (0, "\n".join(map(str, kids))) if kids else (1, "")
        elif "initdb" in " ".join(argv):
            data = argv[argv.index("-D") + 1]
            n.files[f"{data}/PG_VERSION"] = "15\n"
        elif argv[:2] == ["rm", "-f"]:
            n.files.pop(argv[2], None)
        return Result(node, tuple(argv), status, out, "")

    def spawn(self, node: str, argv: Any, log: str, *, env: Any = None, cwd: str | None = None) -> int:
        self._next += 1
        pid = self._next
        self.spawned.append((list(argv), cwd))
        self.live.add(pid)
        self.node.cmdline[pid] = "\0".join(argv)
        self.node.children[pid] = [pid + 1000, pid + 2000]  # checkpointer, a backend
        self.live.update(self.node.children[pid])
        return pid

    def alive(self, node: str, pid: int) -> bool:
        return pid in self.live

    def signal(self, node: str, pid: int, sig: int) -> None:
        if pid not in self.live:
            raise RemoteError(node, ["kill", str(pid)], status=1, stderr="no such process")
        self.signals.append((pid, sig))
        if sig in (signal.SIGKILL, signal.SIGINT, signal.SIGTERM):
            self.live.discard(pid)

    def upload(self, node: str, src: Path, dst: str) -> None:
        raise AssertionError("the postgres target uploads nothing")

    def download(self, node: str, src: str, dst: Path) -> None:
        dst.write_text(f"log of {src}\n")


def target(remote: FakeRemote, n: int = 2) -> PostgresTarget:
    return PostgresTarget(remote, local_addrs([f"n{i}" for i in range(1, n + 1)], "/tmp/seam-r1"))  # type: ignore[arg-type]


def test_it_declares_what_the_faults_ask_for() -> None:
    t = target(FakeRemote())
    for ability in (Target, Killable, Pausable, HasRoles, HasRoleHolders, StopsAll, HasLogs):
        assert isinstance(t, ability), ability.__name__
    assert t.roles() == ("primary",) and t.holder(None, "primary", None) == "n1"
    with pytest.raises(UnsupportedError, match="no role 'leader'"):
        t.pids(None, "n1", "leader")


def test_as_root_initdb_and_the_postmaster_run_as_the_postgres_user_with_its_own_data_dir() -> None:
    r = FakeRemote(uid="0")
    t = target(r)
    t.setup(None, "n2")
    a = t.addrs["n2"]
    initdb = next(argv for argv in r.runs if any(x.endswith("/initdb") for x in argv))
    assert initdb[:5] == ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"]
    assert initdb[initdb.index("-D") + 1] == a.data_dir and "--auth=trust" in initdb
    assert ["chown", "postgres:postgres", a.data_dir] in r.runs
    assert "host all all 0.0.0.0/0 trust" in r.node.files[f"{a.data_dir}/pg_hba.conf"]
    (argv, cwd), = r.spawned
    assert argv[:5] == initdb[:5] and argv[5] == f"{BINDIR}/postgres" and cwd == a.workdir
    assert argv[argv.index("-D") + 1] == a.data_dir and argv[argv.index("-p") + 1] == str(a.port)
    assert f"listen_addresses={a.host}" in argv and a.port != t.addrs["n1"].port
    assert r.node.files[f"{a.workdir}/postgres.pid"].splitlines()[0] == str(t.pids(None, "n2")[0])


def test_not_root_runs_postgres_directly() -> None:
    r = FakeRemote(uid="1000")
    target(r).setup(None, "n1")
    (argv, _), = r.spawned
    assert argv[0] == f"{BINDIR}/postgres"
    assert not any(argv[:1] == ["chown"] for argv in r.runs)


def test_root_without_a_postgres_user_says_how_to_make_one_and_starts_nothing() -> None:
    r = FakeRemote(uid="0", has_user=False)
    with pytest.raises(TargetError, match="cannot run as root.*useradd --system"):
        target(r).setup(None, "n1")
    assert r.spawned == []


def test_no_binaries_names_the_package() -> None:
    r = FakeRemote(bindir=None)
    with pytest.raises(TargetError, match="postgresql package"):
        target(r).setup(None, "n1")
    assert r.spawned == []


def test_a_second_setup_keeps_the_cluster_and_the_running_postmaster() -> None:
    r = FakeRemote()
    t = target(r)
    t.setup(None, "n1")
    t.setup(None, "n1")
    assert sum(any(x.endswith("/initdb") for x in argv) for argv in r.runs) == 1
    assert len(r.spawned) == 1


def test_kill_sigkills_the_postmaster_and_its_backends_and_start_restarts_it() -> None:
    r = FakeRemote()
    t = target(r)
    t.setup(None, "n1")
    pm = t.pids(None, "n1")[0]
    killed = t.kill(None, "n1")
    assert sorted(killed) == sorted([pm, pm + 1000, pm + 2000])
    assert {(p, s) for p, s in r.signals} >= {(pm, signal.SIGKILL), (pm + 1000, signal.SIGKILL)}
    assert t.pids(None, "n1") == [] and t.kill(None, "n1") == []
    t.start(None, "n1")
    assert len(r.spawned) == 2 and t.pids(None, "n1")[0] != pm


def test_pause_gets_every_process_and_the_role_primary_is_the_first_node() -> None:
    r = FakeRemote()
    t = target(r, 3)
    t.setup(None, "n1")
    t.setup(None, "n3")
    pm = t.pids(None, "n1")[0]
    assert t.pids(None, "n3", "primary") == [pm, pm + 1000, pm + 2000]
    assert t.kill(None, "n3", "primary")[0] == pm


def test_stop_all_resumes_then_asks_for_a_fast_shutdown() -> None:
    r = FakeRemote()
    t = target(r)
    t.setup(None, "n1")
    pm = t.pids(None, "n1")[0]
    t.stop_all()
    assert (pm, signal.SIGCONT) in r.signals and (pm, signal.SIGINT) in r.signals
    assert r.signals.index((pm, signal.SIGCONT)) < r.signals.index((pm, signal.SIGINT))
    assert t.pids(None, "n1") == []


def test_teardown_removes_only_a_seam_run_directory() -> None:
    r = FakeRemote()
    t = target(r)
    t.setup(None, "n1")
    t.teardown(None, "n1")
    assert ["rm", "-rf", t.addrs["n1"].workdir] in r.runs
    other = PostgresTarget(r, local_addrs(["n1"], "/srv/data"))  # type: ignore[arg-type]
    other.teardown(None, "n1")
    assert ["rm", "-rf", "/srv/data/n1"] not in r.runs


def test_collect_copies_the_server_log(tmp_path: Path) -> None:
    t = target(FakeRemote())
    got = t.collect(None, "n1", tmp_path)
    assert [p.name for p in got] == ["postgres.log"]


def test_keys_spread_over_tables_by_key_group() -> None:
    assert [table(k, 3) for k in range(5)] == ["txn0", "txn1", "txn2", "txn0", "txn1"]


# -- the declaration: options, models, refusals ---------------------------------


def spec(**opts: str) -> TestSpec:
    return TestSpec(target="postgres", workload="list-append", target_options=dict(opts))


@pytest.mark.parametrize(("isolation", "model"), [("serializable", "serializable"),
                                                  ("repeatable-read", "repeatable-read"),
                                                  ("read-committed", "read-committed")])
def test_the_history_is_held_to_the_model_named_like_the_isolation_level(isolation: str, model: str) -> None:
    s = spec(isolation=isolation)
    assert consistency_model(TARGET.resolved_options(s)) == model
    txn = TARGET.workloads["list-append"].checker(s).checkers["txn"]  # type: ignore[attr-defined]
    assert txn.options.consistency_models == (model,) and txn.options.workload == "list-append"


def test_consistency_model_overrides_and_is_checked_before_anything_starts() -> None:
    s = spec(isolation="repeatable-read", **{"consistency-model": "snapshot-isolation"})
    assert consistency_model(TARGET.resolved_options(s)) == "snapshot-isolation"
    assert TARGET.check_spec is not None
    with pytest.raises(ConfigError, match="consistency-model=snapshot-isolaton"):
        TARGET.check_spec(spec(**{"consistency-model": "snapshot-isolaton"}))
    with pytest.raises(ConfigError, match="isolation=snapshot"):
        TARGET.resolved_options(spec(isolation="snapshot"))
    with pytest.raises(ConfigError, match="key-count=0"):
        TARGET.resolved_options(spec(**{"key-count": "0"}))


@pytest.mark.parametrize("fault", ["clock", "strobe", "partition", "loss"])
def test_faults_it_cannot_honour_are_refused_with_a_reason(fault: str) -> None:
    from harness.assemble import build_plan

    with pytest.raises(ConfigError, match=f"--nemesis {fault}: target postgres cannot take it: .+"):
        build_plan(TestSpec(target="postgres", workload="list-append", nemesis=[fault]))


def test_the_workload_builds_without_a_cluster() -> None:
    s = spec(isolation="read-committed", **{"max-txn-length": "2", "key-count": "5"})
    addrs = local_addrs(["n1", "n2"], "/tmp/seam-r1")
    w = TARGET.workloads["list-append"].build(s, addrs)
    assert w.client.isolation == "read-committed" and w.client.primary == "n1"  # type: ignore[attr-defined]
    assert w.generator.key_count == 5 and w.generator.max_txn_length == 2
