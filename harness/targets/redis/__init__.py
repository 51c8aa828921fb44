"""Redis 7 with Sentinel as a system under test, from Debian's redis-server and redis-sentinel.

``seam test --target redis`` runs one server and one Sentinel per node (node 1
starts as the primary, the others as its replicas; a majority of Sentinels
is the quorum) and the set workload against it: clients add unique elements
with SADD to the primary that Sentinel names, and read the whole set with
SMEMBERS; the generic set checker (``checkers.set_full``) follows every
element.

Published result to reproduce (Jepsen's first Redis analysis, 2013, and
Redis's own documentation today): Sentinel with asynchronous replication is
"last failover wins". Cut the primary and one replica off from the
majority (scenario ``primary-isolated``): the old primary goes on
acknowledging writes, the majority's Sentinels promote a replica, and when
the partition heals the old primary is turned into a replica of the new one
and throws its writes away: acknowledged writes are lost. ``wait=N`` (WAIT
after every add) and ``min-replicas-to-write`` narrow the window; Redis says
they do not close it.

Options: ``failover=sentinel|none`` (none: a single primary with replicas
and no Sentinel, the control case), ``min-replicas-to-write=N``, ``wait=N``,
``appendfsync=always|everysec``. Faults: partition, loss, pause, kill, aimed
at a node or at the role ``primary`` (whoever a majority of Sentinels names
now); the partition shapes isolate-leader and leader-minority cut off the
primary. Clock faults are refused (see NO_CLOCK).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from harness.core.errors import ConfigError
from harness.core.options import choice, count
from harness.core.placement import NodeAddr
from harness.core.protocols import Checker, Remote, Target, Test
from harness.spec import TestSpec
from harness.targets.base import MakeContext, Scenario, TargetKind, Workload, WorkloadKind

OPTIONS = (
    choice("failover", ("sentinel", "none"), "sentinel",
           "sentinel: Sentinels promote a replica when a majority cannot reach the primary; "
           "none: node 1 is the primary for good, no Sentinel (the control case)"),
    count("min-replicas-to-write", 0,
          "the primary refuses writes unless this many replicas acknowledged it in the last 10 s"),
    count("wait", 0, "WAIT N after every add: acknowledged only if N replicas confirm it (else info)"),
    choice("appendfsync", ("everysec", "always"), "everysec",
           "when the AOF is fsynced: every second, or before every write is acknowledged"),
)
NO_CLOCK = ("Redis orders nothing the set workload sees by wall clock (Sentinel's timers and "
            "replication do not compare clocks between nodes), so a skew would test nothing here; "
            "drop clock (and strobe)")
#: After the final heal: the old primary is demoted about 10 s after it is seen again
#: (Sentinel waits 8 s, then its next INFO), and then resynchronised.
RECOVERY = 15.0

PRIMARY_ISOLATED = Scenario(
    "primary-isolated",
    "the primary and one replica are cut off from the majority for 15 s, long enough for the majority's "
    "Sentinels to promote another replica while the old primary goes on acknowledging writes; then the "
    "partition heals and Sentinel turns the old primary into a replica of the new one (Jepsen 2013)",
    "set",
    round=(1.0, ("partition", "start", None), 15.0, ("partition", "stop", None), 15.0),
    exposes={},
    proof="set: every acknowledged add still in the final read; lost-write names the adds the old primary "
    "acknowledged and then threw away. failover: which node the Sentinels promoted, when, and when the old "
    "primary was demoted",
    options={"partition": {"shape": "leader-minority"}},
    defaults={"time_limit": 60.0},
    lead_in=5.0,
)
NIGHTLY = Scenario(
    "nightly-redis",
    "primary-isolated, then a paused and a killed primary, a random partition and a kill of any node, in turn",
    "set",
    round=(*PRIMARY_ISOLATED.round,
           ("pause", "start", {"role": "primary"}), 5.0, ("pause", "stop", None), 5.0,
           ("kill", "start", {"role": "primary"}), 5.0, ("kill", "stop", None), 10.0,
           ("kill", "start", None), 3.0, ("kill", "stop", None), 5.0),
    exposes={},
    proof="as primary-isolated; the pause and the kills add the failovers they cause",
    options=PRIMARY_ISOLATED.options,
    defaults={"time_limit": 90.0},
    lead_in=5.0,
)


def resolved(spec: TestSpec) -> dict[str, Any]:
    return TARGET.resolved_options(spec)


def make(ctx: MakeContext) -> Target:
    from harness.targets.redis.adapter import RedisTarget

    return RedisTarget(ctx.remote, dict(ctx.addrs), settings(resolved(ctx.spec)))


def settings(options: Mapping[str, Any]) -> Any:
    from harness.targets.redis.adapter import Settings

    return Settings(sentinel=options["failover"] == "sentinel",
                    min_replicas_to_write=int(options["min-replicas-to-write"]),
                    appendfsync=str(options["appendfsync"]))


def _checker(spec: TestSpec) -> Checker:
    from checkers.compose import compose
    from checkers.perf import PerfChecker
    from checkers.set_full import SetFullChecker
    from harness.targets.redis.roles import RolesChecker

    return compose({"set": SetFullChecker(), "failover": RolesChecker(), "perf": PerfChecker()})


def set_workload(spec: TestSpec, addrs: Mapping[str, NodeAddr]) -> Workload:
    from harness.generator.history import FromHistory
    from harness.targets.redis.adapter import SENTINEL_OFFSET
    from harness.targets.redis.client import RedisSetClient
    from harness.workloads.set import SetGen, set_final_reads

    options = resolved(spec)
    return Workload(
        name="set",
        client=RedisSetClient(dict(addrs), timeout=max(0.2, spec.op_timeout * 0.8),
                              sentinel_offset=SENTINEL_OFFSET if options["failover"] == "sentinel" else None,
                              wait=int(options["wait"])),
        generator=SetGen(spec.seed),
        final_generator=FromHistory(set_final_reads),
        checker=_checker(spec),
    )


WORKLOADS = {
    "set": WorkloadKind(
        "set",
        "SADD unique elements to the primary Sentinel names, SMEMBERS reads; checked for lost, unexpected "
        "and duplicate elements (Jepsen's set-full)",
        set_workload,
        _checker,
        recovery_time=RECOVERY,
    ),
}


def check_spec(spec: TestSpec) -> None:
    options = resolved(spec)
    nodes = spec.cluster_size()
    if nodes < 3 and options["failover"] == "sentinel":
        raise ConfigError(f"target redis: {nodes} node(s); Sentinel needs a majority that survives a fault: "
                          "use --node-count 3 or 5, or --target-opt failover=none")
    for name in ("wait", "min-replicas-to-write"):
        if options[name] > nodes - 1:
            raise ConfigError(f"--target-opt {name}={options[name]}: the cluster has only {nodes - 1} replicas; "
                              f"use at most {nodes - 1} or more nodes")


@contextmanager
def observe(test: Test | None, addrs: Mapping[str, NodeAddr], run_dir: Path, start: float) -> Iterator[None]:
    """Who is primary, twice a second, into nodes/<node>/roles.jsonl (harness.targets.redis.roles)."""
    from harness.targets.redis.adapter import SENTINEL_OFFSET
    from harness.targets.redis.roles import observe as observe_roles

    sentinel = getattr(getattr(test, "target", None), "settings", None)
    offset = SENTINEL_OFFSET if sentinel is None or sentinel.sentinel else None
    with observe_roles(addrs, run_dir, start, offset):
        yield None


def recover(remote: Remote, addrs: Mapping[str, NodeAddr], options: dict[str, Any],
            report: Callable[[str], None]) -> Any:
    """What `seam heal` needs: the adapter again (restart a killed server, by its pid file)."""
    from harness.targets.redis.adapter import RedisTarget

    spec = TestSpec.from_json(options)
    return RedisTarget(remote, dict(addrs), settings(resolved(spec)))


TARGET = TargetKind(
    name="redis",
    summary="Redis 7 with Sentinel from Debian's redis-server and redis-sentinel: a primary, its replicas, "
    "a Sentinel per node; the set workload",
    make=make,
    workloads=WORKLOADS,
    default_workload="set",
    observe=observe,
    recover=recover,
    scenarios={s.name: s for s in (PRIMARY_ISOLATED, NIGHTLY)},
    options=OPTIONS,
    roles=("primary",),
    check_spec=check_spec,
    refuses={"clock": NO_CLOCK, "strobe": NO_CLOCK},
    binds_source=True,  # bind-source-addr: servers and Sentinels send from their node's own address
)
