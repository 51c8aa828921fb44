"""run_test: one chaos test from options to verdict, as nested scopes.

The order, as in Jepsen's core: open the run's store; provision the nodes;
install and start the target; heal the nemesis; run the generator (main
phase under the time limit and rate, the nemesis's final heal, a recovery
wait, final reads); collect every node's files; stop the target; check;
write results.json. Each scope tears down in a ``finally``, so a failure or
Ctrl-C at any point still stops every node process (by pid), still collects
node logs, and still leaves the history and the reason in the run directory.

Ctrl-C: the first ends the main phase (the final heal, recovery and final
reads still run, so the run is still checkable); the second stops the
generator at once (in-flight ops still complete or time out); the third
raises KeyboardInterrupt, and the ``finally`` scopes still run.

Exit codes follow DESIGN section 6: 0 valid, 1 anomalies, 2 unknown,
3 the run itself failed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import shutil
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from harness.core.errors import EXIT_FAILED, ConfigError, SeamError, TargetError
from harness.core.op import History, Op
from harness.core.verdict import UNKNOWN_VERDICT, CheckResult, Valid, exit_code
from harness.spec import TestSpec
from harness.store import RESULTS_JSON, TEST_JSON, RunStore

log = logging.getLogger("seam.runner")

#: Nemeses that change iptables, on the nodes or (for 127.0.0.x nodes) on this host.
NEEDS_ROOT = ("partition", "loss")


@dataclass
class RunOutcome:
    """What a run ended with. ``valid`` is None when it failed before a verdict."""

    valid: Valid | None
    exit_code: int
    path: Path | None
    error: str | None = None
    ops: int = 0
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class Test:
    """What generators, clients and nemeses see of a run (Jepsen's test map)."""

    spec: TestSpec
    nodes: list[str]
    remote: Any
    target: Any
    store: RunStore
    history: list[Op] = field(default_factory=list)

    @property
    def seed(self) -> int:
        return self.spec.seed


class NoopNemesis:
    """The nemesis of a run without faults: heal is a no-op, ops are refused."""

    def setup(self, test: Any) -> None:
        pass

    def invoke(self, test: Any, op: Op) -> Op:
        from dataclasses import replace

        return replace(op, type="info", extra={**op.extra, "error": "no nemesis in this run"})

    def heal(self, test: Any) -> None:
        pass


# ---------------------------------------------------------------------------
# validation before anything starts


def check_spec(spec: TestSpec) -> None:
    """Every bad option fails here, before a directory or process exists."""
    from harness import workloads
    from target.bugs import KNOWN

    spec.validate()
    workloads.check_name(spec.workload)
    for b in spec.bugs:
        if b not in KNOWN:
            raise ConfigError(f"unknown bug {b!r}; known bugs: {', '.join(sorted(KNOWN))} (see target/bugs.py)")
    from nemesis.combined import parse_names

    names = parse_names(spec.nemesis)
    root = hasattr(os, "geteuid") and os.geteuid() == 0
    for n in names:
        if n in NEEDS_ROOT and not root:
            raise ConfigError(f"--nemesis {n} needs root (it installs iptables rules); run as root or drop it")
    if spec.cluster == "netns":
        if not (hasattr(os, "geteuid") and os.geteuid() == 0):
            raise ConfigError("--cluster netns needs root (network namespaces); run as root or use --cluster local")
        if shutil.which("ip") is None:
            raise ConfigError("--cluster netns needs `ip` (iproute2); install it or use --cluster local")


# ---------------------------------------------------------------------------
# the run


def run_test(spec: TestSpec, *, progress: bool = True, install_sigint: bool = True) -> RunOutcome:
    """Run one test; see the module docstring. Bad options raise ConfigError (nothing started)."""
    check_spec(spec)
    store = RunStore(spec.results, spec.name, datetime.now())
    handler = store.log_handler()
    seam_log = logging.getLogger("seam")
    seam_log.addHandler(handler)
    if seam_log.level == logging.NOTSET or seam_log.level > logging.INFO:
        seam_log.setLevel(logging.INFO)
    store.write_json(TEST_JSON, _test_json(spec, store))
    ui = Progress(enabled=progress)
    stops = Stops()
    outcome = RunOutcome(valid=None, exit_code=EXIT_FAILED, path=store.path)
    try:
        with stops.sigint(install_sigint), ui:
            outcome = _run(spec, store, ui, stops)
    except SeamError as e:
        log.error("run failed: %s", e)
        outcome = RunOutcome(None, EXIT_FAILED, store.path, error=str(e), ops=ui.total, counts=dict(ui.counts))
        _write_failure(store, str(e), ui)
    except KeyboardInterrupt:
        log.error("run interrupted before a verdict")
        outcome = RunOutcome(None, EXIT_FAILED, store.path, error="interrupted", ops=ui.total, counts=dict(ui.counts))
        _write_failure(store, "interrupted (Ctrl-C three times)", ui)
    finally:
        store.close()
        seam_log.removeHandler(handler)
    return outcome


def _run(spec: TestSpec, store: RunStore, ui: Progress, stops: Stops) -> RunOutcome:
    from harness import workloads

    with contextlib.ExitStack() as scopes:
        ui.phase("provision")
        remote, addrs = provision(spec, store, scopes)
        target = _make_target(spec, remote, addrs)
        test = Test(spec=spec, nodes=list(addrs), remote=remote, target=target, store=store)
        # Registered before setup, so a half-started cluster is still collected and stopped.
        scopes.callback(_teardown_all, test)
        scopes.callback(_collect_all, test)
        store.write_json(TEST_JSON, _test_json(spec, store, test))
        # Built before any node starts: a nemesis the target cannot support is exit 3 with nothing running.
        nemesis, schedule, final = _nemesis_packages(spec, test)
        scopes.callback(_heal_quietly, nemesis, test)
        _heal_previous(spec, test)
        ui.phase("setup")
        setup_all(test)
        workload = workloads.build(spec, addrs)
        nemesis.setup(test)
        nemesis.heal(test)

        gen = build_generator(spec, workload, stops.main, schedule, final)
        ui.phase("main")
        t0 = time.monotonic()
        ran = _interpret(test, gen, workload, nemesis, spec, stops, ui)
        elapsed = time.monotonic() - t0
        # Heal, collect and stop before checking: checkers read the collected ledgers.
        ui.phase("collect")
        scopes.close()

    ui.phase("check")
    history = History(test.history, source=str(store.history_path))
    result = _check(workload.checker, test, history, store.path)
    store.write_json(RESULTS_JSON, _results_json(result, ui, elapsed, stops, getattr(ran, "stats", None)))
    _render_report(store.path)
    code = exit_code(result.valid)
    return RunOutcome(result.valid, code, store.path, error=result.error, ops=ui.total, counts=dict(ui.counts))


def _render_report(run_dir: Path) -> None:
    """report.html and graphs/; a rendering failure is logged, never a failed run."""
    ui_log = logging.getLogger("seam.report")
    try:
        from checkers.report.render import render_run

        ui_log.info("report: %s", render_run(run_dir))
    except Exception as e:
        ui_log.warning("could not render the report (seam report %s tries again): %s", run_dir, e)


def _nemesis_packages(spec: TestSpec, test: Test) -> tuple[Any, Any, Any]:
    """(nemesis, schedule, final) for --nemesis; the no-op nemesis and no generators without one.

    Every fault is written to ``nemesis.jsonl`` in the run directory before it
    is applied, so ``seam heal`` (or the next run) can undo what a crashed run left.
    """
    from nemesis.combined import (
        ComposedNemesis,
        NemesisContext,
        build,
        final_generator,
        ledger_for,
        parse_names,
        schedule,
    )

    names = parse_names(spec.nemesis)
    if not names:
        return NoopNemesis(), None, None
    ctx = NemesisContext(
        remote=test.remote,
        target=test.target,
        nodes=list(test.nodes),
        addresses={n: a.address for n, a in test.target.addrs.items()},
        seed=spec.seed,
        ledger=ledger_for(test.store.path),
    )
    packages = build(names, ctx)
    log.info("nemesis: %s every %gs (concurrency %d)", ", ".join(names), spec.nemesis_interval, spec.nemesis_concurrency)
    return (ComposedNemesis(packages),
            schedule(packages, interval=spec.nemesis_interval, concurrency=spec.nemesis_concurrency),
            final_generator(packages))


def _heal_previous(spec: TestSpec, test: Test) -> None:
    """Undo what earlier runs of this test left behind when their control node died:
    open faults in their fault ledgers, then their node processes (which would
    otherwise still hold this run's ports)."""
    from harness.recover import (
        TEST_JSON,
        control_alive,
        find_runs,
        heal_run,
        load_run,
        stop_leftovers,
    )

    def say(line: str) -> None:
        log.info("previous run: %s", line)

    for run_dir in find_runs([Path(spec.results) / spec.name], TEST_JSON):
        if run_dir.resolve() == test.store.path.resolve():
            continue
        try:
            if control_alive(load_run(run_dir)):
                continue
            heal_run(run_dir, report=say)
            stop_leftovers(run_dir, report=say)
        except Exception as e:  # its nodes may be gone; this run's own heal does not depend on it
            log.warning("could not heal what %s left: %s", run_dir, e)


def _interpret(test: Test, gen: Any, workload: Any, nemesis: Any, spec: TestSpec, stops: Stops, ui: Progress) -> Any:
    from harness.interpreter import run_generator

    nodes = test.nodes

    def record(op: Op) -> None:
        test.store.record(op)
        test.history.append(op)
        ui.count(op)

    def client_for(thread: int) -> Any:
        # Spread client processes over every node: thread t talks to node t mod N.
        return workload.client.open(test, nodes[thread % len(nodes)])

    epoch_ns = time.monotonic_ns()
    # The scraper shares the history's time zero, so metrics and ops share one axis.
    with _scraper(test, epoch_ns):
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


@contextlib.contextmanager
def _scraper(test: Test, epoch_ns: int) -> Any:
    """GET /metrics from every node once a second into nodes/<node>/metrics.jsonl."""
    addrs = getattr(test.target, "addrs", None)
    if not addrs:
        yield None
        return
    from harness.metrics_scrape import MetricsScraper

    scraper = MetricsScraper({n: a.url for n, a in addrs.items()}, test.store.path, 1.0, start=epoch_ns / 1e9)
    scraper.start()
    try:
        yield scraper
    finally:
        scraper.stop()


def build_generator(spec: TestSpec, workload: Any, stop_main: threading.Event,
                    nemesis_schedule: Any = None, nemesis_final: Any = None) -> Any:
    """main (rate, time limit, until Ctrl-C; the nemesis schedule beside it) -> final heal
    -> recovery wait -> final reads.

    ``nemesis_schedule`` (already routed to the nemesis thread, as
    ``nemesis.combined.schedule`` returns it) runs beside the clients during
    the main phase and ends with it; ``nemesis_final`` (the packages' undo
    ops, routed likewise) runs after.
    """
    from harness.generator import any_of, clients, phases, sleep, stagger, time_limit

    main = workload.generator
    if spec.rate > 0:
        main = stagger(1.0 / spec.rate, main)
    both = clients(main) if nemesis_schedule is None else any_of(nemesis_schedule, clients(main))
    steps: list[Any] = [UntilSet(stop_main, time_limit(spec.time_limit, both))]
    if nemesis_final is not None:
        steps.append(nemesis_final)
    if spec.recovery_time > 0:
        steps.append(clients(sleep(spec.recovery_time)))
    if workload.final_generator is not None:
        steps.append(clients(workload.final_generator))
    return phases(*steps)


@dataclass(frozen=True)
class UntilSet:
    """``gen`` until ``event`` is set (Ctrl-C): then exhausted, so the next phase starts."""

    event: threading.Event
    gen: Any

    def op(self, test: Any, ctx: Any) -> Any:
        from harness.generator import op

        if self.event.is_set():
            return None
        answer = op(self.gen, test, ctx)
        if answer is None:
            return None
        template, after = answer
        return template, UntilSet(self.event, after)

    def update(self, test: Any, ctx: Any, event: Any) -> Any:
        from harness.generator import update

        return UntilSet(self.event, update(self.gen, test, ctx, event))


# ---------------------------------------------------------------------------
# provisioning


def provision(spec: TestSpec, store: RunStore, scopes: contextlib.ExitStack) -> tuple[Any, dict[str, Any]]:
    """A Remote and each node's address for ``spec.cluster``; cleanup goes on ``scopes``."""
    from harness.targets.pipeline import local_addrs, mapped_addrs, run_root

    run_id = f"{spec.name}-{store.path.name}-{os.getpid()}"
    root = run_root(spec.cluster, run_id)
    if spec.cluster == "local":
        from harness.control.local import LocalRemote

        remote: Any = LocalRemote()
        scopes.callback(remote.close)
        if spec.base_port:
            addrs = local_addrs(spec.node_names(), root, spec.base_port)
            check_ports_free(addrs)
            return remote, addrs
        return remote, _free_local_addrs(spec, root)
    if spec.cluster == "netns":
        from harness.control.cluster import NetnsCluster

        wanted = spec.node_names()
        count = max([spec.node_count] + [int(n[1:]) for n in wanted if n[1:].isdigit()])
        cluster = NetnsCluster(nodes=count, subnet=spec.subnet, prefix=spec.cluster_prefix,
                               state_dir=Path(spec.cluster_state) if spec.cluster_state else None)
        existed = bool(cluster.status().get("recorded"))
        infos = cluster.up()
        if not existed:
            # We made it, so we remove it; a cluster made by `seam cluster up` stays.
            scopes.callback(_down_quietly, cluster)
        remote = cluster.remote()
        scopes.callback(remote.close)
        log.info("netns cluster: %s", ", ".join(f"{i.name}={i.address}" for i in infos))
        return remote, mapped_addrs({i.name: i.address for i in infos if i.name in wanted}, root, spec.base_port or 7100)
    return _provision_ssh(spec, root, scopes)


def _provision_ssh(spec: TestSpec, root: str, scopes: contextlib.ExitStack) -> tuple[Any, dict[str, Any]]:
    from harness.control.ssh import SshHost, SshRemote
    from harness.targets.pipeline import mapped_addrs

    hosts = {
        n: SshHost(host=n, port=spec.ssh_port, username=spec.username or "root", key_file=spec.ssh_key,
                   known_hosts=spec.known_hosts, sudo=spec.ssh_sudo, insecure=spec.ssh_insecure)
        for n in spec.nodes
    }
    remote = SshRemote(hosts)
    scopes.callback(remote.close)
    if spec.ssh_insecure:
        log.warning("--ssh-insecure: accepting unknown host keys of %s", ", ".join(spec.nodes))
    # Reach every node before touching any: an unreachable node is exit 3 with nothing started.
    with ThreadPoolExecutor(max_workers=min(8, len(spec.nodes))) as pool:
        for f in [pool.submit(remote.run, n, ["python3", "-c", "import sys; assert sys.version_info >= (3, 11)"], timeout=30) for n in spec.nodes]:
            f.result()
    return remote, mapped_addrs({n: n for n in spec.nodes}, root, spec.base_port or 7100, bind_all=True)


def _free_local_addrs(spec: TestSpec, root: str) -> dict[str, Any]:
    """--base-port auto: the first of 7100, 7200, ... 9900 whose ports are all free."""
    from harness.targets.pipeline import local_addrs

    for base in range(7100, 10000, 100):
        addrs = local_addrs(spec.node_names(), root, base)
        try:
            check_ports_free(addrs)
        except TargetError:
            continue
        return addrs
    raise TargetError("no free ports for local nodes in 7101..9999 on 127.0.0.11+; fix: stop other runs or pass --base-port")


def check_ports_free(addrs: dict[str, Any]) -> None:
    """A port in use means another run (or anything) is there: say which, before starting."""
    for a in addrs.values():
        with socket.socket() as s:
            try:
                s.bind((a.host, a.port))
            except OSError as e:
                raise TargetError(
                    f"{a.name}: cannot listen on {a.host}:{a.port} ({e.strerror}); another run may be using it; "
                    "fix: stop it or pass --base-port"
                ) from None


def _make_target(spec: TestSpec, remote: Any, addrs: dict[str, Any]) -> Any:
    from harness.targets.pipeline import PipelineTarget

    # Nodes run under libfaketime only when the clock nemesis needs it (it costs a file read per time call).
    return PipelineTarget(remote, addrs, replication=spec.replication, bugs=spec.bugs, seed=spec.seed,
                          skew="clock" in spec.nemesis)


def setup_all(test: Test) -> None:
    """Install and start every node in parallel, then wait until each answers."""
    with ThreadPoolExecutor(max_workers=min(8, len(test.nodes))) as pool:
        for f in [pool.submit(test.target.setup, test, n) for n in test.nodes]:
            f.result()
    test.target.wait_ready(test.nodes)


def _collect_all(test: Test) -> None:
    for n in test.nodes:
        try:
            test.target.collect(test, n, test.store.nodes_dir(n))
        except Exception as e:  # collecting one node must not stop the others
            log.error("collect %s failed: %s", n, e)


def _teardown_all(test: Test) -> None:
    for n in test.nodes:
        try:
            test.target.teardown(test, n)
        except Exception as e:
            log.error("teardown %s failed: %s", n, e)
    stop_all = getattr(test.target, "stop_all", None)
    if stop_all is not None:
        stop_all()


def _heal_quietly(nemesis: Any, test: Test) -> None:
    try:
        nemesis.heal(test)
    except Exception as e:
        log.error("nemesis heal failed: %s; run `seam heal`", e)


def _down_quietly(cluster: Any) -> None:
    try:
        cluster.down()
    except Exception as e:
        log.error("cluster down failed: %s; run `seam cluster down`", e)


# ---------------------------------------------------------------------------
# checking and results


def _check(checker: Any, test: Test, history: History, path: Path) -> CheckResult:
    try:
        from checkers.compose import check_safe

        return check_safe(checker, test, history, path)
    except SeamError:
        raise
    except Exception as e:
        return CheckResult(valid=UNKNOWN_VERDICT, error=f"{type(e).__name__}: {e}")


def _results_json(result: CheckResult, ui: Progress, elapsed: float, stops: Stops, stats: Any = None) -> dict[str, Any]:
    data = result.to_json()
    data["checkers"] = data.pop("stats")
    data["run"] = {
        "ops": ui.total,
        "counts": dict(ui.counts),
        "seconds": round(elapsed, 3),
        "interrupted": stops.main.is_set(),
    }
    if stats is not None:
        data["run"]["interpreter"] = stats.to_json()
    return data


def _write_failure(store: RunStore, error: str, ui: Progress) -> None:
    with contextlib.suppress(Exception):
        store.write_json(RESULTS_JSON, {"valid": None, "error": error, "anomalies": [],
                                        "run": {"ops": ui.total, "counts": dict(ui.counts), "failed": True}})


def _test_json(spec: TestSpec, store: RunStore, test: Test | None = None) -> dict[str, Any]:
    from importlib import metadata

    try:
        version = metadata.version("seam")
    except metadata.PackageNotFoundError:
        version = "unknown"
    data: dict[str, Any] = {
        "name": spec.name,
        "start": store.start.isoformat(timespec="seconds"),
        "options": spec.to_json(),
        "seed": spec.seed,
        "workload": spec.workload,
        "model": "cas-register" if spec.workload == "register" else None,
        "independent": spec.workload == "register",
        "versions": {"seam": version, "python": platform.python_version()},
        "target": {"name": "pipeline", "bugs": list(spec.bugs), "replication": list(spec.replication)},
        "control": {"pid": os.getpid()},
    }
    if test is not None:
        data["nodes"] = {n: {"url": a.url, "workdir": a.workdir} for n, a in test.target.addrs.items()}
    return data


# ---------------------------------------------------------------------------
# Ctrl-C and progress


class Stops:
    """Two events: ``main`` (first Ctrl-C: end the main phase) and ``hard`` (second: stop)."""

    def __init__(self) -> None:
        self.main = threading.Event()
        self.hard = threading.Event()

    def press(self) -> None:
        if not self.main.is_set():
            self.main.set()
            self._say("Ctrl-C: ending the main phase; final heal and reads still run (Ctrl-C again to stop now)")
        elif not self.hard.is_set():
            self.hard.set()
            self._say("Ctrl-C: stopping now; in-flight ops complete or time out (Ctrl-C again to abort)")
        else:
            raise KeyboardInterrupt

    @staticmethod
    def _say(message: str) -> None:
        log.warning(message)
        sys.stderr.write(f"\nseam: {message}\n")

    @contextlib.contextmanager
    def sigint(self, install: bool) -> Iterator[None]:
        if not install or threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = signal.signal(signal.SIGINT, lambda *_: self.press())
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)


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

