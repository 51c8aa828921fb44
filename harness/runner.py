"""run_test: one chaos test from a plan to a verdict, as nested scopes.

The runner runs the ``Plan`` it is handed (``harness.assemble`` turns options
into one) and names no implementation: every Remote, target, workload,
nemesis and store comes from the plan. The order, as in Jepsen's core: open
the run's store; provision the nodes; install and start the target; heal the
nemesis; run the generator (main phase under the time limit and rate, the
nemesis's final heal, a recovery wait, final reads); stop every node and
then collect its files (one consistent cut); tear the target down; check;
write results. Each scope tears down in a
``finally``, so a failure or Ctrl-C at any point still stops every node
process (by pid), still collects node logs, and still leaves the history and
the reason in the run directory.

Stopping from outside (``harness.signals``): the first Ctrl-C ends the main
phase (the final heal, recovery and final reads still run, so the run is
still checkable); the second stops the generator at once (in-flight ops
still complete or time out); the third aborts. SIGTERM and SIGHUP stop the
generator at once, and a second one aborts. A stopped run is healed,
collected and checked like any other; one stopped before a single client op
completed is exit 3 (nothing was checked). An abort skips the check, and the
``finally`` scopes still heal and stop every node. Once the nodes are
stopped, any of these signals cuts the check short (exit 3; the run log
says where the check was, the history stays to be checked again).

Exit codes follow DESIGN section 6: 0 valid, 1 anomalies, 2 unknown,
3 the run itself failed.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
import traceback
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from harness.core.errors import EXIT_FAILED, SeamError
from harness.core.op import History, Op
from harness.core.placement import NodeAddr
from harness.core.protocols import (
    HasLiveState,
    HasLogs,
    Nemesis,
    Remote,
    StopsAll,
    Store,
    Target,
    WaitsReady,
)
from harness.core.verdict import UNKNOWN_VERDICT, CheckResult, Valid
from harness.signals import RunAborted, Stops
from harness.spec import TestSpec

if TYPE_CHECKING:
    from harness.assemble import Plan
    from harness.targets.base import Workload

log = logging.getLogger("seam.runner")

#: Innermost frames of a check cut short that the run log keeps.
CUT_FRAMES = 12


@dataclass
class RunOutcome:
    """What a run ended with. ``valid`` is None when it failed before a verdict."""

    valid: Valid | None
    exit_code: int
    path: Path | None
    error: str | None = None
    ops: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    stopped_by: str | None = None  # the signal that stopped or aborted the run, if one did
    replay: dict[str, Any] | None = None  # with --replay: how close the fault schedule came


@dataclass
class Test:
    """The live run as generators, clients, nemeses and checkers see it (Jepsen's test map):
    the ``harness.core.protocols.Test`` they may read, plus what the runner itself uses."""

    spec: TestSpec
    nodes: list[str]
    remote: Remote
    target: Target
    store: Store
    addrs: dict[str, NodeAddr] = field(default_factory=dict)
    history: list[Op] = field(default_factory=list)
    epoch_wall: float | None = None  # wall-clock time of the history's time zero

    @property
    def seed(self) -> int:
        return self.spec.seed

    @functools.cached_property
    def options(self) -> Mapping[str, Any]:
        """The run's options as test.json keeps them."""
        return MappingProxyType(self.spec.to_json())


# ---------------------------------------------------------------------------
# the run


def run_test(plan: Plan, *, progress: bool = True, install_sigint: bool = True) -> RunOutcome:
    """Run one planned test; see the module docstring. The plan was validated when built.

    ``install_sigint=False`` leaves SIGINT, SIGTERM and SIGHUP to the caller
    (a test harness that runs this in-process)."""
    store = plan.open_store()
    handler = store.log_handler()
    seam_log = logging.getLogger("seam")
    seam_log.addHandler(handler)
    if seam_log.level == logging.NOTSET or seam_log.level > logging.INFO:
        seam_log.setLevel(logging.INFO)
    plan.record_test(store)
    ui = Progress(enabled=progress)
    stops = Stops()
    outcome = RunOutcome(valid=None, exit_code=EXIT_FAILED, path=store.path)
    try:
        with stops.installed(install_sigint), ui:
            outcome = _run(plan, store, ui, stops)
    except SeamError as e:
        log.error("run failed: %s", e)
        outcome = _failed(store, str(e), ui, stops)
        _write_failure(plan, store, str(e), ui)
    except KeyboardInterrupt as e:
        reason = e.reason if isinstance(e, RunAborted) else "interrupted (KeyboardInterrupt)"
        written = _written_verdict(store) if stops.checking else None
        if written is not None:  # only the report was cut short: the verdict stands
            log.warning("%s; results.json keeps the verdict (`seam report %s` renders the report)", reason, store.path)
            return RunOutcome(written.get("valid"), int(written.get("exit_code", EXIT_FAILED)), store.path,
                              ops=ui.total, counts=dict(ui.counts), stopped_by=stops.signal)
        log.error("run aborted before a verdict: %s", reason)
        if stops.checking:  # where a check that ran too long was: the lead for a slow checker
            log.info("the check was cut short in:\n%s", "".join(traceback.format_tb(e.__traceback__)[-CUT_FRAMES:]))
        outcome = _failed(store, reason, ui, stops)
        _write_failure(plan, store, reason, ui)
    finally:
        store.close()
        seam_log.removeHandler(handler)
    return outcome


def _run(plan: Plan, store: Any, ui: Progress, stops: Stops) -> RunOutcome:
    spec = plan.spec
    with stops.cleanup_stack() as scopes:
        ui.phase("provision")
        remote, addrs = plan.provision(store, scopes)
        target = plan.make_target(remote, addrs)
        test = Test(spec=spec, nodes=list(addrs), remote=remote, target=target, store=store, addrs=dict(addrs))
        # Registered before setup, so a half-started cluster is still collected and stopped.
        scopes.callback(_teardown_all, test)
        scopes.callback(_collect_all, test)
        plan.record_test(store, addrs)
        # Built before any node starts: a nemesis the target cannot support is exit 3 with nothing running.
        nemesis, schedule, final = plan.nemesis(test)
        scopes.callback(_heal_quietly, nemesis, test)
        plan.heal_previous(test)
        ui.phase("setup")
        setup_all(test)
        workload = plan.workload(addrs)
        nemesis.setup(test)
        nemesis.heal(test)

        gen = build_generator(spec, workload, stops.main, schedule, final)
        ui.phase("main")
        t0 = time.monotonic()
        ran = _interpret(plan, test, gen, workload, nemesis, stops, ui)
        elapsed = time.monotonic() - t0
        # Heal, collect and stop before checking: checkers read the collected ledgers.
        ui.phase("collect")
        scopes.close()
    stops.stopped()

    if stops.signal is not None and not any(ui.counts.values()):
        raise SeamError(f"stopped by {stops.signal} before any client op completed: nothing to check")
    ui.phase("check")
    history = History(test.history, source=str(store.history_path))
    result = _check(workload.checker, test, history, store.path)
    stats = _run_stats(ui, elapsed, stops, getattr(ran, "stats", None))
    stats["epoch_wall"] = test.epoch_wall
    replay = plan.replay.closeness(test.history) if plan.replay is not None else None
    if replay is not None:
        stats["replay"] = replay
    code = plan.finish(store.path, result, history, stats)
    return RunOutcome(result.valid, code, store.path, error=result.error, ops=ui.total, counts=dict(ui.counts),
                      stopped_by=stops.signal, replay=replay)


def _failed(store: Any, error: str, ui: Progress, stops: Stops) -> RunOutcome:
    return RunOutcome(None, EXIT_FAILED, store.path, error=error, ops=ui.total, counts=dict(ui.counts),
                      stopped_by=stops.signal)


def _interpret(plan: Plan, test: Test, gen: Any, workload: Workload, nemesis: Nemesis,
               stops: Stops, ui: Progress) -> Any:
    from harness.interpreter import run_generator

    spec = test.spec

    def record(op: Op) -> None:
        test.store.record(op)
        test.history.append(op)
        ui.count(op)

    def client_for(thread: int) -> Any:
        return workload.client.open(test, plan.node_for(thread, test.nodes))

    epoch_ns = time.monotonic_ns()
    test.epoch_wall = time.time()  # the same instant by the wall clock: node records say wall times
    # Observers (a metrics scraper) share the history's time zero, so metrics and ops share one axis.
    with plan.observe(test, epoch_ns / 1e9):
        return run_generator(
            test,
            gen,
            client_factory=client_for,
            nemesis=nemesis,
            concurrency=spec.concurrency,
            record=record,
            seed=spec.seed,
            op_timeout=spec.op_timeout,
            stop=stops.hard,
            epoch_ns=epoch_ns,
        )


def build_generator(spec: TestSpec, workload: Any, stop_main: threading.Event,
                    nemesis_schedule: Any = None, nemesis_final: Any = None) -> Any:
    """main (rate, time limit, until Ctrl-C; the nemesis schedule beside it) -> final heal
    -> recovery wait -> final reads.

    ``nemesis_schedule`` (already routed to the nemesis thread) runs beside
    the clients during the main phase and ends with it; ``nemesis_final``
    (the packages' undo ops, routed likewise) runs after.
    """
    from harness.generator import any_of, clients, phases, sleep, stagger, time_limit
    from harness.generator.history import UntilSet

    main = workload.generator
    if spec.rate > 0:
        main = stagger(1.0 / spec.rate, main)
    both = clients(main) if nemesis_schedule is None else any_of(nemesis_schedule, clients(main))
    steps: list[Any] = [UntilSet(stop_main, time_limit(spec.time_limit, both))]
    if nemesis_final is not None:
        steps.append(nemesis_final)
    if spec.recovery_time and spec.recovery_time > 0:
        steps.append(clients(sleep(spec.recovery_time)))
    if workload.final_generator is not None:
        steps.append(clients(workload.final_generator))
    return phases(*steps)


def setup_all(test: Test) -> None:
    """Install and start every node in parallel, then wait until each answers."""
    with ThreadPoolExecutor(max_workers=min(8, len(test.nodes))) as pool:
        for f in [pool.submit(test.target.setup, test, n) for n in test.nodes]:
            f.result()
    if isinstance(test.target, WaitsReady):
        test.target.wait_ready(test.nodes)


def _collect_all(test: Test) -> None:
    """Freeze, then copy: every node's live state first, then every node stopped, then
    every node's files. Copied while the system still runs (a final phase that ended
    before it settled), node A's ledger is read before an effect lands on it and node
    B's store after the record of that effect: a saga says ``ship: done`` with no
    shipment anywhere (issue 25, seed 88102)."""
    target = test.target
    if isinstance(target, HasLiveState):
        for n in test.nodes:
            try:
                target.snapshot(test, n, test.store.nodes_dir(n))
            except Exception as e:  # one node's metrics must not stop the others
                log.error("snapshot %s failed: %s", n, e)
    if isinstance(target, StopsAll):
        try:
            target.stop_all()
        except Exception as e:  # still collect: files of a dead node are readable
            log.error("stopping the nodes before collection failed: %s", e)
    if not isinstance(target, HasLogs):
        return
    for n in test.nodes:
        try:
            target.collect(test, n, test.store.nodes_dir(n))
        except Exception as e:  # collecting one node must not stop the others
            log.error("collect %s failed: %s", n, e)


def _teardown_all(test: Test) -> None:
    for n in test.nodes:
        try:
            test.target.teardown(test, n)
        except Exception as e:
            log.error("teardown %s failed: %s", n, e)
    if isinstance(test.target, StopsAll):
        test.target.stop_all()


def _heal_quietly(nemesis: Nemesis, test: Test) -> None:
    try:
        nemesis.heal(test)
    except Exception as e:
        log.error("nemesis heal failed: %s; run `seam heal`", e)


# ---------------------------------------------------------------------------
# checking and results


def _check(checker: Any, test: Test, history: History, path: Path) -> CheckResult:
    """The workload's (composed) checker; one that raises is ``unknown``, bad input is exit 3."""
    try:
        result = checker.check(test, history, path)
    except SeamError:
        raise
    except Exception as e:
        return CheckResult(valid=UNKNOWN_VERDICT, error=f"{type(e).__name__}: {e}")
    return result


def _run_stats(ui: Progress, elapsed: float, stops: Stops, stats: Any = None) -> dict[str, Any]:
    run: dict[str, Any] = {
        "ops": ui.total,
        "counts": dict(ui.counts),
        "seconds": round(elapsed, 3),
        "interrupted": stops.main.is_set(),
        "stopped_by": stops.signal,
    }
    if stats is not None:
        run["interpreter"] = stats.to_json()
    return run


def _written_verdict(store: Any) -> dict[str, Any] | None:
    """results.json as this run wrote it, if it holds a verdict (None before it is written)."""
    from harness.store import RESULTS_JSON, read_json_object

    doc = read_json_object(store.path / RESULTS_JSON)  # {} when missing or half-written
    return doc if doc.get("valid") is not None else None


def _write_failure(plan: Plan, store: Any, error: str, ui: Progress) -> None:
    with contextlib.suppress(Exception):
        plan.record_failure(store, error, {"ops": ui.total, "counts": dict(ui.counts), "failed": True})


# ---------------------------------------------------------------------------
# progress


class Progress:
    """A status line on stderr: phase, elapsed, ops, ops/s, ok/fail/info.

    On a terminal it redraws in place (rich); otherwise it prints a line every
    10 s, so CI logs show progress without flooding.
    """

    def __init__(self, enabled: bool = True, interval: float | None = None):
        self.enabled = enabled
        self.counts: dict[str, int] = {"ok": 0, "fail": 0, "info": 0}
        self.total = 0
        self.nemesis: str = "-"
        self._phase = "start"
        self._t0 = time.monotonic()
        self._main_t0: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._console: Any = None
        self._interval = interval

    def count(self, op: Op) -> None:
        self.total += 1
        if op.process == "nemesis":
            self.nemesis = f"{op.f} {op.type}"
        elif op.type != "invoke":
            self.counts[op.type] = self.counts.get(op.type, 0) + 1

    def phase(self, name: str) -> None:
        self._phase = name
        if name == "main":
            self._main_t0 = time.monotonic()
        log.info("phase: %s", name)

    def line(self) -> str:
        now = time.monotonic()
        elapsed = now - self._t0
        done = sum(self.counts.values())
        # ops/s over the time clients have been running, not over setup
        span = now - self._main_t0 if self._main_t0 is not None else 0.0
        rate = done / span if span > 0 else 0.0
        return (f"seam: {self._phase:<9} {elapsed:6.1f}s  ops {done:>7}  {rate:7.1f}/s  "
                f"ok {self.counts.get('ok', 0)}  fail {self.counts.get('fail', 0)}  info {self.counts.get('info', 0)}  "
                f"nemesis {self.nemesis}")

    def __enter__(self) -> Progress:
        if not self.enabled:
            return self
        from rich.console import Console

        self._console = Console(stderr=True)
        tty = self._console.is_terminal
        interval = self._interval or (0.5 if tty else 10.0)
        self._thread = threading.Thread(target=self._loop, args=(tty, interval), name="seam-progress", daemon=True)
        self._thread.start()
        return self

    def _loop(self, tty: bool, interval: float) -> None:
        if tty:
            from rich.live import Live
            from rich.text import Text

            with Live(Text(self.line()), console=self._console, refresh_per_second=4, transient=True) as live:
                while not self._stop.wait(interval):
                    live.update(Text(self.line()))
        else:
            while not self._stop.wait(interval):
                self._console.print(self.line(), highlight=False, soft_wrap=True)

    def __exit__(self, *exc: object) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join(timeout=2)
            self._console.print(self.line(), highlight=False, soft_wrap=True)

