"""Nemesis packages for a run: which faults, validated, built and described.

Part of the composition root: the faults themselves (what each needs, its
options, its undo) are declared once each in ``nemesis/``; this module only
asks the registry and wires the packages to the run.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from harness.assemble.nodes import running_as_root
from harness.core.errors import ConfigError
from harness.core.protocols import Test
from harness.spec import TestSpec
from harness.targets.base import Scenario, TargetKind, WorkloadKind

if TYPE_CHECKING:
    from harness.runner import Test as RunTest

log = logging.getLogger("seam.runner")


def check(spec: TestSpec, kind: TargetKind, workload: WorkloadKind) -> list[str]:
    """The fault names of ``--nemesis``, each able to run here; ConfigError otherwise."""
    from nemesis.registry import check_applicable, needing_root, parse_names

    names = parse_names(spec.nemesis)
    for n in needing_root(names):  # iptables rules, which name a source and a destination address
        if not running_as_root():
            raise ConfigError(f"--nemesis {n} needs root (it installs iptables rules); run as root or drop it")
        if spec.cluster == "local" and not kind.binds_source:
            raise ConfigError(
                f"--nemesis {n} on --cluster local: target {kind.name}'s nodes do not send from their own "
                "127.0.0.x address, so rules naming source and destination would cut nothing; use --cluster netns")
    check_applicable(names, spec.nemesis_options, target=None, services=workload.services)
    return names


def wants(names: list[str]) -> frozenset[type]:
    """The target abilities the faults need, so the target turns on only those."""
    from nemesis.registry import get

    return frozenset(a for a in (get(n).ability for n in names) if a is not None)


def describe(names: list[str]) -> dict[str, Any]:
    """Each fault's colour, start and stop ops and summary, for test.json (the report reads them)."""
    from nemesis.registry import describe as described

    return described(names)


def resolve(names: tuple[str, ...] | list[str], options: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Options for ``names``, validated, defaults filled in (a scenario's, then the user's)."""
    from nemesis.registry import resolve_options

    return resolve_options(list(names), options)


def scenario_schedule(scenario: Scenario, packages: list[Any]) -> Any:
    """The scenario's round, again and again, on the nemesis thread, after its lead-in.

    A step without a value takes the package's own start op, drawn afresh
    each round from the run's seeded generator context (a new node, a new
    shape); a step with a value overrides that op's value (a role or a node
    replaces the drawn aim; seconds and other fields replace the drawn ones)."""
    from harness.generator import fn, nemesis, sleep, then
    from nemesis.registry import get

    by_name = {p.name: p for p in packages}

    def one_round(test: Test | None, ctx: Any) -> list[Any]:
        rng = ctx.rng("scenario-round")
        steps: list[Any] = []
        for step in scenario.round:
            if not isinstance(step, tuple):
                steps.append(sleep(float(step)))
                continue
            name, phase, value = step
            if phase == "stop":
                steps.append(get(name).stop_op())
            elif value is None:
                steps.append(by_name[name].start(rng))
            else:
                steps.append(_aimed(by_name[name].start(rng), value))
        return steps

    rounds = fn(one_round)
    return nemesis(then(sleep(scenario.lead_in), rounds) if scenario.lead_in > 0 else rounds)


def _aimed(op: Any, value: dict[str, Any]) -> Any:
    """The drawn start op (a generator op dict) with the scenario step's value laid over it."""
    drawn = dict(op.get("value") or {})
    if "node" in value or "role" in value:
        drawn.pop("node", None)
        drawn.pop("role", None)
    return {**op, "value": {**drawn, **value}}


def build(spec: TestSpec, names: list[str], test: RunTest, workload: WorkloadKind,
          scenario: Scenario | None = None) -> tuple[Any, Any, Any]:
    """(nemesis, schedule, final) for the run; the no-op nemesis and no generators without faults.

    Every fault is written to ``nemesis.jsonl`` in the run directory before it
    is applied, so ``seam heal`` (or the next run) can undo what a crashed run left.
    """
    from harness.generator.nemesis_schedule import final_generator, schedule
    from nemesis.combined import ComposedNemesis, NoopNemesis, ledger_for
    from nemesis.registry import build_packages, check_applicable
    from nemesis.spec import NemesisContext

    if not names:
        return NoopNemesis(), None, None
    ctx = NemesisContext(
        remote=test.remote,
        target=test.target,
        nodes=list(test.nodes),
        addresses={n: a.address for n, a in test.addrs.items()},
        seed=spec.seed,
        ledger=ledger_for(test.store.path),
    )
    check_applicable(names, spec.nemesis_options, target=test.target, services=workload.services)
    packages = build_packages(names, ctx, spec.nemesis_options)
    if scenario is not None:
        log.info("scenario %s: %s", scenario.name, scenario.summary)
        plan = scenario_schedule(scenario, packages)
    else:
        log.info("nemesis: %s every %gs (concurrency %d)", ", ".join(names), spec.nemesis_interval,
                 spec.nemesis_concurrency)
        plan = schedule(packages, interval=spec.nemesis_interval, concurrency=spec.nemesis_concurrency)
    return ComposedNemesis(packages), plan, final_generator(packages)
