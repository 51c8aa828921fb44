"""How fast the transactional checker is: check time and peak memory by size.

Generates list-append histories from a simulated strict-serializable
database (each transaction applies atomically when it completes, so the
history is valid under every model) with Elle's workload shape: 10 keys
active at once, a key retired after a few hundred appends, 4 to 8
micro-ops per transaction, half reads. Then checks each under
strict-serializable (realtime edges and all) and prints the figures. It
asserts nothing: the goal (100,000 transactions in under 10 s and 1 GiB)
is read off the output.

    .venv/bin/python bench/elle.py                  # 10k, 100k and 1M transactions
    .venv/bin/python bench/elle.py --sizes 10000,100000
    .venv/bin/python bench/elle.py --sizes 1000000 --profile /tmp/elle.prof   # where the time goes
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import random
import resource
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from checkers.txn import TxnChecker, TxnOptions  # noqa: E402
from harness.core.op import History, Op  # noqa: E402


def generate(n: int, *, concurrency: int = 10, keys: int = 10, max_writes: int = 256,
             min_len: int = 4, max_len: int = 8, seed: int = 0) -> History:
    """``n`` list-append transactions from a simulated strict-serializable database."""
    rng = random.Random(seed)
    state: dict[int, list[int]] = {}
    issued: dict[int, int] = {}  # appends invoked per key, to retire a key in time
    active = list(range(keys))
    next_key = keys
    ops: list[Op] = []
    running: dict[int, list[list]] = {}  # process -> invoked micro-ops
    started = 0
    while started < n or running:
        idle = [p for p in range(concurrency) if p not in running]
        if started < n and idle and (not running or rng.random() < 0.5):
            p = rng.choice(idle)
            mops: list[list] = []
            for _ in range(rng.randint(min_len, max_len)):
                i = min(int(rng.expovariate(0.5)), keys - 1)
                k = active[i]
                if rng.random() < 0.5:
                    mops.append(["r", k, None])
                else:
                    if issued.get(k, 0) >= max_writes:
                        active[i] = next_key
                        next_key += 1
                        k = active[i]
                    issued[k] = issued.get(k, 0) + 1
                    mops.append(["append", k, issued[k]])
            running[p] = mops
            ops.append(Op(len(ops), 0, p, "invoke", "txn", mops))
            started += 1
        else:
            p = rng.choice(list(running))
            done = []
            for f, k, v in running.pop(p):
                if f == "append":
                    state.setdefault(k, []).append(v)
                    done.append([f, k, v])
                else:
                    done.append([f, k, list(state.get(k, []))])
            ops.append(Op(len(ops), 0, p, "ok", "txn", done))
    return History(ops, source=f"<generated {n}>")


def measure(n: int, *, traced: bool = False) -> tuple[float, float, float, str]:
    """(generate s, check s, peak MiB while checking, verdict) for ``n`` transactions.

    Peak memory is the growth of the process's peak RSS over the check (each size runs
    in its own process, see ``main``); with ``traced`` it is tracemalloc's peak in a
    second check instead (exact, but tracemalloc makes allocation three times slower)."""
    t0 = time.perf_counter()
    history = generate(n)
    t1 = time.perf_counter()
    gc.collect()
    checker = TxnChecker(TxnOptions(workload="list-append"))
    before = _rss_now_mib()
    t2 = time.perf_counter()
    result = checker.check(None, history, None)
    t3 = time.perf_counter()
    peak = _peak_rss_mib() - before
    if traced:
        tracemalloc.start()
        checker.check(None, history, None)
        _, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        peak = traced_peak / 2**20
    split = result.stats.get("seconds") or {}
    verdict = (f"{result.valid} {result.stats.get('edges')} edges "
               f"(analysis {split.get('analysis')} s, graph and cycles {split.get('cycles')} s)")
    return t1 - t0, t3 - t2, peak, verdict


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_now_mib() -> float:
    """The resident set now (the peak so far would hide the check's own growth)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return _peak_rss_mib()


def _one(n: int, traced: bool, out: Any) -> None:
    out.send(measure(n, traced=traced))
    out.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--tracemalloc", action="store_true",
                        help="peak memory from tracemalloc in a second check (slow), not from RSS")
    parser.add_argument("--profile", metavar="FILE", default="",
                        help="cProfile the check of the last size into FILE (pstats), in this process")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.profile:
        _profile(sizes[-1], args.profile)
        return
    how = "tracemalloc's peak in a second check" if args.tracemalloc else "growth of peak RSS over the check"
    print(f"check s: wall time of one check; peak MiB: {how}; each size in its own process")
    print(f"{'txns':>9} {'generate s':>11} {'check s':>8} {'peak MiB':>9}  verdict")
    ctx = multiprocessing.get_context("fork")
    for n in sizes:
        receive, send = ctx.Pipe(duplex=False)
        child = ctx.Process(target=_one, args=(n, args.tracemalloc, send))
        child.start()
        gen, check, peak, verdict = receive.recv()
        child.join()
        print(f"{n:>9} {gen:>11.2f} {check:>8.2f} {peak:>9.0f}  {verdict}", flush=True)


def _profile(n: int, path: str) -> None:
    """Where the check's time goes: the top functions by cumulative and by own time."""
    import cProfile
    import pstats

    history = generate(n)
    checker = TxnChecker(TxnOptions(workload="list-append"))
    cProfile.runctx("checker.check(None, history, None)", globals(), {"checker": checker, "history": history},
                    path)
    stats = pstats.Stats(path)
    stats.sort_stats("cumulative").print_stats(25)
    stats.sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
