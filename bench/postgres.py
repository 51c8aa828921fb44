"""PostgreSQL's published result, measured (issue 21). Prints figures; asserts nothing.

Jepsen's PostgreSQL 12.3 analysis (2020): repeatable read is snapshot
isolation, so it shows G2-item (write skew); serializable shows nothing. This
runs, one subprocess at a time, ``seam test --target postgres --workload
list-append`` (each with a fresh ``--seed``, ``--no-progress``) in three rows,
round-robin so that a bench cut short still covers every row alike:

* ``rr``: ``--target-opt isolation=repeatable-read`` (held to Elle's
  repeatable-read, Adya's PL-2.99, which forbids G2-item);
* ``ser``: ``--target-opt isolation=serializable``;
* ``ser+kill+pause``: the same with ``--nemesis kill,pause``.

and reads each run's ``results.json``: every anomaly kind the transactional
checker found (``checkers.txn.stats.found``: also those the model allows),
with its count. Per row: runs with G2-item, runs with any kind snapshot
isolation forbids (G0, G1a/b/c, G-single, G-nonadjacent, incompatible-order,
internal, ...: everything but G2), runs the checker called invalid (at
serializable: false alarms), and runs that failed (exit 3, a timeout, no
results.json: they prove nothing and are listed).

Goals: G2-item in at least 95% of the rr runs and never a kind snapshot
isolation forbids in any row; no invalid run at serializable, with or without faults.

Run it niced, one at a time, like every bench: ``nice -n 19 python bench/postgres.py``.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ROWS = {
    "rr": ["--target-opt", "isolation=repeatable-read"],
    "ser": ["--target-opt", "isolation=serializable"],
    "ser+kill+pause": ["--target-opt", "isolation=serializable", "--nemesis", "kill,pause"],
}
#: What snapshot isolation (PostgreSQL's repeatable read) never allows: every kind but G2
#: (G0, G1a/b/c, G-single, G-nonadjacent, incompatible-order, internal, garbage, ...).
FORBIDDEN = re.compile(r"^(?!G2)")


@dataclass
class Run:
    row: str
    seed: int
    exit: int | None = None
    seconds: float = 0.0
    found: Counter[str] = field(default_factory=Counter)
    valid: object = None
    ops: str = ""
    error: str = ""

    @property
    def failed(self) -> bool:
        return self.exit not in (0, 1, 2) or self.valid is None


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    rows = [r for r in ROWS if r in args.rows.split(",")]
    runs: list[Run] = []
    t0 = time.monotonic()
    print(f"bench/postgres: {args.runs} runs x {', '.join(rows)}, --time-limit {args.time_limit}, "
          f"--cluster {args.cluster}, results in {args.results}", flush=True)
    print(f"{'row':<16} {'seed':>6} {'exit':>4} {'secs':>6}  {'ok/fail/info':<16} found", flush=True)
    try:
        for i in range(args.runs):
            for row in rows:
                if args.stop_file and Path(args.stop_file).exists():
                    raise KeyboardInterrupt  # asked to stop between two runs: summarize what ran
                run = Run(row, args.seed + i)
                _execute(run, args)
                runs.append(run)
                found = ", ".join(f"{k}:{n}" for k, n in sorted(run.found.items())) or "-"
                print(f"{row:<16} {run.seed:>6} {run.exit!s:>4} {run.seconds:>6.1f}  {run.ops:<16} {found}"
                      + (f"  FAILED: {run.error}" if run.failed else ""), flush=True)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    _summary(runs, rows, time.monotonic() - t0)
    return 0


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--runs", type=int, default=20, help="runs per row (default 20)")
    p.add_argument("--time-limit", type=float, default=60.0, help="seconds per run (default 60)")
    p.add_argument("--rows", default=",".join(ROWS), help=f"which rows (default {','.join(ROWS)})")
    p.add_argument("--seed", type=int, default=2100, help="seed of the first round (default 2100)")
    p.add_argument("--results", default="/tmp/pgruns", help="results directory (default /tmp/pgruns)")
    p.add_argument("--cluster", default="local", help="local (default) or netns")
    p.add_argument("--node-count", type=int, default=1,
                   help="nodes (default 1: the clients' server is the only one, so every fault hits it)")
    p.add_argument("--base-port", type=int, default=0,
                   help="node i listens on this + i (default: seam test's own), away from other benches; "
                        "runs take turns over this, +10 and +20 (see _ports)")
    p.add_argument("--stop-file", default="",
                   help="stop between two runs once this file exists (and print the summary so far)")
    p.add_argument("--extra", default="", help="more seam test arguments, one string (e.g. netns prefix)")
    return p.parse_args(argv)


def _execute(run: Run, args: argparse.Namespace) -> None:
    argv = [sys.executable, "-m", "harness.cli", "test", "--target", "postgres", "--workload", "list-append",
            *ROWS[run.row], "--time-limit", f"{args.time_limit:g}", "--seed", str(run.seed),
            "--cluster", args.cluster, "--node-count", str(args.node_count), "--results", args.results,
            "--no-progress", *_ports(args.base_port, run),
            *args.extra.split()]
    t0 = time.monotonic()
    try:
        r = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=args.time_limit + 240)
    except subprocess.TimeoutExpired:
        run.seconds, run.exit, run.error = time.monotonic() - t0, None, "timeout"
        return
    run.seconds, run.exit = time.monotonic() - t0, r.returncode
    m = re.search(r"^results: (\S+)", r.stdout, re.M)
    if not m or not (Path(m.group(1)) / "results.json").exists():
        run.error = (r.stderr.strip().splitlines() or ["no results.json"])[-1][:200]
        return
    data = json.loads((Path(m.group(1)) / "results.json").read_text())
    txn = data.get("checkers", {}).get("txn", {})
    run.valid = txn.get("valid")
    run.found.update({str(k): int(v) for k, v in (txn.get("stats", {}).get("found") or {}).items()})
    v = re.search(r"\(ok (\d+), fail (\d+), info (\d+)\)", r.stdout)
    run.ops = "/".join(v.groups()) if v else "?"


def _ports(base: int, run: Run) -> list[str]:
    """``--base-port`` for this run, or nothing. A stopped server leaves its side of each
    connection in TIME_WAIT for a minute, and seam test's check that the port is free
    refuses such a port; so the three rows of a round each take their own base."""
    if not base:
        return []
    return ["--base-port", str(base + 10 * list(ROWS).index(run.row))]


def _summary(runs: list[Run], rows: list[str], seconds: float) -> None:
    print(f"\n{'row':<16} {'runs':>4} {'G2-item':>8} {'not-SI':>7} {'invalid':>8} {'failed':>7}  "
          "kinds found (runs with it)")
    for row in rows:
        mine = [r for r in runs if r.row == row]
        done = [r for r in mine if not r.failed]
        kinds = Counter(k for r in done for k in r.found)
        g2 = sum("G2-item" in r.found for r in done)
        bad = sum(any(FORBIDDEN.match(k) for k in r.found) for r in done)
        invalid = sum(r.valid is False for r in done)
        print(f"{row:<16} {len(done):>4} {g2:>8} {bad:>7} {invalid:>8} {len(mine) - len(done):>7}  "
              + (", ".join(f"{k} ({n})" for k, n in sorted(kinds.items())) or "-"))
    print(f"total {seconds / 60:.1f} min")


if __name__ == "__main__":
    raise SystemExit(main())
