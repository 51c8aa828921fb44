"""miniregister: a second, minimal target that lives entirely in this folder.

It is the evidence that a target is one folder: ``seam test --target
tests.integration.minitarget`` runs it with no edit anywhere else in Seam.
Each node runs ``node.py`` (an in-memory register over HTTP); key ``k<i>``
lives on the i-th node only, so its history is linearizable by construction
and any anomaly would be Seam's own fault.

The adapter answers ``Target``, ``WaitsReady``, ``Pausable`` and
``StopsAll``, which is all that the partition and pause nemeses need; its
processes go through Seam's daemon helper like every target's.
"""

from __future__ import annotations

import http.client
import json
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from harness.control import daemon
from harness.core.errors import TargetError
from harness.core.op import Op
from harness.core.placement import NodeAddr
from harness.core.protocols import Checker, Remote, Target
from harness.generator.context import PENDING
from harness.generator.core import op as gen_op
from harness.spec import TestSpec
from harness.targets import MakeContext, TargetKind, Workload, WorkloadKind

NODE_PY = Path(__file__).with_name("node.py")
#: Its model lives in this folder too: Seam finds it by module path.
MODEL = f"{__name__}.model:MiniRegister"


class MiniTarget(daemon.SignalPause):
    """Its nodes run through Seam's daemon helper, which also gives it pause and resume."""

    def __init__(self, remote: Remote, addrs: Mapping[str, NodeAddr]):
        self.remote = remote
        self.addrs = dict(addrs)

    def daemon(self, node: str) -> daemon.Daemon:
        a = self.addrs[node]
        return daemon.Daemon(node, ("python3", f"{a.workdir}/node.py", a.host, str(a.port)),
                             f"{a.workdir}/node.pid", a.stdout_log, cwd=a.workdir)

    def setup(self, test: Any, node: str) -> None:
        a = self.addrs[node]
        self.remote.run(node, ["mkdir", "-p", a.workdir], timeout=30)
        self.remote.upload(node, NODE_PY, f"{a.workdir}/node.py")
        daemon.start(self.remote, self.daemon(node))

    def teardown(self, test: Any, node: str) -> None:
        daemon.stop(self.remote, self.daemon(node))
        workdir = self.addrs[node].workdir
        if "/seam-" in workdir:
            self.remote.run(node, ["rm", "-rf", workdir], timeout=30, check=False)

    def stop_all(self) -> None:
        daemon.stop_all(self.remote, [self.daemon(node) for node in self.addrs])

    def wait_ready(self, nodes: list[str] | None = None, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (timeout or 10.0)
        for node in nodes or list(self.addrs):
            while True:
                try:
                    if _call(self.addrs[node], "GET", "/health", None, 1.0)[0] == 200:
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise TargetError(f"{node}: node.py does not answer on {self.addrs[node].url}/health")
                time.sleep(0.05)

    def pids(self, test: Any, node: str, role: str | None = None) -> list[int]:
        found = daemon.pid(self.remote, self.daemon(node))
        return [] if found is None else [found]


def _call(a: NodeAddr, method: str, path: str, body: Any, timeout: float) -> tuple[int, dict[str, Any]]:
    conn = http.client.HTTPConnection(a.address, a.port, timeout=timeout)
    try:
        conn.request(method, path, body=None if body is None else json.dumps(body),
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"{}")
    finally:
        conn.close()


class MiniClient:
    """read/write/cas of ``[key, v]``; key ``k<i>`` is served by the i-th node only."""

    def __init__(self, addrs: Mapping[str, NodeAddr]):
        self.addrs = dict(addrs)
        self.order = list(self.addrs)

    def open(self, test: Any, node: str) -> MiniClient:
        return MiniClient(self.addrs)

    def close(self) -> None:
        pass

    def invoke(self, test: Any, op: Op) -> Op:
        key, v = op.value
        a = self.addrs[self.order[int(key[1:]) % len(self.order)]]
        try:
            if op.f == "read":
                status, body = _call(a, "GET", f"/kv/{key}", None, 1.0)
                return replace(op, type="ok", value=[key, body["value"]])
            if op.f == "write":
                status, _ = _call(a, "PUT", f"/kv/{key}", {"value": v}, 1.0)
            else:
                status, _ = _call(a, "POST", f"/cas/{key}", {"old": v[0], "new": v[1]}, 1.0)
        except OSError as e:
            # A read changes nothing: failed. A write may have landed: unknown.
            return replace(op, type="fail" if op.f == "read" else "info", extra={**op.extra, "error": str(e)})
        return replace(op, type="ok" if status == 200 else "fail")


@dataclass(frozen=True)
class MiniGen:
    """Seeded read/write/cas ops over ``keys`` keys."""

    seed: int
    keys: int
    count: int = 0

    def op(self, test: Any, ctx: Any) -> Any:
        rng = random.Random(self.seed * 1_000_003 + self.count)
        key, roll = f"k{rng.randrange(self.keys)}", rng.random()
        if roll < 0.5:
            template = {"f": "read", "value": [key, None]}
        elif roll < 0.8:
            template = {"f": "write", "value": [key, rng.randrange(5)]}
        else:
            template = {"f": "cas", "value": [key, [rng.randrange(5), rng.randrange(5)]]}
        filled, _ = gen_op(template, test, ctx)  # type: ignore[misc]
        if filled is PENDING:  # no free process now: ask again later, same op
            return PENDING, self
        return filled, replace(self, count=self.count + 1)

    def update(self, test: Any, ctx: Any, event: Any) -> Any:
        return self


def _checker(spec: TestSpec) -> Checker:
    from checkers.compose import compose
    from checkers.linearizable.checker import LinearizableChecker

    return compose({"linearizable": LinearizableChecker(MODEL, independent=True, timeout=30)})


def _register(spec: TestSpec, addrs: Mapping[str, NodeAddr]) -> Workload:
    return Workload("register", MiniClient(addrs), MiniGen(spec.seed, len(addrs)), None, _checker(spec))


#: How long the endless checker runs before it gives up (bounded, like every loop here).
ENDLESS_S = 300.0


class EndlessChecker:
    """A checker that does not finish in any useful time, like a hopeless search: what a
    signal during the check phase must cut short."""

    def check(self, test: Any, history: Any, artifacts: Any) -> Any:
        from harness.core.verdict import CheckResult

        time.sleep(ENDLESS_S)
        return CheckResult(valid="unknown", error=f"gave up after {ENDLESS_S:g}s")


def _endless_checker(spec: TestSpec) -> Checker:
    return EndlessChecker()


def _endless(spec: TestSpec, addrs: Mapping[str, NodeAddr]) -> Workload:
    return Workload("endless-check", MiniClient(addrs), MiniGen(spec.seed, len(addrs)), None, _endless_checker(spec))


def _make(ctx: MakeContext) -> Target:
    return MiniTarget(ctx.remote, ctx.addrs)


TARGET = TargetKind(
    name="miniregister",
    summary="an in-memory register per node, over HTTP (Seam's test of a target in one folder)",
    make=_make,
    workloads={"register": WorkloadKind("register", "read/write/cas, one node per key", _register, _checker,
                                        model=MODEL, independent=True, recovery_time=0.5),
               "endless-check": WorkloadKind("endless-check", "the register, with a checker that never finishes",
                                             _endless, _endless_checker, recovery_time=0.0)},
    default_workload="register",
)
