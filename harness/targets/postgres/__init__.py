"""PostgreSQL 15 as a system under test, from Debian's postgresql package.

``seam test --target postgres`` starts one independent server per node
(``initdb`` and the postmaster through the daemon helper, run as the
``postgres`` user when Seam is root) and the list-append workload against
the first node's server, every transaction at ``--target-opt isolation``,
checked by the Elle-style transactional checker (``checkers.txn``).

Published result to reproduce (Jepsen's PostgreSQL 12.3 analysis, 2020):
PostgreSQL's repeatable read is snapshot isolation, so it shows G2-item
(write skew), which Adya's repeatable read (PL-2.99, Elle's
``repeatable-read``) forbids; serializable shows no anomaly.

Which model a history is held to: ``--target-opt consistency-model``; the
default ``isolation`` is Elle's model of the same name as the isolation level
(serializable, repeatable-read, read-committed). ``consistency-model=
snapshot-isolation`` holds repeatable read to what PostgreSQL documents it
to be: G2-item is then found but allowed (``stats.found``).

Faults: kill (SIGKILL of the postmaster and its backends, restart with crash
recovery on heal) and pause (SIGSTOP of all of them), aimed at a node or at
the role ``primary`` (the clients' server). Refused, with the reason:
partition and loss (the servers share no traffic and Seam's network faults
cut node-to-node traffic only, never the clients'), clock and strobe (one
server's transactions are ordered by its own ids and snapshots, never by a
clock).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from harness.core.errors import ConfigError
from harness.core.options import Option, choice, count, word
from harness.core.placement import NodeAddr
from harness.core.protocols import Checker, Remote, Target
from harness.spec import TestSpec
from harness.targets.base import MakeContext, TargetKind, Workload, WorkloadKind

ISOLATIONS = ("serializable", "repeatable-read", "read-committed")
#: consistency-model=isolation: hold the history to the model named like the isolation level.
SAME_AS_ISOLATION = "isolation"


def _positive(name: str, default: int, help: str) -> Option:
    base = count(name, default, help)

    def parse(text: str) -> int:
        n: int = base.parse(text)
        if n < 1:
            raise ValueError(f"{n} is not positive")
        return n

    return Option(name, default, help, "a whole number >= 1", parse)


OPTIONS = (
    choice("isolation", ISOLATIONS, "serializable",
           "the isolation level of every transaction (BEGIN ISOLATION LEVEL ...)"),
    word("consistency-model", SAME_AS_ISOLATION,
         "the model the history is held to: isolation (Elle's model named like the isolation level) "
         "or one of Elle's model names (snapshot-isolation, strict-serializable, ...)",
         "isolation, or a consistency model name of seam check --consistency-model"),
    _positive("key-count", 3, "keys active at a time (Elle's default: 3)"),
    _positive("max-txn-length", 4, "most micro-ops in a transaction (Jepsen's PostgreSQL test: 4)"),
    _positive("max-writes-per-key", 32, "appends to a key before a fresh key replaces it (Elle's default: 32)"),
    _positive("tables", 3, "tables the keys are spread over (Jepsen's default: 3)"),
)
NO_CLOCK = ("a single PostgreSQL server orders transactions by its own transaction ids and snapshots, "
            "never by a wall clock, so skewing its clock tests nothing the list-append workload can see; "
            "drop clock (and strobe)")
NO_NETWORK = ("the postgres target runs independent servers that exchange nothing, and Seam's {fault} "
              "fault cuts traffic between nodes only, never between the clients (on the control host) "
              "and a server: it would change nothing here; use kill or pause")


def make(ctx: MakeContext) -> Target:
    from harness.targets.postgres.adapter import PostgresTarget

    options = TARGET.resolved_options(ctx.spec)
    return PostgresTarget(ctx.remote, dict(ctx.addrs), tables=options["tables"])


def consistency_model(options: Mapping[str, Any]) -> str:
    """The model a run's history is held to."""
    model = str(options["consistency-model"])
    return str(options["isolation"]) if model == SAME_AS_ISOLATION else model


def _checker(spec: TestSpec) -> Checker:
    from checkers.compose import compose
    from checkers.perf import PerfChecker
    from checkers.txn import TxnChecker, TxnOptions

    model = consistency_model(TARGET.resolved_options(spec))
    return compose({"txn": TxnChecker(TxnOptions("list-append", consistency_models=(model,))),
                    "perf": PerfChecker()})


def list_append(spec: TestSpec, addrs: Mapping[str, NodeAddr]) -> Workload:
    from harness.generator.history import FromHistory
    from harness.targets.postgres.client import PostgresClient
    from harness.workloads.list_append import ListAppendGen, list_append_final_reads

    options = TARGET.resolved_options(spec)
    return Workload(
        name="list-append",
        client=PostgresClient(dict(addrs), primary=next(iter(addrs)), isolation=options["isolation"],
                              tables=options["tables"], timeout=max(0.2, spec.op_timeout * 0.8)),
        generator=ListAppendGen(spec.seed, key_count=options["key-count"], max_txn_length=options["max-txn-length"],
                                max_writes_per_key=options["max-writes-per-key"]),
        final_generator=FromHistory(list_append_final_reads),
        checker=_checker(spec),
    )


WORKLOADS = {
    "list-append": WorkloadKind(
        "list-append",
        "transactions of reads and appends to lists (Elle), every one at --target-opt isolation, "
        "checked for the cycles that isolation level forbids",
        list_append,
        _checker,
        recovery_time=5.0,
    ),
}


def check_spec(spec: TestSpec) -> None:
    from checkers.txn import models

    model = consistency_model(TARGET.resolved_options(spec))
    try:
        models.canonical(model)
    except (KeyError, ValueError) as e:
        raise ConfigError(f"--target-opt consistency-model={model}: {e}; use isolation or a model name "
                          "(serializable, snapshot-isolation, repeatable-read, read-committed, ...)") from None


def recover(remote: Remote, addrs: Mapping[str, NodeAddr], options: dict[str, Any],
            report: Callable[[str], None]) -> Any:
    """What `seam heal` needs: the adapter again (restart a killed server, by its pid file)."""
    from harness.targets.postgres.adapter import PostgresTarget

    return PostgresTarget(remote, dict(addrs))


TARGET = TargetKind(
    name="postgres",
    summary="PostgreSQL 15 from Debian's postgresql: an independent server per node, list-append via psycopg 3",
    make=make,
    workloads=WORKLOADS,
    default_workload="list-append",
    recover=recover,
    options=OPTIONS,
    roles=("primary",),
    check_spec=check_spec,
    refuses={"clock": NO_CLOCK, "strobe": NO_CLOCK,
             "partition": NO_NETWORK.format(fault="partition"), "loss": NO_NETWORK.format(fault="loss")},
)
