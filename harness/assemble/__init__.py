"""The composition root: options in, a runnable ``Plan`` out.

This package is the only place that names implementations: which Remote
(``nodes.py``), which target and workload (the target registry in
``harness.targets``), which nemesis packages (``faults.py``), which store,
which report renderer (``stored.py``). ``seam test``, ``seam heal``, the
heal of a previous dead run and ``seam check RUN_DIR`` all come through
here; the runner runs the plan it is handed and names nothing.

``build_plan`` validates every option before anything exists (no directory,
no process, no namespace): a bad option is a ``ConfigError`` naming the
option and the fix, exit 3.
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.assemble import faults, nodes, stored
from harness.core.errors import EXIT_FAILED, ConfigError
from harness.core.op import History
from harness.core.placement import NodeAddr
from harness.core.protocols import Nemesis, Remote, Target
from harness.core.verdict import CheckResult
from harness.spec import TestSpec
from harness.store import RESULTS_JSON, RESULTS_SCHEMA, TEST_JSON, RunStore
from harness.targets import MakeContext, Scenario, TargetKind, Workload, WorkloadKind, get

if TYPE_CHECKING:
    from harness.replay import Replay
    from harness.runner import Test as RunTest

log = logging.getLogger("seam.runner")

__all__ = ["Plan", "build_plan", "check_spec"]


@dataclass
class Plan:
    """Everything one run needs, assembled; the runner calls these and nothing else."""

    spec: TestSpec
    target_kind: TargetKind
    workload_kind: WorkloadKind
    faults: list[str]
    scenario: Scenario | None = None
    replay: Replay | None = None  # --replay: a stored run's fault schedule instead of a drawn one

    # -- the store ---------------------------------------------------------

    def open_store(self) -> RunStore:
        return RunStore(self.spec.results, self.spec.name, datetime.now())

    def record_test(self, store: RunStore, addrs: Mapping[str, NodeAddr] | None = None) -> None:
        store.write_json(TEST_JSON, self.test_json(store, addrs))

    def record_failure(self, store: RunStore, error: str, run: dict[str, Any]) -> None:
        store.write_json(RESULTS_JSON, {"schema": RESULTS_SCHEMA, "test": self.spec.name, "seed": self.spec.seed,
                                        "valid": None, "exit_code": EXIT_FAILED, "error": error, "anomalies": [],
                                        "run": run})

    def test_json(self, store: RunStore, addrs: Mapping[str, NodeAddr] | None = None) -> dict[str, Any]:
        spec, wk = self.spec, self.workload_kind
        data: dict[str, Any] = {
            "name": spec.name,
            "start": store.start.isoformat(timespec="seconds"),
            "options": spec.to_json(),
            "seed": spec.seed,
            "workload": spec.workload,
            "model": wk.model,
            "independent": wk.independent,
            "versions": {"seam": _version(), "python": platform.python_version()},
            "target": {"name": self.target_kind.name, "module": spec.target, "bugs": list(spec.bugs),
                       "replication": list(spec.replication),
                       "options": self.target_kind.resolved_options(spec)},
            "faults": faults.describe(self.faults),
            "scenario": None if self.scenario is None else {
                "name": self.scenario.name, "summary": self.scenario.summary, "proof": self.scenario.proof,
                "exposes": dict(self.scenario.exposes), "lead_in": self.scenario.lead_in},
            "control": {"pid": os.getpid()},
        }
        if self.replay is not None:
            data["replay"] = self.replay.describe()
        if addrs is not None:
            data["nodes"] = {n: a.to_json() for n, a in addrs.items()}
        return data

    # -- nodes, target, workload, nemesis -------------------------------------

    def provision(self, store: RunStore, scopes: contextlib.ExitStack) -> tuple[Remote, dict[str, NodeAddr]]:
        return nodes.provision(self.spec, store.path.name, scopes, self.target_kind.host_check)

    def make_target(self, remote: Remote, addrs: Mapping[str, NodeAddr]) -> Target:
        return self.target_kind.make(MakeContext(remote, dict(addrs), self.spec, faults.wants(self.faults)))

    def workload(self, addrs: Mapping[str, NodeAddr]) -> Workload:
        return self.workload_kind.build(self.spec, addrs)

    def nemesis(self, test: RunTest) -> tuple[Nemesis, Any, Any]:
        nemesis, schedule, final = faults.build(self.spec, self.faults, test, self.workload_kind, self.scenario)
        if self.replay is not None and schedule is not None:
            schedule = self.replay.schedule()
        return nemesis, schedule, final

    def heal_previous(self, test: RunTest) -> None:
        stored.heal_previous(Path(self.spec.results) / self.spec.name, test.store.path)

    def node_for(self, thread: int, names: list[str]) -> str:
        """The node a client thread talks to: thread t to node t mod N."""
        return names[thread % len(names)]

    @contextlib.contextmanager
    def observe(self, test: RunTest, start: float) -> Iterator[Any]:
        if self.target_kind.observe is None:
            yield None
            return
        with self.target_kind.observe(test, test.addrs, test.store.path, start) as observer:
            yield observer

    # -- results ---------------------------------------------------------------

    def finish(self, run_dir: Path, result: CheckResult, history: History, run: dict[str, Any]) -> int:
        """results.json, anomalies/, the report; the run's exit code."""
        return stored.finish(run_dir, result, history, run=run)


def build_plan(spec: TestSpec) -> Plan:
    """Resolve and validate ``spec`` into a Plan; ConfigError on any bad option."""
    spec.validate()
    kind = get(spec.target)
    scenario = None
    if spec.scenario:
        scenario = _scenario(kind, spec.scenario)
        spec = _with_scenario(spec, scenario)
    if spec.workload not in kind.workloads:
        raise ConfigError(f"unknown workload {spec.workload!r} for target {kind.name}; "
                          f"known workloads: {', '.join(sorted(kind.workloads))}")
    workload = kind.workloads[spec.workload]
    for b in spec.bugs:
        if b not in kind.bugs:
            known = ", ".join(sorted(kind.bugs)) or "none"
            raise ConfigError(f"unknown bug {b!r} for target {kind.name}; known bugs: {known}")
    kind.resolved_options(spec)
    if kind.check_spec is not None:
        kind.check_spec(spec)
    for fault in spec.nemesis:
        if fault in kind.refuses:
            raise ConfigError(f"--nemesis {fault}: target {kind.name} cannot take it: {kind.refuses[fault]}")
    names = faults.check(spec, kind, workload)
    _check_cluster(spec)
    if spec.recovery_time is None:
        spec = replace(spec, recovery_time=workload.recovery_time)
    return Plan(spec, kind, workload, names, scenario)


def _scenario(kind: TargetKind, name: str) -> Scenario:
    if name not in kind.scenarios:
        known = ", ".join(sorted(kind.scenarios)) or "none"
        raise ConfigError(f"unknown scenario {name!r} for target {kind.name}; scenarios: {known} (see `seam nemeses`)")
    return kind.scenarios[name]


def _with_scenario(spec: TestSpec, scenario: Scenario) -> TestSpec:
    """The spec a scenario runs: its workload and faults, its options under the user's
    --nemesis-opt, its defaults where the user kept Seam's."""
    if spec.nemesis:
        raise ConfigError(f"--scenario {scenario.name} brings its own faults ({', '.join(scenario.faults)}); "
                          "drop --nemesis, or drop --scenario to pick faults yourself")
    if spec.workload != scenario.workload:
        raise ConfigError(f"--scenario {scenario.name} runs workload {scenario.workload}, not {spec.workload}; "
                          f"drop --workload or use -w {scenario.workload}")
    options = {f: {**scenario.options.get(f, {}), **spec.nemesis_options.get(f, {})} for f in scenario.faults}
    changes: dict[str, Any] = {"nemesis": list(scenario.faults), "nemesis_options": faults.resolve(scenario.faults, options)}
    plain = TestSpec()
    for field_name, value in scenario.defaults.items():
        if getattr(spec, field_name) == getattr(plain, field_name):
            changes[field_name] = value
    return replace(spec, **changes)


def check_spec(spec: TestSpec) -> None:
    """Every bad option fails here, before a directory or process exists."""
    build_plan(spec)


def _check_cluster(spec: TestSpec) -> None:
    if spec.cluster == "netns":
        if not nodes.running_as_root():
            raise ConfigError("--cluster netns needs root (network namespaces); run as root or use --cluster local")
        if shutil.which("ip") is None:
            raise ConfigError("--cluster netns needs `ip` (iproute2); install it or use --cluster local")


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("seam")
    except metadata.PackageNotFoundError:
        return "unknown"
