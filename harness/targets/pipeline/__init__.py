"""The reference pipeline (``target/``) as a Seam target: one folder.

``adapter.py`` installs and runs ``target.node`` on every node and answers
the optional abilities (Killable, Pausable, HasLeader, HasRoles, HasLogs,
HasAppFaults, Skewable); ``clients.py`` holds the register and orders
clients; ``workloads.py`` their generators and workload declarations;
``checkers.py`` the checkers each workload composes; ``scrape.py`` the
metrics scraper that runs beside the clients; ``recovered.py`` what
``seam heal`` rebuilds of the adapter from a stored run.

Imports are lazy, so listing targets or ``seam test --help`` stays fast.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from harness.core.errors import ConfigError
from harness.core.options import choice, count
from harness.core.placement import NodeAddr
from harness.core.protocols import Remote, Skewable, Target, Test
from harness.spec import TestSpec
from harness.targets.base import HostCheck, MakeContext, TargetKind
from harness.targets.pipeline.evidence import CASE_FILES
from harness.targets.pipeline.scenarios import SCENARIOS
from harness.targets.pipeline.workloads import WORKLOADS
from target.bugs import KNOWN as BUGS

#: ``--target-opt``: how inventory keeps its stock (target/stock.py), and how much there is.
OPTIONS = (
    choice("inventory", ("eventual", "linearizable"), "eventual",
           "how stock is kept: eventual (each node grants from its own view, pushed to peers "
           "every second: never waits, can oversell under partitions) or linearizable (one quorum "
           "record per sku, changed by cas: never oversells, waits or refuses without a quorum)"),
    count("stock", 0, "units per sku; 0: unlimited (no stock to oversell, as before stock existed)"),
)


def inventory_config(spec: TestSpec) -> dict[str, Any]:
    """node.json's ``inventory`` section from the target options."""
    opts = TARGET.resolved_options(spec)
    return {"mode": opts["inventory"], "stock": opts["stock"]}


def make(ctx: MakeContext) -> Target:
    from harness.targets.pipeline.adapter import PipelineTarget

    # The clock shim (target/clockshim.py) only when a fault skews clocks: it costs a stat every 50 ms.
    return PipelineTarget(ctx.remote, dict(ctx.addrs), replication=ctx.spec.replication, bugs=ctx.spec.bugs,
                          seed=ctx.spec.seed, skew=Skewable in ctx.wants,
                          extra_config={"inventory": inventory_config(ctx.spec)})


@contextlib.contextmanager
def observe(test: Test | None, addrs: Mapping[str, NodeAddr], run_dir: Path, start: float) -> Iterator[Any]:
    """GET /metrics from every node once a second into nodes/<node>/metrics.jsonl."""
    from harness.targets.pipeline.scrape import MetricsScraper

    scraper = MetricsScraper({n: a.url for n, a in addrs.items()}, run_dir, 1.0, start=start)
    scraper.start()
    try:
        yield scraper
    finally:
        scraper.stop()


def recover(remote: Remote, addrs: Mapping[str, NodeAddr], options: dict[str, Any], report: Callable[[str], None]) -> Any:
    from harness.targets.pipeline.recovered import RecoveredTarget

    return RecoveredTarget(remote, addrs, options, report)


def check_spec(spec: TestSpec) -> None:
    """The quorum store's replication must fit the cluster: N replicas need N nodes."""
    n, w, r = spec.replication
    if not (1 <= w <= n and 1 <= r <= n):
        raise ConfigError(f"replication N={n} W={w} R={r}: W and R must be within 1..N")
    count = spec.cluster_size()
    if n > count:
        fix = f"give at least {n} hosts" if spec.cluster == "ssh" else f"use --node-count {n}"
        raise ConfigError(f"target pipeline: replication N={n} needs at least {n} nodes, the cluster has {count}; {fix}")


TARGET = TargetKind(
    name="pipeline",
    summary="the reference order/payment pipeline in target/ (quorum store, saga, leader with fencing)",
    make=make,
    workloads=WORKLOADS,
    default_workload="register",
    bugs=BUGS,
    options=OPTIONS,
    observe=observe,
    recover=recover,
    scenarios=SCENARIOS,
    roles=("leader", "home"),
    check_spec=check_spec,
    host_check=HostCheck(("python3", "-c", "import sys; assert sys.version_info >= (3, 11)"),
                         "python3 >= 3.11 (each node runs target/ with it)"),
    case_files=CASE_FILES,
    binds_source=True,  # target/pool.py bind_source: each node sends from its own 127.0.0.x
)
