"""The bug-zoo detection benchmark (issue 11, item 5). Prints figures; asserts nothing.

For every bug flag of the reference pipeline it runs real chaos tests through
the CLI (``python -m harness.cli test``, one subprocess at a time, each with a
fresh ``--seed``, ``--no-progress`` and its own ``--results`` directory) and
reads each run's ``results.json``:

1. the flag under its own scenario (``--seeds`` runs per flag);
2. the flag under the nightly mix (``--mix-seeds`` runs per flag): the
   workload's ``nightly-<workload>`` scenario, every scenario of the workload
   in turn with a random node killed between two, for one cycle (its own
   time limit, unless ``--mix-time-limit``);
3. clean runs (no flag, ``--clean`` per workload), alternately under the
   nightly scenario and under the random mix ``--nemesis
   partition,pause,kill,clock,loss,lost-response --nemesis-concurrency 2``
   (without lost-response for register, which it cannot act on).

What counts:

* a bug run **detects** its flag when ``results.json`` lists an anomaly of the
  flag's expected kind (any severity); other kinds do not count, and are shown.
  A scenario that exposes its flag as a finding about the configuration
  (``weak-quorum-config``: the nodes report quorums that cannot overlap) is
  counted only by what the history shows (``FROM_HISTORY``: a stale read or a
  nonlinearizable key), with the config finding listed beside the rate;
* a clean run is a **false alarm** when it has an anomaly of severity
  ``error`` or its top-level ``valid`` is not true (the output says which);
* a run that exits 3 (the run itself failed: an unknown scenario, a setup
  error), times out (time limit + 240 s) or leaves no ``results.json`` is
  **failed**: it found nothing, so it counts as a miss in a detection rate
  (and a clean run that failed proves nothing clean); failed runs are also
  listed apart, and no goal is met while a run of its row failed.

``--etcd N`` adds the real-system rows (issue 19): N runs of etcd with
linearizable reads under partition, pause and kill (0 false alarms), and N
with ``--target-opt reads=serializable`` under partitions (nonlinearizable in
at least 90%).

Goals (per flag, and for the false alarms per workload): scenario detection
>= 95%, mix detection >= 80%, 0 false alarms. A goal with no completed run is
not met.

The cluster is ``netns`` when running as root and ``ip`` exists, else
``local``; partition and loss need root either way, so without root they are
dropped from the mix (said at the start). Runs use the standard ``seam``
cluster prefix and state directory, so nothing else should use that cluster
meanwhile. Ctrl-C stops the current run (it is sent SIGINT, heals and exits;
its row is dropped) and prints what has been measured.

Run::

    .venv/bin/python bench/detect.py                      # every flag: 3 + 2 runs each, 5 clean per workload
    .venv/bin/python bench/detect.py --only naive-retry --seeds 1 --skip-mix --clean 1 --time-limit 15
    .venv/bin/python bench/detect.py --clean 20 --json /tmp/zoo.json   # the issue's false-alarm goal
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parent.parent

def _zoo() -> tuple[dict[str, tuple[str, str, str]], dict[str, float]]:
    """flag -> (workload, scenario, the anomaly kind that proves the flag was caught), and
    the nightly scenario's time limit per workload, read from the pipeline's scenario
    declarations (one source of truth). A flag's scenario is the first one that exposes
    it other than the nightly compositions."""
    sys.path.insert(0, str(REPO))
    from harness.targets import get

    zoo: dict[str, tuple[str, str, str]] = {}
    nightly: dict[str, float] = {}
    for s in get("pipeline").scenarios.values():
        if s.name.startswith(NIGHTLY):
            nightly[s.workload] = float(s.defaults["time_limit"])
            continue
        for flag, kind in s.exposes.items():
            zoo.setdefault(flag, (s.workload, s.name, kind))
    return zoo, nightly


NIGHTLY = "nightly-"
ZOO, NIGHTLY_LIMIT = _zoo()
#: Kinds that say what a deployment is configured to allow, not what it did: a flag exposed as
#: one counts as detected only by the history's kinds here (issue 24); the finding is shown beside.
FROM_HISTORY: dict[str, tuple[str, ...]] = {"weak-quorum-config": ("stale-read", "nonlinearizable")}
#: Real systems (issue 19): etcd's published result. Linearizable reads stay linearizable
#: under partitions, pauses and kills (a clean row: 0 false alarms); serializable reads
#: served by a member cut off from the leader are stale (a detection row).
ETCD_ROWS: dict[str, dict[str, Any]] = {
    "reads=linearizable": {"opts": [], "nemesis": ["partition", "pause", "kill"], "expect": None},
    "reads=serializable": {"opts": ["reads=serializable"], "nemesis": ["partition"], "expect": "nonlinearizable"},
}
GOAL_ETCD = 0.90
#: Redis with Sentinel (issue 20): Jepsen 2013. The primary and one replica cut off from the
#: majority lose acknowledged writes after the failover (lost-write in >= 90%); one primary with no
#: Sentinel, fsync on every write, under pause and kill loses nothing (0 false alarms); WAIT 2 with
#: min-replicas-to-write 1 is measured (lost and unavailable adds per run), not held to a goal.
REDIS_ROWS: dict[str, dict[str, Any]] = {
    "primary-isolated": {"opts": [], "scenario": "primary-isolated", "nemesis": [], "expect": "lost-write"},
    "failover=none": {"opts": ["failover=none", "appendfsync=always"], "scenario": None,
                      "nemesis": ["pause", "kill"], "expect": None,
                      # half the faults aimed at the primary: a control that never hit it would prove little
                      "nemesis_opts": ["pause.target=any", "kill.target=any"]},
    "wait=2": {"opts": ["wait=2", "min-replicas-to-write=1"], "scenario": "primary-isolated", "nemesis": [],
               "expect": "lost-write", "measure": True},
}
WORKLOADS = ("register", "orders")
MIX = ("partition", "pause", "kill", "clock", "loss", "lost-response")
MIX_CONCURRENCY = 2
NEEDS_ROOT = ("partition", "loss")
#: faults that cannot act on a workload: seam says so and exits 3
NOT_ON = {"register": ("lost-response",)}

GOAL_SCENARIO = 0.95
GOAL_MIX = 0.80
#: a subprocess gets the time limit plus this much for setup, heal, quiesce and checking
TIMEOUT_SLACK = 240.0
#: after SIGINT (timeout or Ctrl-C), how long a run gets to heal and write its results
INTERRUPT_GRACE = 90.0

FAILED_EXIT = 3


@dataclass
class Run:
    """One planned run and, once it has run, what it found."""

    mode: str  # "scenario", "mix" or "clean"
    workload: str
    flag: str | None  # None: a clean run
    scenario: str | None
    nemesis: list[str]
    seed: int
    time_limit: float = 0.0  # 0: the scenario's own (the nightly ones)
    target: str = "pipeline"
    target_opts: list[str] = field(default_factory=list)
    expect: str | None = None  # the expected kind of a real-system row (pipeline rows: from ZOO)
    nemesis_concurrency: int = MIX_CONCURRENCY
    nemesis_opts: list[str] = field(default_factory=list)  # --nemesis-opt FAULT.NAME=V of a real-system row
    argv: list[str] = field(default_factory=list)
    exit_code: int | None = None
    valid: Any = None
    kinds: list[str] = field(default_factory=list)  # every anomaly kind, in order, deduplicated
    error_kinds: list[str] = field(default_factory=list)  # kinds with severity "error"
    detected: bool | None = None  # bug runs
    false_alarm: bool | None = None  # clean runs
    alarm_reason: str = ""
    failed: bool = False
    failure: str = ""
    seconds: float = 0.0
    results: str = ""

    @property
    def label(self) -> str:
        return self.flag or "clean"

    @property
    def where(self) -> str:
        if self.mode == "scenario":
            return f"scenario {self.scenario}"
        return self.scenario or "random mix"

    @property
    def expected(self) -> str | None:
        if self.target != "pipeline":
            return self.expect
        return ZOO[self.flag][2] if self.flag else None

    @property
    def detects(self) -> tuple[str, ...]:
        """The kinds that count as detecting the flag: the history's, for a config kind."""
        kind = self.expected
        return () if kind is None else FROM_HISTORY.get(kind, (kind,))


class Interrupted(Exception):
    """Ctrl-C: the current run was stopped; stop the bench."""


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    # rich folds a table to 80 columns when stdout is not a terminal (a log file): give it room
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 180)
    root = hasattr(os, "geteuid") and os.geteuid() == 0
    cluster = args.cluster or ("netns" if root and shutil.which("ip") else "local")
    mixes = {w: _mix(w, root) for w in WORKLOADS}
    if not root:
        print(f"not root: {' and '.join(NEEDS_ROOT)} need iptables, so they are left out of "
              f"the nightly mix (register: {','.join(mixes['register'])}; "
              f"orders: {','.join(mixes['orders'])})", flush=True)
    flags = _flags(args.only)
    seeds = _seeds(args.first_seed)
    plan = list(_plan(args, flags, mixes, seeds))
    if not plan:
        print("nothing to run (every part skipped)", flush=True)
        return 0
    minutes = sum(_limit(r) + 30 for r in plan) / 60
    print(
        f"bug zoo: {len(plan)} runs on cluster {cluster} (about {minutes:.0f} min or more); scenario runs "
        f"{args.time_limit:g} s; nightly mix: the {NIGHTLY}<workload> scenario ("
        + ", ".join(f"{w} {NIGHTLY_LIMIT.get(w, 0):g} s" for w in WORKLOADS)
        + "); random mix (half the clean runs): "
        + "; ".join(f"{w} {','.join(m)} (concurrency {MIX_CONCURRENCY})" for w, m in mixes.items()),
        flush=True)

    base = Path(args.results_dir) if args.results_dir else Path(tempfile.mkdtemp(prefix="seam-zoo-"))
    base.mkdir(parents=True, exist_ok=True)
    done: list[Run] = []
    # Ctrl-C and `kill PID` stop the bench once the current test has healed; SIGINT is set
    # explicitly because a shell starts background jobs with it ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminated)
    started = time.monotonic()
    interrupted = False
    try:
        for n, run in enumerate(plan, start=1):
            _execute(run, args, cluster, base / f"{n:03d}-{run.label}-{run.mode}")
            done.append(run)
            print(f"[{n:>{len(str(len(plan)))}}/{len(plan)}] {_progress(run)}", flush=True)
            if args.json:
                _write_json(args.json, done, cluster, mixes, time.monotonic() - started)
    except Interrupted:
        interrupted = True
        print("interrupted: the current run was stopped and is not counted", flush=True)
    total = time.monotonic() - started

    _report(console, done, flags, mixes, args, cluster, total, interrupted)
    if args.json:
        _write_json(args.json, done, cluster, mixes, total)
        print(f"rows: {args.json}", flush=True)
    if args.results_dir or args.keep:
        print(f"runs kept under {base}", flush=True)
    elif any(r.failed for r in done):
        print(f"runs kept under {base}: some failed, see their seam.log", flush=True)
    else:
        shutil.rmtree(base, ignore_errors=True)
    return 130 if interrupted else 0


def _terminated(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Bug-zoo detection benchmark: run each --bug flag under its scenario and the "
                    "nightly fault mix, and clean runs under the mix; print detection rates, false "
                    "alarms and time per run.",
)
    p.add_argument("--seeds", type=int, default=3, metavar="N", help="runs per flag under its scenario (default: %(default)s)")
    p.add_argument("--mix-seeds", type=int, default=2, metavar="N", help="runs per flag under the nightly mix (default: %(default)s)")
    p.add_argument("--clean", type=int, default=5, metavar="N",
                   help="clean runs (no flag) per workload, alternately under the nightly scenario and the random "
                        "mix (default: %(default)s; the issue's goal: 20)")
    p.add_argument("--time-limit", type=float, default=40.0, metavar="S",
                   help="main phase of scenario and random-mix runs, seconds (default: %(default)g)")
    p.add_argument("--mix-time-limit", type=float, default=0.0, metavar="S",
                   help="main phase of nightly-mix runs (default: the nightly scenario's own, one cycle)")
    p.add_argument("--only", default=None, metavar="FLAG,...",
                   help="these flags only (clean runs then cover only their workloads)")
    p.add_argument("--skip-mix", action="store_true", help="no flag runs under the nightly mix")
    p.add_argument("--skip-clean", action="store_true", help="no clean runs")
    p.add_argument("--etcd", type=int, default=0, metavar="N",
                   help="runs of each etcd row (reads=linearizable under partition,pause,kill: 0 false alarms; "
                        "reads=serializable under partition: nonlinearizable in >= 90%%) (default: %(default)s)")
    p.add_argument("--etcd-time-limit", type=float, default=60.0, metavar="S",
                   help="main phase of the etcd runs (default: %(default)g)")
    p.add_argument("--redis", type=int, default=0, metavar="N",
                   help="runs of each redis row (primary-isolated: lost-write in >= 90%%; failover=none under "
                        "pause,kill: 0 false alarms; wait=2: measured) (default: %(default)s)")
    p.add_argument("--redis-rows", default=",".join(REDIS_ROWS), metavar="ROW,...",
                   help="which redis rows (default: %(default)s)")
    p.add_argument("--redis-time-limit", type=float, default=60.0, metavar="S",
                   help="main phase of the redis runs (default: %(default)g)")
    p.add_argument("--cluster-prefix", default=None, metavar="P",
                   help="passed to every `seam test` on netns (default: seam's own)")
    p.add_argument("--subnet", default=None, metavar="CIDR", help="passed to every `seam test` on netns")
    p.add_argument("--json", default=None, metavar="FILE", help="write every run's row here (rewritten after each run)")
    p.add_argument("--cluster", choices=("local", "netns"), default=None,
                   help="default: netns when root and `ip` exists, else local")
    p.add_argument("--first-seed", type=int, default=None, metavar="N",
                   help="seed of the first run; run i gets N+i (default: random; every row shows its seed)")
    p.add_argument("--base-port", type=int, default=None, metavar="PORT",
                   help="passed to every `seam test` (the first port its nodes use; default: seam's own)")
    p.add_argument("--results-dir", default=None, metavar="DIR",
                   help="keep every run's results under DIR (default: a temporary directory, removed at the end)")
    p.add_argument("--keep", action="store_true", help="keep the temporary results directory and print its path")
    args = p.parse_args(argv)
    for name in ("seeds", "mix_seeds", "clean", "etcd", "redis"):
        if getattr(args, name) < 0:
            p.error(f"--{name.replace('_', '-')} must be >= 0")
    if args.time_limit <= 0:
        p.error("--time-limit must be > 0")
    if args.mix_time_limit < 0:
        p.error("--mix-time-limit must be >= 0 (0: the nightly scenario's own)")
    try:
        _flags(args.only)
    except ValueError as e:
        p.error(str(e))
    return args


def _flags(only: str | None) -> list[str]:
    if not only:
        return list(ZOO)
    chosen = [f.strip() for f in only.split(",") if f.strip()]
    unknown = [f for f in chosen if f not in ZOO]
    if unknown:
        raise ValueError(f"--only: unknown flag {', '.join(unknown)}; choose from {', '.join(ZOO)}")
    return [f for f in ZOO if f in chosen]


def _mix(workload: str, root: bool) -> list[str]:
    return [f for f in MIX if f not in NOT_ON.get(workload, ()) and (root or f not in NEEDS_ROOT)]


def _seeds(first: int | None) -> Iterable[int]:
    seed = first if first is not None else int.from_bytes(os.urandom(4), "big") % 1_000_000
    while True:
        yield seed
        seed += 1


def _plan(args: argparse.Namespace, flags: list[str], mixes: dict[str, list[str]],
          seeds: Iterable[int]) -> Iterable[Run]:
    seed = iter(seeds)
    for flag in flags:
        workload, scenario, _ = ZOO[flag]
        for _ in range(args.seeds):
            yield Run("scenario", workload, flag, scenario, [], next(seed), args.time_limit)
        if not args.skip_mix:
            for _ in range(args.mix_seeds):
                yield Run("mix", workload, flag, NIGHTLY + workload, [], next(seed), args.mix_time_limit)
    for _ in range(args.etcd):
        for label, row in ETCD_ROWS.items():
            yield Run("etcd", "register", None if row["expect"] is None else label, None, list(row["nemesis"]),
                      next(seed), args.etcd_time_limit, target="etcd", target_opts=list(row["opts"]),
                      expect=row["expect"], nemesis_concurrency=1)
    for _ in range(args.redis):
        for label, row in REDIS_ROWS.items():
            if label in args.redis_rows.split(","):
                yield Run("redis", "set", None if row["expect"] is None else label, row["scenario"],
                          list(row["nemesis"]), next(seed), args.redis_time_limit, target="redis",
                          target_opts=list(row["opts"]), expect=row["expect"], nemesis_concurrency=1,
                          nemesis_opts=list(row.get("nemesis_opts", [])))
    if not args.skip_clean:
        for workload in WORKLOADS:
            if any(ZOO[f][0] == workload for f in flags):
                for i in range(args.clean):
                    if i % 2 == 0:
                        yield Run("clean", workload, None, NIGHTLY + workload, [], next(seed), args.mix_time_limit)
                    else:
                        yield Run("clean", workload, None, None, mixes[workload], next(seed), args.time_limit)


# -- one run ------------------------------------------------------------------


def _argv(run: Run, args: argparse.Namespace, cluster: str, results: Path) -> list[str]:
    argv = [sys.executable, "-m", "harness.cli", "test", "--target", run.target, "--workload", run.workload,
            "--cluster", cluster, "--seed", str(run.seed), "--results", str(results), "--no-progress"]
    for opt in run.target_opts:
        argv += ["--target-opt", opt]
    if args.base_port is not None:
        argv += ["--base-port", str(args.base_port)]
    if args.cluster_prefix and cluster == "netns":
        argv += ["--cluster-prefix", args.cluster_prefix]
    if args.subnet and cluster == "netns":
        argv += ["--subnet", args.subnet]
    if run.time_limit:
        argv += ["--time-limit", f"{run.time_limit:g}"]
    if run.flag and run.target == "pipeline":
        argv += ["--bug", run.flag]
    if run.scenario:
        argv += ["--scenario", run.scenario]  # the scenario brings its own faults and defaults
    else:
        argv += ["--nemesis", ",".join(run.nemesis), "--nemesis-concurrency", str(run.nemesis_concurrency)]
        for opt in run.nemesis_opts:
            argv += ["--nemesis-opt", opt]
    return argv


def _execute(run: Run, args: argparse.Namespace, cluster: str, results: Path) -> None:
    """Run one test as a subprocess in its own session and fill in ``run``.

    Its own session, so a Ctrl-C at the terminal reaches only this process,
    which then sends SIGINT to the test on purpose: the test ends its main
    phase, heals and exits, and only then does the bench stop.
    """
    results.mkdir(parents=True, exist_ok=True)
    run.argv = _argv(run, args, cluster, results)
    timeout = _limit(run) + TIMEOUT_SLACK
    start = time.monotonic()
    proc = subprocess.Popen(run.argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        out, err = _stop(proc)
        run.seconds = time.monotonic() - start
        run.failed, run.failure, run.exit_code = True, f"timeout after {timeout:g} s", proc.returncode
        return
    except KeyboardInterrupt:
        try:
            _stop(proc)
        except KeyboardInterrupt:  # a second Ctrl-C: do not wait for the heal
            _kill(proc)
        raise Interrupted() from None
    run.seconds = time.monotonic() - start
    run.exit_code = proc.returncode
    _read_outcome(run, out, err, results)


def _limit(run: Run) -> float:
    return run.time_limit or NIGHTLY_LIMIT.get(run.workload, 60.0)


def _stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """SIGINT (the test heals and checks what it has), then SIGTERM, then SIGKILL."""
    for sig, wait in ((signal.SIGINT, INTERRUPT_GRACE), (signal.SIGTERM, 15.0)):
        if proc.poll() is not None:
            break
        proc.send_signal(sig)
        try:
            return proc.communicate(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
    _kill(proc)
    return proc.communicate()


def _kill(proc: subprocess.Popen[str]) -> None:
    """SIGKILL the test's process group (this bench made it: start_new_session)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        print(f"seam test (pid {proc.pid}) was killed; run `.venv/bin/seam heal` to undo any fault it left",
              file=sys.stderr)


def _read_outcome(run: Run, out: str, err: str, results: Path) -> None:
    path = _results_json(out, results)
    data: dict[str, Any] | None = None
    if path is not None:
        run.results = str(path.parent)
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            run.failure = f"unreadable {path}: {e}"
    if run.exit_code == FAILED_EXIT or data is None:
        run.failed = True
        run.failure = _last_error(err) or run.failure or (
            f"exit {run.exit_code}" + ("" if data is not None else ", no results.json"))
        return
    anomalies = [a for a in data.get("anomalies", []) if isinstance(a, dict)]
    run.valid = data.get("valid")
    run.kinds = _unique(str(a.get("kind")) for a in anomalies)
    run.error_kinds = _unique(str(a.get("kind")) for a in anomalies if a.get("severity", "error") == "error")
    if run.flag:
        run.detected = any(k in run.kinds for k in run.detects)
    else:
        reasons = []
        if run.error_kinds:
            reasons.append("error anomaly: " + ",".join(run.error_kinds))
        if run.valid is not True:
            reasons.append(f"valid={json.dumps(run.valid)}")
        run.false_alarm = bool(reasons)
        run.alarm_reason = "; ".join(reasons)
    if data.get("exit_code") not in (None, run.exit_code):
        run.failure = f"results.json says exit {data.get('exit_code')}, the process exited {run.exit_code}"


def _results_json(out: str, results: Path) -> Path | None:
    """The ``results: PATH`` line seam prints, else ``<results>/latest``."""
    for line in out.splitlines():
        if line.startswith("results: ") and line[9:].strip() not in ("", "None"):
            candidate = Path(line[9:].strip())
            candidate = candidate if candidate.is_absolute() else REPO / candidate
            if (candidate / "results.json").is_file():
                return candidate / "results.json"
    latest = results / "latest" / "results.json"
    return latest if latest.is_file() else None


def _last_error(err: str) -> str:
    """seam's one line saying why a run failed (the last line starting ``seam:`` or ``Error``)."""
    lines = [ln.strip() for ln in err.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if ln.startswith(("seam:", "Error", "error")):
            return ln
    return lines[-1] if lines else ""


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _progress(run: Run) -> str:
    what = f"{run.label:<20} {run.workload:<8} {run.where:<30} seed {run.seed:<7}"
    if run.failed:
        why = run.failure if len(run.failure) <= 120 else run.failure[:117] + "..."
        verdict = f"FAILED ({why})"
    elif run.flag:
        verdict = "detected" if run.detected else f"MISSED (expected {' or '.join(run.detects)})"
    else:
        verdict = f"FALSE ALARM ({run.alarm_reason})" if run.false_alarm else "clean"
    kinds = ",".join(k if k in run.error_kinds else f"{k}(warning)" for k in run.kinds) or "-"
    extra = f"  [{run.failure}]" if run.failure and not run.failed else ""
    return f"{what} exit {run.exit_code}  {verdict:<24} kinds: {kinds}  {run.seconds:5.1f}s{extra}"


# -- the report ---------------------------------------------------------------


def _rate(runs: list[Run], goal: float) -> tuple[str, str]:
    """('3/3 100%', 'met') over every planned run: a run that failed or timed out found
    nothing, so it is a miss (also said apart), and a goal is never met while a run of
    its row failed (issue 24: "1/1 100%, 2 failed: met" could be printed before)."""
    planned = len(runs)
    if not planned:
        return "-", ""
    failed = sum(1 for r in runs if r.failed)
    fail_note = f", {failed} failed (counted as missed)" if failed else ""
    hits = sum(1 for r in runs if not r.failed and r.detected)
    rate = hits / planned
    met = rate >= goal and not failed
    return f"{hits}/{planned} {rate:.0%}{fail_note}", "met" if met else "not met"


def _cell(rate: str, goal: str) -> str:
    return f"{rate}: {goal}" if goal else rate


def _seconds(runs: list[Run]) -> str:
    timed = [r.seconds for r in runs if r.seconds]
    return f"{sum(timed) / len(timed):.0f}" if timed else "-"


def _report(console: Console, done: list[Run], flags: list[str], mixes: dict[str, list[str]],
            args: argparse.Namespace, cluster: str, total: float, interrupted: bool) -> None:
    print()
    table = Table(title=f"Bug zoo: detection with the expected kind (cluster {cluster}, "
                        f"time limit {args.time_limit:g} s)")
    for col in ("flag", "workload", "scenario", "expected kind",
                f"scenario runs (goal >= {GOAL_SCENARIO:.0%})", f"mix runs (goal >= {GOAL_MIX:.0%})",
                "other kinds seen", "s/run"):
        table.add_column(col, justify="right" if col == "s/run" else "left")
    verdicts: dict[str, list[bool]] = {"scenario": [], "mix": [], "clean": []}
    for flag in flags:
        workload, scenario, kind = ZOO[flag]
        mine = [r for r in done if r.flag == flag]
        sc_rate, sc_goal = _rate([r for r in mine if r.mode == "scenario"], GOAL_SCENARIO)
        mx_rate, mx_goal = (("skipped", "") if args.skip_mix
                            else _rate([r for r in mine if r.mode == "mix"], GOAL_MIX))
        for mode, goal in (("scenario", sc_goal), ("mix", mx_goal)):
            if goal:
                verdicts[mode].append(goal == "met")
        counted = FROM_HISTORY.get(kind, (kind,))
        others = _unique(k for r in mine for k in r.kinds if k not in counted and k != kind)
        shown = " or ".join(counted)
        if kind in FROM_HISTORY:  # the config finding, beside the rate it does not count in
            shown += f" (config: {kind} in {sum(kind in r.kinds for r in mine)}/{len(mine)} runs)"
        table.add_row(flag, workload, scenario, shown, _cell(sc_rate, sc_goal), _cell(mx_rate, mx_goal),
                      ",".join(others) or "-", _seconds(mine))
    console.print(table)

    if not args.skip_clean:
        clean = Table(title="Clean runs (no flag), nightly scenario and random mix alternately: false alarms")
        for col in ("workload", "mix", "runs", "failed", "false alarms (goal: 0)", "why",
                    "kinds seen (any severity)", "s/run"):
            clean.add_column(col, justify="right" if col in ("runs", "failed", "s/run") else "left")
        for workload in WORKLOADS:
            runs = [r for r in done if r.mode == "clean" and r.workload == workload and r.target == "pipeline"]
            if not runs:
                continue
            completed = [r for r in runs if not r.failed]
            alarms = [r for r in completed if r.false_alarm]
            why = "; ".join(f"seed {r.seed}: {r.alarm_reason}" for r in alarms) or "-"
            goal = _clean_goal(runs, alarms)
            verdicts["clean"].append(goal == "met")
            clean.add_row(workload, f"{NIGHTLY}{workload}; " + ",".join(mixes[workload]), str(len(runs)), str(len(runs) - len(completed)),
                          f"{len(alarms)}/{len(completed)}: {goal}", why,
                          ",".join(_unique(k for r in runs for k in r.kinds)) or "-", _seconds(runs))
        console.print(clean)

    if args.etcd:
        verdicts.setdefault("etcd", []).extend(_etcd_table(console, done))
    if args.redis:
        verdicts.setdefault("redis", []).extend(_redis_table(console, done))

    failures = [r for r in done if r.failed]
    if failures:
        print("failed runs (each a miss, or a clean run that proves nothing):", flush=True)
        for why, count in _count(r.failure for r in failures):
            print(f"  {count} x {why}", flush=True)
    summary = []
    for mode, label in (("scenario", "scenario >= 95%"), ("mix", "mix >= 80%"), ("clean", "0 false alarms"),
                        ("etcd", "etcd rows"), ("redis", "redis rows")):
        got = verdicts.get(mode, [])
        if got:
            summary.append(f"{label}: {'met' if all(got) else 'not met'} ({sum(got)}/{len(got)})")
    if summary:
        print("goals: " + "; ".join(summary), flush=True)
    n = len(done)
    print(f"total: {n} runs in {total / 60:.1f} min"
          + (f", {total / n:.0f} s per run" if n else "")
          + (" (interrupted)" if interrupted else ""), flush=True)


def _clean_goal(runs: list[Run], alarms: list[Run]) -> str:
    """Met only with no false alarm and no failed run: a run that failed shows nothing clean."""
    failed = sum(1 for r in runs if r.failed)
    if alarms:
        return "not met"
    return f"not met ({failed} failed)" if failed else "met"


def _etcd_table(console: Console, done: list[Run]) -> list[bool]:
    """etcd's rows: false alarms of the clean row, detection of the serializable row."""
    table = Table(title="Real systems: etcd (published result: linearizable reads stay linearizable; "
                        "serializable reads are stale under a partition)")
    for col in ("row", "faults", "runs", "result", "kinds seen (any severity)", "s/run"):
        table.add_column(col, justify="right" if col in ("runs", "s/run") else "left")
    verdicts = []
    for label, row in ETCD_ROWS.items():
        runs = [r for r in done if r.target == "etcd" and r.target_opts == row["opts"]]
        if not runs:
            continue
        result, goal = _real_row(runs, row)
        verdicts.append(goal == "met")
        table.add_row(label, ",".join(row["nemesis"]), str(len(runs)), result,
                      ",".join(_unique(k for r in runs for k in r.kinds)) or "-", _seconds(runs))
    console.print(table)
    return verdicts


def _real_row(runs: list[Run], row: dict[str, Any]) -> tuple[str, str]:
    """A real system's row (etcd, redis): the false alarms of a clean row, or the detection
    rate of a row that expects a kind (only measured, no goal, when ``row["measure"]``)."""
    if row["expect"] is None:
        alarms = [r for r in runs if not r.failed and r.false_alarm]
        goal = _clean_goal(runs, alarms)
        return f"{len(alarms)} false alarms in {len(runs)}: {goal}" + "".join(
            f"; seed {r.seed}: {r.alarm_reason}" for r in alarms), goal
    rate, goal = _rate(runs, GOAL_ETCD)
    if row.get("measure"):
        return f"{row['expect']} in {rate} (measured)", goal
    return f"{row['expect']} in {rate} (goal >= {GOAL_ETCD:.0%}): {goal}", goal


def _count(items: Iterable[str]) -> list[tuple[str, int]]:
    counts: dict[str, int] = {}
    for item in items:
        counts[item] = counts.get(item, 0) + 1
    return sorted(counts.items(), key=lambda kv: -kv[1])


def _write_json(path: str, done: list[Run], cluster: str, mixes: dict[str, list[str]], total: float) -> None:
    rows = [{**asdict(r), "expected": r.expected, "detects": list(r.detects)} for r in done]
    doc = {"cluster": cluster, "mixes": mixes, "zoo": ZOO, "seconds": round(total, 1), "runs": rows}
    tmp = Path(path).with_name(Path(path).name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1, default=str) + "\n")
    tmp.replace(path)


def _redis_table(console: Console, done: list[Run]) -> list[bool]:
    """Redis's rows, and per run what the set checker counted (acknowledged, lost, unknown) and
    the failover it named, read back from each run's results.json."""
    table = Table(title="Real systems: Redis with Sentinel (Jepsen 2013: acknowledged writes lost after a "
                        "failover; none without one)")
    for col in ("row", "faults", "runs", "result", "per run: seed acked/lost, unknown adds; failover", "s/run"):
        table.add_column(col, justify="right" if col in ("runs", "s/run") else "left")
    verdicts = []
    for label, row in REDIS_ROWS.items():
        runs = [r for r in done if r.target == "redis" and r.target_opts == row["opts"]]
        if not runs:
            continue
        result, goal = _real_row(runs, row)
        if not row.get("measure"):
            verdicts.append(goal == "met")
        table.add_row(label, row["scenario"] or ",".join(row["nemesis"]), str(len(runs)), result,
                      "\n".join(_redis_counts(r) for r in runs), _seconds(runs))
    console.print(table)
    return verdicts


def _redis_counts(run: Run) -> str:
    try:
        data = json.loads((Path(run.results) / "results.json").read_text())
    except (OSError, ValueError):
        return f"{run.seed}: no results"
    checkers = data.get("checkers") or {}
    s = (checkers.get("set") or {}).get("stats") or {}
    f = (checkers.get("failover") or {}).get("stats") or {}
    return (f"{run.seed}: {s.get('acknowledged', '?')}/{s.get('lost_acknowledged', '?')}, "
            f"{s.get('info', '?')} of {s.get('attempted', '?')} unknown; {f.get('first', '-')}")


if __name__ == "__main__":
    sys.exit(main())
