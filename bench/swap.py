"""The consistency swap's cost (issue 22): inventory eventual vs linearizable, measured.

Runs the ``orders`` workload of the reference pipeline with a finite stock
(``--target-opt stock=S``) in both inventory modes back to back, on the same
seeds under the same faults: ``clean`` (no fault), ``partition`` and
``pause``. Each run is a real ``seam test`` subprocess (``python -m
harness.cli test``, one at a time, ``--no-progress``); nothing is timed in
process. From each run directory it reads:

* every reservation decision the inventory services wrote
  (``nodes/*/inventory.stock.jsonl``: outcome reserved, out-of-stock or
  unavailable, and how long the decision took);
* the oversell checker's stats and every anomaly in ``results.json``.

Per fault and mode it prints one table row:

* **latency p50/p99/max**: per order, from the start of its first reservation
  attempt to the decision that settled it (reserved or out of stock), so a
  refusal for want of a quorum and the saga's re-send count as delay;
* **availability**: the share of reservation attempts answered (reserved or
  out of stock) rather than refused as unavailable (503; how many in brackets);
* **reserved**: the share of decided orders that got their units;
* **throughput**: decided reservations per second of decisions;
* **oversold**: reservations granted past the stock (the stock checker's
  count) and in how many runs; **other anomalies**: every other error kind.

It writes a figure (``--figure``): the latency CDF of both modes per fault,
and the availability of both modes per fault as bars. Prints; asserts
nothing. On namespaces (root) pass a prefix and subnet of your own::

    nice -n 10 .venv/bin/python bench/swap.py --cluster netns --cluster-prefix seamsw \\
        --subnet 10.84.0.0/24 --seeds 3 --figure docs/consistency-swap.png
    .venv/bin/python bench/swap.py --cluster local --base-port 7900 --seeds 1 --time-limit 15
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
MODES = ("eventual", "linearizable")
#: fault -> the seam test arguments that make it
FAULTS: dict[str, list[str]] = {"clean": [], "partition": ["--nemesis", "partition"], "pause": ["--nemesis", "pause"]}
#: a run gets its time limit plus this much for setup, the final phase and the checkers
SLACK_S = 300.0


@dataclass
class Run:
    fault: str
    mode: str
    seed: int
    argv: list[str]
    exit_code: int | None = None
    seconds: float = 0.0
    run_dir: Path | None = None
    latencies: list[float] = field(default_factory=list)  # per decided order, seconds
    attempts: int = 0
    unavailable: int = 0
    reserved: int = 0
    out_of_stock: int = 0
    span: float = 0.0  # seconds from the first decision to the last
    oversold: int = 0
    anomalies: dict[str, int] = field(default_factory=dict)
    error: str = ""


def decisions(run_dir: Path) -> list[dict[str, Any]]:
    """Every reservation decision of every node (target/stock.py writes them)."""
    rows = []
    for path in sorted(run_dir.glob("nodes/*/inventory.stock.jsonl")):
        for line in path.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a torn last line of a killed node
            if isinstance(row, dict) and row.get("op") == "reserve":
                rows.append(row)
    return rows


def measure(run: Run, rows: list[dict[str, Any]]) -> None:
    """Fill the run's numbers from its decisions (see the module docstring)."""
    by_order: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_order.setdefault(str(r.get("order_id")), []).append(r)
    run.attempts = len(rows)
    run.unavailable = sum(r.get("outcome") == "unavailable" for r in rows)
    walls = [float(r["wall"]) for r in rows if isinstance(r.get("wall"), (int, float))]
    run.span = (max(walls) - min(walls)) if len(walls) > 1 else 0.0
    for attempts in by_order.values():
        attempts.sort(key=lambda r: float(r["wall"]))
        first = float(attempts[0]["wall"]) - float(attempts[0].get("seconds") or 0)
        decided = next((r for r in attempts if r.get("outcome") in ("reserved", "out-of-stock")), None)
        if decided is None:
            continue
        run.latencies.append(float(decided["wall"]) - first)
        if decided["outcome"] == "reserved":
            run.reserved += 1
        else:
            run.out_of_stock += 1


def read_results(run: Run) -> None:
    assert run.run_dir is not None
    doc = json.loads((run.run_dir / "results.json").read_text())
    stock = (doc.get("checkers") or {}).get("stock") or {}
    run.oversold = int((stock.get("stats") or {}).get("oversold_reservations") or 0)
    for a in doc.get("anomalies") or []:
        if a.get("severity", "error") == "error" and a.get("kind") != "oversell":
            run.anomalies[a["kind"]] = run.anomalies.get(a["kind"], 0) + 1


def argv_for(fault: str, mode: str, seed: int, args: argparse.Namespace, results: Path, port: int) -> list[str]:
    argv = [sys.executable, "-m", "harness.cli", "test", "--workload", "orders", "--no-progress",
            "--cluster", args.cluster, "--time-limit", str(args.time_limit), "--rate", str(args.rate),
            "--seed", str(seed), "--results", str(results / f"{fault}-{mode}-{seed}"),
            "--target-opt", f"inventory={mode}", "--target-opt", f"stock={args.stock}", *FAULTS[fault]]
    if fault == "partition" and args.partition_shape:
        argv += ["--nemesis-opt", f"partition.shape={args.partition_shape}"]
    if args.cluster == "netns":
        argv += [a for a in (("--cluster-prefix", args.cluster_prefix) if args.cluster_prefix else ())]
        argv += [a for a in (("--subnet", args.subnet) if args.subnet else ())]
        # Its own state directory: the default (results/.cluster) holds one cluster's state for everyone.
        argv += ["--cluster-state", str(args.cluster_state or args.results / ".cluster")]
    else:
        argv += ["--base-port", str(port)]
    return argv


def execute(run: Run, limit: float) -> None:
    start = time.monotonic()
    try:
        p = subprocess.run(run.argv, cwd=REPO, capture_output=True, text=True, timeout=limit, check=False)
    except subprocess.TimeoutExpired:
        run.error = f"timed out after {limit:.0f} s"
        return
    finally:
        run.seconds = time.monotonic() - start
    run.exit_code = p.returncode
    latest = Path(run.argv[run.argv.index("--results") + 1]) / "latest"
    if p.returncode == 3 or not (latest / "results.json").exists():
        run.error = (p.stderr.strip().splitlines() or p.stdout.strip().splitlines() or ["no output"])[-1]
        return
    run.run_dir = latest.resolve()
    measure(run, decisions(run.run_dir))
    read_results(run)


# ---------------------------------------------------------------------------
# the table and the figure


def percentile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def row(runs: list[Run]) -> dict[str, Any]:
    """One mode under one fault, over its seeds."""
    done = [r for r in runs if r.run_dir is not None]
    lat = [x for r in done for x in r.latencies]
    attempts = sum(r.attempts for r in done)
    decided = sum(r.reserved + r.out_of_stock for r in done)
    others: dict[str, int] = {}
    for r in done:
        for k, n in r.anomalies.items():
            others[k] = others.get(k, 0) + n
    return {
        "runs": f"{len(done)}/{len(runs)}",
        "p50_ms": 1000 * percentile(lat, 0.50),
        "p99_ms": 1000 * percentile(lat, 0.99),
        "max_ms": 1000 * max(lat) if lat else math.nan,
        "unavailable": sum(r.unavailable for r in done),
        "availability": (attempts - sum(r.unavailable for r in done)) / attempts if attempts else math.nan,
        "reserved": sum(r.reserved for r in done) / decided if decided else math.nan,
        "throughput": decided / sum(r.span for r in done) if sum(r.span for r in done) else math.nan,
        "oversold": sum(r.oversold for r in done),
        "oversold_runs": sum(r.oversold > 0 for r in done),
        "others": others,
        "latencies": lat,
    }


def table(fault: str, rows: dict[str, dict[str, Any]]) -> str:
    head = ("mode", "runs", "p50 ms", "p99 ms", "max ms", "availability (503s)", "reserved", "decided/s",
            "oversold (runs)", "other anomalies")
    lines = [f"## {fault}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for mode, r in rows.items():
        others = ", ".join(f"{k} {n}" for k, n in sorted(r["others"].items())) or "none"
        cells = (mode, r["runs"], f"{r['p50_ms']:.1f}", f"{r['p99_ms']:.1f}", f"{r['max_ms']:.0f}",
                 f"{100 * r['availability']:.1f} % ({r['unavailable']})",
                 f"{100 * r['reserved']:.1f} %", f"{r['throughput']:.2f}",
                 f"{r['oversold']} ({r['oversold_runs']})", others)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def figure(path: Path, summary: dict[str, dict[str, dict[str, Any]]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    faults = list(summary)
    fig, axes = plt.subplots(1, len(faults) + 1, figsize=(4.2 * (len(faults) + 1), 3.8))
    colours = {"eventual": "#d62728", "linearizable": "#1f77b4"}
    for ax, fault in zip(axes, faults, strict=False):
        for mode, r in summary[fault].items():
            lat = sorted(1000 * x for x in r["latencies"])
            if lat:
                ax.step(lat, [(i + 1) / len(lat) for i in range(len(lat))], where="post", label=mode,
                        color=colours.get(mode))
        ax.set_xscale("log")
        ax.set_title(f"reservation latency: {fault}")
        ax.set_xlabel("ms, first attempt to decision (log)")
        ax.set_ylabel("share of orders")
        ax.legend(loc="lower right")
    ax = axes[-1]
    width = 0.38
    for i, mode in enumerate(MODES):
        vals = [100 * summary[f][mode]["availability"] if mode in summary[f] else 0 for f in faults]
        ax.bar([j + (i - 0.5) * width for j in range(len(faults))], vals, width, label=mode, color=colours[mode])
    ax.set_xticks(range(len(faults)), faults)
    ax.set_ylim(0, 105)
    ax.set_ylabel("% of reservation attempts answered")
    ax.set_title("availability")
    ax.legend(loc="lower left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------------------


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/swap.py", description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=3, help="seeds per fault (each run in both modes)")
    p.add_argument("--first-seed", type=int, default=1)
    p.add_argument("--faults", default=",".join(FAULTS), help="comma-separated: " + ", ".join(FAULTS))
    p.add_argument("--time-limit", type=float, default=30.0)
    p.add_argument("--rate", type=float, default=20.0, help="client ops per second")
    p.add_argument("--stock", type=int, default=8, help="units per sku")
    p.add_argument("--partition-shape", default="", help="partition.shape (default: the nemesis's own)")
    p.add_argument("--cluster", choices=("netns", "local"), default="local")
    p.add_argument("--cluster-prefix", default=None)
    p.add_argument("--subnet", default=None)
    p.add_argument("--cluster-state", type=Path, default=None, help="netns state directory (default RESULTS/.cluster)")
    p.add_argument("--base-port", type=int, default=7900, help="local: each run moves 20 ports up")
    p.add_argument("--results", type=Path, default=Path("/tmp/seam-swap-results"))
    p.add_argument("--figure", type=Path, default=None, help="write the figure here (PNG)")
    p.add_argument("--json", type=Path, default=None, help="write every run's numbers here")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    faults = [f for f in args.faults.split(",") if f]
    unknown = [f for f in faults if f not in FAULTS]
    if unknown:
        print(f"bench/swap.py: unknown fault {unknown[0]!r}; choose from {', '.join(FAULTS)}", file=sys.stderr)
        return 2
    stamp = time.strftime("%Y%m%dT%H%M%S")
    results = args.results / stamp
    runs: list[Run] = []
    port = args.base_port
    for fault in faults:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            for mode in MODES:
                runs.append(Run(fault, mode, seed, argv_for(fault, mode, seed, args, results, port)))
                port = args.base_port + (port - args.base_port + 20) % 100  # TIME_WAIT keeps a port a minute
    print(f"bench/swap.py: {len(runs)} runs ({', '.join(faults)}; seeds {args.first_seed}.."
          f"{args.first_seed + args.seeds - 1}; both modes), stock {args.stock}/sku, rate {args.rate:g}/s, "
          f"{args.time_limit:g} s each, cluster {args.cluster}; results under {results}", flush=True)
    for i, run in enumerate(runs, 1):
        execute(run, args.time_limit + SLACK_S)
        what = run.error or (f"exit {run.exit_code}, {len(run.latencies)} orders decided, "
                             f"{run.unavailable}/{run.attempts} unavailable, oversold {run.oversold}")
        print(f"[{i}/{len(runs)}] {run.fault} {run.mode} seed {run.seed}: {what} ({run.seconds:.0f} s)", flush=True)
    summary = {f: {m: row([r for r in runs if r.fault == f and r.mode == m]) for m in MODES} for f in faults}
    print()
    print("command: " + " ".join(["bench/swap.py", *(argv if argv is not None else sys.argv[1:])]))
    print()
    for fault in faults:
        print(table(fault, summary[fault]))
    if args.figure:
        figure(args.figure, summary)
        print(f"figure: {args.figure}")
    if args.json:
        args.json.write_text(json.dumps([{k: (str(v) if isinstance(v, Path) else v) for k, v in vars(r).items()
                                          if k != "argv"} for r in runs], indent=1))
    failed = [r for r in runs if r.run_dir is None]
    for r in failed:
        print(f"failed: {r.fault} {r.mode} seed {r.seed}: {r.error}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
