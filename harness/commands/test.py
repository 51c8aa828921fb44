"""`seam test`: run one chaos test and print its verdict and results directory.

Every option maps to a field of ``TestSpec``; ``harness.assemble`` turns the
spec into a plan and ``harness.runner.run_test`` runs it. Bad input (unknown workload, nemesis, bug or
node, a nodes file with garbage) is one line on stderr and exit 3, before
any process starts.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

import click

from harness.core.errors import ConfigError
from harness.targets import DEFAULT, get
from harness.targets import names as target_names

WORKLOAD_HELP = ("Default: the target's own. Workloads of the default target (" + DEFAULT + "): "
                 + "; ".join(f"{w.name}: {w.summary}" for w in get(DEFAULT).workloads.values()))
TARGET_HELP = ("The system under test: a built-in target (" + ", ".join(target_names())
               + ") or a module path whose TARGET is a harness.targets.TargetKind.")

EPILOG = """\b
Examples:
  seam test --workload register --time-limit 30                 # 5 local node processes
  seam test --workload register --cluster netns --node-count 5  # network namespaces (root)
  seam test --workload register --bug weak-quorum --seed 7      # a planted bug: expect exit 1
  seam test --workload orders --concurrency 20 --rate 200
  seam test --cluster netns --nemesis partition,pause --nemesis-interval 5   # faults (root)
  seam test --cluster ssh --nodes-file nodes.txt --username admin --ssh-key ~/.ssh/id_ed25519
  seam test --demo                                              # what `make demo` runs
\b
Exit codes: 0 valid, 1 anomalies found, 2 unknown (a checker gave up),
3 the run itself failed (bad input, setup, unreachable node).
Results: results/<name>/<YYYYmmddTHHMMSS>/ (history.jsonl, results.json,
test.json, seam.log, nodes/<node>/); results/latest points at the newest."""


def _split(values: tuple[str, ...]) -> list[str]:
    """Options given as repeats or comma lists: --bug a --bug b, --nemesis a,b."""
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


@click.command("test", epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--target", "-t", default=DEFAULT, show_default=True, metavar="NAME", help=TARGET_HELP)
@click.option("--target-opt", "target_opts", multiple=True, metavar="NAME=V",
              help="A target option, repeatable (every target's options and defaults: `seam targets`).")
@click.option("--workload", "-w", default=None, metavar="NAME", help=WORKLOAD_HELP)
@click.option("--nemesis", "nemesis", multiple=True, metavar="A,B", help="Faults to inject (comma list or repeated; see `seam nemeses`); default none.")
@click.option("--nemesis-opt", "nemesis_opts", multiple=True, metavar="FAULT.OPT=V",
              help="A fault's option, repeatable: partition.shape=majorities-ring, loss.p=0.3, clock.max-skew=30s, "
                   "pause.target=leader (every option and its default: `seam nemeses`).")
@click.option("--nemesis-interval", type=float, default=5.0, show_default=True, metavar="S", help="Seconds a fault lasts, and between faults.")
@click.option("--nemesis-concurrency", type=int, default=1, show_default=True, metavar="N", help="Faults active at once: 1 or 2.")
@click.option("--time-limit", type=float, default=30.0, show_default=True, metavar="S", help="Seconds of main phase.")
@click.option("--concurrency", "-c", type=int, default=10, show_default=True, metavar="N", help="Client processes.")
@click.option("--rate", type=float, default=100.0, show_default=True, metavar="HZ", help="Ops per second over all clients; 0 = as fast as possible.")
@click.option("--seed", type=int, default=None, metavar="N", help="Seed of every random choice. Default: random, recorded in test.json.")
@click.option("--cluster", default="local", show_default=True, metavar="KIND", help="local (processes on 127.0.0.x), netns (namespaces, root) or ssh.")
@click.option("--node-count", type=int, default=5, show_default=True, metavar="N", help="Nodes for local and netns clusters.")
@click.option("--subnet", default="10.77.0.0/24", show_default=True, metavar="CIDR", help="netns: the cluster's private subnet.")
@click.option("--cluster-prefix", default="seam", show_default=True, metavar="P", help="netns: name prefix (seam-n1, seam-br0); another prefix runs a second cluster.")
@click.option("--cluster-state", type=click.Path(file_okay=False), default=None, metavar="DIR", help="netns: the cluster's state directory (default results/.cluster; results/.cluster-<prefix> for another --cluster-prefix).")
@click.option("--nodes", default=None, metavar="A,B,...", help="Node names (local/netns) or SSH hosts (ssh).")
@click.option("--nodes-file", type=click.Path(dir_okay=False), default=None, metavar="F", help="SSH hosts, one per line ('#' comments).")
@click.option("--username", default=None, metavar="U", help="SSH user (default root).")
@click.option("--ssh-key", type=click.Path(dir_okay=False), default=None, metavar="F", help="SSH private key (default: agent and ~/.ssh).")
@click.option("--ssh-port", type=int, default=22, show_default=True, metavar="P")
@click.option("--known-hosts", type=click.Path(dir_okay=False), default=None, metavar="F", help="known_hosts to verify host keys against (default ~/.ssh/known_hosts).")
@click.option("--ssh-insecure", is_flag=True, help="Accept unknown SSH host keys (says so in the log).")
@click.option("--sudo", is_flag=True, help="Run node commands with sudo -n over SSH.")
@click.option("--bug", "bugs", multiple=True, metavar="NAME", help="Turn a target safety mechanism off (repeatable); see target/bugs.py.")
@click.option("--scenario", default=None, metavar="NAME",
              help="A named fault schedule that exposes one bug, with its workload and faults (`seam nemeses` lists them).")
@click.option("--name", default=None, metavar="NAME", help="Results directory name (default: the workload).")
@click.option("--results", default="results", show_default=True, metavar="DIR", help="Where runs are stored.")
@click.option("--op-timeout", type=float, default=5.0, show_default=True, metavar="S", help="A client call slower than this is recorded as info.")
@click.option("--recovery-time", type=float, default=None, metavar="S",
              help="Quiet seconds after the final heal, before final reads. Default: the workload's own "
                   "(pipeline: 2; orders then also waits, up to about 40 s, until every saga has settled).")
@click.option("--keys", type=int, default=8, show_default=True, metavar="N", help="register: keys active at a time.")
@click.option("--base-port", type=int, default=0, metavar="P", help="Node i listens on P+i. Default: 7100 (local: the first free hundred from 7100).")
@click.option("--demo", is_flag=True, help="A 5-node namespace cluster with partitions and pauses when root and `ip` exist, else local processes with pauses.")
@click.option("--no-progress", is_flag=True, help="No status line on stderr.")
@click.option("--test-count", type=int, default=1, show_default=True, metavar="N",
              help="Run the test N times, a fresh seed each (--seed S: S, S+1, ...); one line per run, and the "
                   "worst exit code: 1 if any run found anomalies, else 2 if any was unknown, else 3 if any failed.")
@click.option("--replay", "replay_dir", type=click.Path(file_okay=False, exists=True), default=None, metavar="RUN_DIR",
              help="Run a stored test again: its options, its seed and its recorded fault schedule (each fault at "
                   "its stored offset), e.g. to retry an anomaly against a fix. Options given here override the "
                   "stored ones, except the workload and faults. Says how close each fault came.")
@click.option("--junit", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Also write JUnit XML for CI: one testcase per run, a failure where anomalies were found.")
def test(target: str, target_opts: tuple[str, ...], workload: str | None, nemesis: tuple[str, ...], nemesis_opts: tuple[str, ...], nemesis_interval: float, nemesis_concurrency: int, time_limit: float, concurrency: int, rate: float, seed: int | None,
         cluster: str, node_count: int, subnet: str, cluster_prefix: str, cluster_state: str | None, nodes: str | None, nodes_file: str | None, username: str | None,
         ssh_key: str | None, ssh_port: int, known_hosts: str | None, ssh_insecure: bool, sudo: bool,
         bugs: tuple[str, ...], scenario: str | None, name: str | None, results: str, op_timeout: float,
         recovery_time: float | None, keys: int, base_port: int, demo: bool, no_progress: bool,
         test_count: int, replay_dir: str | None, junit: str | None) -> int:
    """Run a chaos test against a cluster and check its history.

    Provisions the nodes, installs and starts the reference pipeline
    (target/), drives clients with a seeded generator for --time-limit
    seconds, heals, waits, does final reads, collects every node's logs and
    ledgers, runs the workload's checkers and prints the verdict. Ctrl-C
    ends the main phase early and still checks what was recorded; SIGTERM
    and SIGHUP stop the run, heal, and check what was recorded (a second
    one aborts, still healing and stopping every node).

    \b
    Examples:
      seam test --demo                                   # 30 s register test, 5 nodes
      seam test --cluster netns --nemesis partition,pause --time-limit 60
      seam test -w orders --bug refund-without-key --nemesis lost-response
      seam test --cluster ssh --nodes-file hosts.txt --username admin --ssh-key ~/.ssh/id_ed25519
    """
    from harness.spec import TestSpec, read_nodes_file

    kind = get(target)
    chosen = kind.scenarios.get(scenario) if scenario else None
    workload = workload or (chosen.workload if chosen else kind.default_workload)

    if demo:
        cluster = _demo_cluster()
        node_count = 5
        if not nemesis:  # a chaos demo: partitions need iptables (root), pauses work anywhere
            nemesis = ("partition,pause",) if cluster == "netns" else ("pause",)
            click.echo(f"seam: demo faults: {nemesis[0]} (see `seam nemeses`)", err=True)
    node_list = _split((nodes,)) if nodes else []
    if nodes_file:
        if node_list:
            raise ConfigError("give --nodes or --nodes-file, not both")
        node_list = read_nodes_file(nodes_file)
    if cluster in ("local", "netns") and node_list:
        node_list = _known_nodes(cluster, node_list, node_count)
    given_seed = seed
    if seed is None:
        seed = int.from_bytes(os.urandom(4), "big") % 1_000_000
    from nemesis.registry import parse_assignments, parse_names

    faults = _split(nemesis)
    # Only what the user set: defaults are filled in later, under a scenario's own options.
    options = parse_assignments(parse_names(faults) or list(chosen.faults if chosen else ()), nemesis_opts)
    from harness.core.options import split_assignment

    target_options = dict(split_assignment("--target-opt", text) for text in target_opts)
    spec = TestSpec(
        workload=workload, target=target, target_options=target_options, name=name or "", nemesis=faults, nemesis_options=options, nemesis_interval=nemesis_interval,
        nemesis_concurrency=nemesis_concurrency, time_limit=time_limit,
        concurrency=concurrency, rate=rate, seed=seed, cluster=cluster, subnet=subnet,
        cluster_prefix=cluster_prefix, cluster_state=cluster_state,
        node_count=len(node_list) if node_list else node_count, nodes=node_list, nodes_file=nodes_file,
        username=username, ssh_key=ssh_key, ssh_port=ssh_port, ssh_insecure=ssh_insecure, ssh_sudo=sudo,
        known_hosts=known_hosts, bugs=_split(bugs), scenario=scenario, results=results, op_timeout=op_timeout,
        recovery_time=recovery_time, keys=keys, base_port=base_port, demo=demo,
    )
    from harness.assemble import build_plan

    if test_count < 1:
        raise ConfigError(f"--test-count {test_count}: run at least once")
    replay = None
    if replay_dir is not None:
        replay, spec = _replayed(replay_dir, spec, _given(click.get_current_context()), test_count)
    plan = build_plan(spec)  # bad input: one line, exit 3, before anything starts
    plan.replay = replay
    if test_count == 1:
        outcome = _run_one(plan, no_progress)
        _print_outcome(outcome)
        _write_junit(junit, [outcome])
        return outcome.exit_code
    return _run_series(spec, test_count, given_seed, no_progress, junit)


def _run_one(plan: Any, no_progress: bool) -> Any:
    from harness.runner import run_test

    spec = plan.spec
    if not no_progress:
        click.echo(f"seam: {spec.workload} on {len(spec.node_names())} {_kind(spec.cluster)} for {spec.time_limit:g}s, "
                   f"concurrency {spec.concurrency}, seed {spec.seed}" + (f", bugs {','.join(spec.bugs)}" if spec.bugs else "")
                   + (f", replaying {plan.replay.source}" if plan.replay is not None else ""), err=True)
    return run_test(plan, progress=not no_progress)


def _run_series(spec: Any, count: int, first_seed: int | None, no_progress: bool, junit: str | None = None) -> int:
    """--test-count N: N whole runs, one line each, the aggregate exit code (``harness.series``)."""
    from dataclasses import replace

    from harness.assemble import build_plan
    from harness.series import aggregate_exit, run_line, run_series, seeds, series_line

    def run_one(seed: int) -> Any:
        return _run_one(build_plan(replace(spec, seed=seed)), no_progress)

    runs = run_series(seeds(count, first_seed), run_one, on_run=lambda run: click.echo(run_line(run, count)))
    # Every run's outcome is in `runs`: a report over the whole series (JUnit, an index) hooks in here.
    click.echo(series_line(runs, count))
    _write_junit(junit, [run.outcome for run in runs])
    return aggregate_exit(run.exit_code for run in runs)


def _write_junit(path: str | None, outcomes: list[Any]) -> None:
    """--junit: one testcase per run (``harness.junit``), read from each run's directory."""
    if path is None:
        return
    from harness.junit import CaseResult, case_for_run, write_junit

    cases = [case_for_run(o.path) if o.path is not None else
             CaseResult(f"run {n}", "seam.test", "error", message=o.error or "the run failed before it had a directory")
             for n, o in enumerate(outcomes, start=1)]
    click.echo(f"junit:   {write_junit(path, 'seam test', cases)}")


#: ``seam test`` parameters that are TestSpec fields under another name.
_FIELD_OF_PARAM = {"nemesis_opts": "nemesis_options", "target_opts": "target_options", "sudo": "ssh_sudo"}

#: What a replay brings itself: the stored workload and fault schedule.
_REPLAY_FIXED = ("target", "target_opts", "workload", "scenario", "nemesis", "nemesis_opts", "nemesis_interval", "nemesis_concurrency")


def _given(ctx: click.Context) -> set[str]:
    """The parameters set on the command line (not left at their defaults)."""
    from click.core import ParameterSource

    return {name for name in ctx.params if ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE}


def _replayed(run_dir: str, typed: Any, given: set[str], test_count: int) -> tuple[Any, Any]:
    """(the Replay, the spec to run): the stored options, with the options given here laid over them.

    Results go next to the stored run (its results root) unless --results says otherwise."""
    from dataclasses import fields, replace
    from pathlib import Path

    from harness.replay import load

    if test_count != 1:
        raise ConfigError(f"--replay {run_dir} runs one stored test again; drop --test-count")
    fixed = sorted(given & set(_REPLAY_FIXED))
    if fixed:
        flags = ", ".join("--" + _FIELD_OF_PARAM.get(p, p).replace("_", "-").replace("-options", "-opt") for p in fixed)
        raise ConfigError(f"--replay {run_dir} brings the stored run's workload and fault schedule; drop {flags}")
    replay = load(run_dir)
    known = {f.name for f in fields(replay.spec)}
    changes = {f: getattr(typed, f) for f in (_FIELD_OF_PARAM.get(p, p) for p in given) if f in known}
    if "nodes" in changes or "nodes_file" in changes:
        changes["node_count"] = typed.node_count
    changes.setdefault("results", str(Path(run_dir).resolve().parent.parent))
    return replay, replace(replay.spec, **changes)


def _demo_cluster() -> str:
    root = hasattr(os, "geteuid") and os.geteuid() == 0
    if root and shutil.which("ip"):
        click.echo("seam: demo on a 5-node network-namespace cluster (seam-n1..seam-n5)", err=True)
        return "netns"
    why = "not root" if not root else "`ip` (iproute2) not found"
    click.echo(f"seam: demo on 5 local node processes ({why}, so no network namespaces)", err=True)
    return "local"


def _known_nodes(cluster: str, names: list[str], node_count: int) -> list[str]:
    """local and netns nodes are n1..nN; any other name is a typo, said in one line."""
    if cluster == "local":
        return names
    allowed = {f"n{i}" for i in range(1, 51)}
    for n in names:
        if n not in allowed:
            raise ConfigError(f"unknown node {n!r} for --cluster netns; nodes are n1..n{max(node_count, len(names))} (or use --node-count)")
    return names


def _kind(cluster: str) -> str:
    return {"local": "local processes", "netns": "namespace nodes", "ssh": "SSH hosts"}.get(cluster, cluster)


def _print_outcome(outcome: object) -> None:
    from harness.runner import RunOutcome

    assert isinstance(outcome, RunOutcome)
    counts = outcome.counts
    tally = f"{sum(counts.values())} ops (ok {counts.get('ok', 0)}, fail {counts.get('fail', 0)}, info {counts.get('info', 0)})"
    if outcome.valid is None:
        click.echo(f"seam: the run failed: {outcome.error}", err=True)
        verdict = "FAILED (no verdict)"
    elif outcome.valid is True:
        verdict = "VALID"
    elif outcome.valid is False:
        verdict = "INVALID: anomalies found"
    else:
        verdict = f"UNKNOWN ({outcome.error or 'a checker gave up'})"
    click.echo(f"verdict: {verdict}; {tally}")
    if outcome.replay is not None:
        from harness.replay import summary

        click.echo(summary(outcome.replay))
    click.echo(f"results: {outcome.path}")
    if outcome.path is not None and (outcome.path / "report.html").exists():
        click.echo(f"report:  {outcome.path / 'report.html'}  (seam serve to browse)")
