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
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import sys
import time
import tracemalloc
from pathlib import Path

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


def measure(n: int) -> tuple[float, float, float, str]:
    """(generate s, check s, peak MiB while checking, verdict) for ``n`` transactions."""
    t0 = time.perf_counter()
    history = generate(n)
    t1 = time.perf_counter()
    gc.collect()
    checker = TxnChecker(TxnOptions(workload="list-append"))
    t2 = time.perf_counter()
    result = checker.check(None, history, None)
    t3 = time.perf_counter()
    # Memory in a second check: tracemalloc slows allocation down threefold.
    tracemalloc.start()
    checker.check(None, history, None)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return t1 - t0, t3 - t2, peak / 2**20, f"{result.valid} {result.stats.get('edges')} edges"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    args = parser.parse_args()
    print("check s: wall time of one check; peak MiB: what the check allocates beyond the history")
    print(f"{'txns':>9} {'generate s':>11} {'check s':>8} {'peak MiB':>9}  verdict")
    for n in (int(s) for s in args.sizes.split(",")):
        gen, check, peak, verdict = measure(n)
        print(f"{n:>9} {gen:>11.2f} {check:>8.2f} {peak:>9.0f}  {verdict}", flush=True)
    print(f"max RSS of the process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
