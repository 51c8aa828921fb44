"""etcd 3.4 as a system under test: Jepsen's canonical subject, from Debian's etcd-server.

``seam test --target etcd`` runs one member per node and the independent
cas-register workload against it through etcd's v3 JSON gateway, checked for
linearizability. Published result to reproduce (Jepsen's etcd 3.4.3
analysis): key-value operations are linearizable under partitions, pauses
and kills; with serializable reads (``--target-opt reads=serializable``) a
member cut off from the leader answers from its own stale state, and the
history is not linearizable.

Faults: partition, loss, pause, kill (role ``leader`` from etcd's own status).
Clock faults are refused: etcd is a Go binary, which reads time through the
vDSO and ignores libfaketime, so Seam could not skew it and would claim a
coverage it does not have.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from harness.core.errors import ConfigError
from harness.core.options import choice
from harness.core.placement import NodeAddr
from harness.core.protocols import Checker, Remote, Target
from harness.spec import TestSpec
from harness.targets.base import MakeContext, TargetKind, Workload, WorkloadKind
from harness.workloads.register import RegisterGen, register_final_reads

OPTIONS = (
    choice("reads", ("linearizable", "serializable"), "linearizable",
           "how reads are served: linearizable (through the leader) or serializable (a member's own state)"),
)
NOT_SKEWABLE = ("etcd is a Go binary: it reads the clock through the vDSO and ignores libfaketime, "
                "so Seam cannot skew it; drop clock (and strobe)")


def make(ctx: MakeContext) -> Target:
    from harness.targets.etcd.adapter import EtcdTarget

    run_id = next(iter(ctx.addrs.values())).workdir.rsplit("/", 2)[-2] if ctx.addrs else "seam"
    return EtcdTarget(ctx.remote, dict(ctx.addrs), run_id=run_id)


def _checker(spec: TestSpec) -> Checker:
    """Linearizability per key, and stale reads: the read and the acknowledged write it
    missed, which is what a serializable read from a cut-off member looks like."""
    from checkers.compose import compose
    from checkers.linearizable.checker import LinearizableChecker
    from checkers.perf import PerfChecker
    from checkers.stale_read import StaleReadChecker

    return compose({"linearizable": LinearizableChecker("cas-register", independent=True, timeout=60.0),
                    "stale-read": StaleReadChecker(),
                    "perf": PerfChecker()})


def register(spec: TestSpec, addrs: Mapping[str, NodeAddr]) -> Workload:
    from harness.targets.etcd.client import EtcdClient

    reads = TARGET.resolved_options(spec)["reads"]
    from harness.generator.history import FromHistory

    return Workload(
        name="register",
        client=EtcdClient(dict(addrs), timeout=max(0.2, spec.op_timeout * 0.8), serializable=reads == "serializable"),
        generator=RegisterGen(spec.seed, keys=spec.keys),
        final_generator=FromHistory(register_final_reads),
        checker=_checker(spec),
    )


WORKLOADS = {
    "register": WorkloadKind(
        "register",
        "read/write/cas on many keys (a txn comparing the value), checked for linearizability and stale reads",
        register,
        _checker,
        model="cas-register",
        independent=True,
        recovery_time=5.0,
    ),
}


def check_spec(spec: TestSpec) -> None:
    if spec.cluster_size() > 9:
        raise ConfigError(f"target etcd: {spec.cluster_size()} members; etcd recommends at most 7, Seam runs "
                          "up to 9 (use --node-count 3, 5 or 7)")


def recover(remote: Remote, addrs: Mapping[str, NodeAddr], options: dict[str, Any],
            report: Callable[[str], None]) -> Any:
    """What `seam heal` needs: the adapter again (restart a killed member, by its pid file)."""
    from harness.targets.etcd.adapter import EtcdTarget

    return EtcdTarget(remote, dict(addrs))


TARGET = TargetKind(
    name="etcd",
    summary="etcd 3.4 from Debian's etcd-server: one member per node, the v3 JSON gateway",
    make=make,
    workloads=WORKLOADS,
    default_workload="register",
    recover=recover,
    options=OPTIONS,
    roles=("leader",),
    check_spec=check_spec,
    refuses={"clock": NOT_SKEWABLE, "strobe": NOT_SKEWABLE},
)
