"""Benchmark the linearizability checker. Prints figures; asserts nothing.

1. The oracle corpus (../shared/oracle): parse + check time per file and in
   total, next to Porcupine's own check times (PORCUPINE_TIMINGS.tsv).
2. A seeded 1,000,000-op independent cas-register history over 1,000 keys,
   5 processes per key, 5% crashed ops: load + check with 2 worker processes;
   time and peak memory.
3. A 10,000-op single cas-register history, 10 processes, 10% crashed ops.

Generated histories come from a simulated linearizable register, so they are
valid: the hard case, where the search must run to the end.

Run: ``.venv/bin/python bench/checker.py [--quick] [--corpus-only]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
ORACLE = REPO.parent / "shared" / "oracle"

from checkers.linearizable.models import get_model  # noqa: E402
from checkers.linearizable.partition import check_history  # noqa: E402
from harness.core.errors import HistoryError  # noqa: E402
from harness.formats import load  # noqa: E402


class MemorySampler:
    """Samples the proportional set size (PSS) of this process plus its children.

    RSS counts a page shared by the parent and a forked worker in both; PSS
    splits it, so the sum is the real footprint. Linux only (/proc).
    """

    def __init__(self, every: float = 0.2):
        import threading

        self.every = every
        self.peak_mib = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_mib = max(self.peak_mib, self.sample())
            self._stop.wait(self.every)

    @staticmethod
    def sample() -> float:
        pids = [os.getpid()]
        for task in Path("/proc/self/task").glob("*/children"):
            try:
                pids += [int(p) for p in task.read_text().split()]
            except OSError:
                pass
        total_kib = 0
        for pid in pids:
            try:
                for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                    if line.startswith("Pss:"):
                        total_kib += int(line.split()[1])
                        break
            except (OSError, ValueError):
                pass
        return total_kib / 1024


def peak_rss_mib() -> tuple[float, float]:
    """Peak resident memory of this process and of its largest finished child, in MiB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


# --------------------------------------------------------------------------- 1. oracle corpus


def porcupine_times() -> dict[str, float]:
    path = ORACLE / "PORCUPINE_TIMINGS.tsv"
    rows = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    out: dict[str, float] = {}
    for row in csv.DictReader(rows, delimiter="\t"):
        if row["model"] in ("kv(no-partition)",):
            continue
        out[row["file"]] = float(row["gmp1_median_s"])
    return out


def initial_state(entry: dict) -> object:
    initial = entry["initial_state"]
    if isinstance(initial, dict):
        return {k.removeprefix(":"): v for k, v in initial.items()}
    return initial


def bench_corpus(verbose: bool) -> None:
    manifest = json.loads((ORACLE / "MANIFEST.json").read_text())
    theirs = porcupine_times()
    print("== 1. oracle corpus: parse + check per file (seconds) ==")
    if verbose:
        print(
            f"{'file':58} {'ops':>5} {'parse':>8} {'check':>8} {'seam':>8} {'porcupine':>10} {'ratio':>7}  verdict"
        )
    total_parse = total_check = total_theirs = 0.0
    wrong = 0
    slowest: list[tuple[float, str, float]] = []
    started = time.perf_counter()
    for entry in manifest:
        path = ORACLE / entry["file"]
        t0 = time.perf_counter()
        try:
            history = load(path)
        except HistoryError:
            if entry["expected"] != "unknown":
                wrong += 1
            continue
        t1 = time.perf_counter()
        model = (
            get_model(entry["model"], initial_state(entry))
            if "initial_state" in entry
            else get_model(entry["model"])
        )
        result = check_history(history, model)
        t2 = time.perf_counter()
        expected = {"linearizable": True, "not-linearizable": False}.get(entry["expected"])
        wrong += result.valid is not expected
        mine = t2 - t0
        porc = theirs.get(entry["file"], 0.0)
        total_parse += t1 - t0
        total_check += t2 - t1
        total_theirs += porc
        slowest.append((mine, entry["file"], porc))
        if verbose:
            ratio = f"{mine / porc:7.1f}" if porc else "      -"
            print(
                f"{entry['file']:58} {entry['ops']:5} {t1 - t0:8.4f} {t2 - t1:8.4f} {mine:8.4f} {porc:10.6f} {ratio}  {result.valid}"
            )
    wall = time.perf_counter() - started
    print("slowest files (seam parse+check vs porcupine check):")
    for mine, name, porc in sorted(slowest, reverse=True)[:6]:
        print(f"  {name:58} {mine:8.4f} s  porcupine {porc:8.4f} s")
    print(f"files: {len(slowest)}  wrong verdicts: {wrong}")
    print(f"seam total: {wall:.3f} s wall (parse {total_parse:.3f} s + check {total_check:.3f} s)")
    print(f"porcupine total (check only, GOMAXPROCS=1 medians): {total_theirs:.3f} s")
    print(f"ratio seam/porcupine: {wall / total_theirs:.2f}")


# --------------------------------------------------------------------------- generated histories


def simulate(
    path: Path,
    *,
    ops: int,
    keys: int,
    procs_per_key: int,
    crash_rate: float,
    seed: int,
    independent: bool,
) -> dict[str, int]:
    """Write a JSONL history of a linearizable cas-register per key, keys interleaved.

    Every op takes effect atomically at one instant between its invoke and its
    completion. A crashed op (``crash_rate`` of them) takes effect or not and
    never completes: half end with an ``info`` line, half are left open; its
    process is retired and replaced, as in Jepsen. A cas whose compare fails
    completes as ``fail``.
    """
    rng = random.Random(seed)
    values = range(5)
    value: list[object] = [None] * keys
    # per slot (key, process slot): [process id, stage, f, invoke value, result type, result value]
    slots = [
        [k * procs_per_key + i, 0, "", None, "", None]
        for k in range(keys)
        for i in range(procs_per_key)
    ]
    next_process = keys * procs_per_key
    invoked = completed = crashed = 0
    index = 0
    lines: list[str] = []
    out = path.open("w")

    def emit(process: int, typ: str, f: str, v: object, key: int) -> None:
        nonlocal index
        v = [key, v] if independent else v
        lines.append(
            f'{{"index":{index},"time":{index},"process":{process},"type":"{typ}","f":"{f}","value":{json.dumps(v)}}}\n'
        )
        index += 1
        if len(lines) >= 20000:
            out.writelines(lines)
            lines.clear()

    active = len(slots)
    while active:
        i = rng.randrange(len(slots))
        slot = slots[i]
        key = i // procs_per_key
        stage = slot[1]
        if stage == 0:  # idle: invoke
            if invoked >= ops:
                slot[1] = 3
                active -= 1
                continue
            r = rng.random()
            if r < 0.4:
                f, v = "read", None
            elif r < 0.7:
                f, v = "write", rng.choice(values)
            else:
                f, v = "cas", [rng.choice(values), rng.choice(values)]
            slot[1:4] = [1, f, v]
            invoked += 1
            emit(slot[0], "invoke", f, v, key)
        elif stage == 1:  # invoked: take effect (or crash first)
            if rng.random() < crash_rate / 2:
                crashed += 1
                if rng.random() < 0.5:
                    emit(slot[0], "info", slot[2], slot[3], key)
                slot[0], slot[1] = next_process, 0
                next_process += 1
                continue
            f, v = slot[2], slot[3]
            if f == "read":
                slot[4:6] = ["ok", value[key]]
            elif f == "write":
                value[key] = v
                slot[4:6] = ["ok", v]
            elif value[key] == v[0]:
                value[key] = v[1]
                slot[4:6] = ["ok", v]
            else:
                slot[4:6] = ["fail", v]
            slot[1] = 2
        elif stage == 2:  # took effect: complete (or crash: nobody hears)
            if rng.random() < crash_rate / 2:
                crashed += 1
                if rng.random() < 0.5:
                    emit(slot[0], "info", slot[2], slot[3], key)
                slot[0], slot[1] = next_process, 0
                next_process += 1
                continue
            emit(slot[0], slot[4], slot[2], slot[5], key)
            completed += 1
            slot[1] = 0
    out.writelines(lines)
    out.close()
    return {"ops": invoked, "lines": index, "crashed": crashed}


def bench_generated(
    title: str,
    *,
    ops: int,
    keys: int,
    procs: int,
    crash_rate: float,
    independent: bool,
    jobs: int,
    seed: int,
) -> None:
    print(f"== {title} ==")
    with tempfile.TemporaryDirectory(prefix="seam-bench-") as tmp:
        path = Path(tmp) / "history.jsonl"
        t0 = time.perf_counter()
        stats = simulate(
            path,
            ops=ops,
            keys=keys,
            procs_per_key=procs,
            crash_rate=crash_rate,
            seed=seed,
            independent=independent,
        )
        t1 = time.perf_counter()
        size = path.stat().st_size / 2**20
        print(
            f"generated {stats['ops']} ops ({stats['crashed']} crashed), {stats['lines']} lines, {size:.0f} MiB "
            f"in {t1 - t0:.1f} s (not counted)"
        )
        with MemorySampler() as memory:
            t1 = time.perf_counter()
            history = load(path)
            t2 = time.perf_counter()
            result = check_history(
                history, get_model("cas-register"), independent=independent, jobs=jobs
            )
            t3 = time.perf_counter()
    explored = sum(k.result.explored for k in result.keys)
    slowest = max(k.seconds for k in result.keys)
    own, children = peak_rss_mib()
    print(
        f"verdict: {result.valid}  keys: {len(result.keys)}  configurations explored: {explored}  "
        f"slowest key: {slowest:.3f} s"
    )
    print(f"load {t2 - t1:.2f} s + check {t3 - t2:.2f} s (jobs={jobs}) = {t3 - t1:.2f} s")
    print(
        f"peak memory during load + check: {memory.peak_mib:.0f} MiB PSS (this process + workers, sampled)"
    )
    print(
        f"peak RSS so far: this process {own:.0f} MiB, largest worker {children:.0f} MiB "
        f"(RSS counts pages shared with the parent in both)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="100,000 ops instead of 1,000,000 for part 2"
    )
    parser.add_argument("--corpus-only", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="one line per corpus file")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    bench_corpus(args.verbose)
    if args.corpus_only:
        return
    n = 100_000 if args.quick else 1_000_000
    bench_generated(
        f"2. {n:,}-op independent cas-register, {n // 1000} keys x 5 processes, 5% crashed",
        ops=n,
        keys=n // 1000,
        procs=5,
        crash_rate=0.05,
        independent=True,
        jobs=2,
        seed=1,
    )
    bench_generated(
        "3. 10,000-op single cas-register, 10 processes, 10% crashed",
        ops=10_000,
        keys=1,
        procs=10,
        crash_rate=0.10,
        independent=False,
        jobs=2,
        seed=2,
    )


if __name__ == "__main__":
    main()
