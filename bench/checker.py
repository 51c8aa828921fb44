"""Benchmark the linearizability checker. Prints figures; asserts nothing.

1. The oracle corpus (../shared/oracle), in this process: parse + check time
   per file and in total, next to Porcupine's own check times
   (PORCUPINE_TIMINGS.tsv: GOMAXPROCS=1 medians, parsing excluded).
2. The same corpus, whole process: ``seam check`` run once per group of
   files (the etcd logs, the kv logs, the Knossos EDN files per model), so
   interpreter start, imports, parsing, search and the explanations of
   failures all count. Wall and CPU (user + sys) seconds, and their ratio to
   Porcupine's recorded check time (no Go here to run it; its start and
   parse would only add to its side). Then the whole corpus once more as one
   ``seam check --manifest`` process, each file with the oracle's model and
   initial state, as a user with a labelled corpus runs it.
3. Generated histories, each checked by a whole ``seam check`` process, with
   time, CPU, peak PSS (the process and its workers) and peak RSS:
   a. 1,000,000-op cas-register, 1,000 keys x 5 processes, values 0-4, 5% crashed;
   b. 1,000,000-op cas-register with unique written values, 1,000 keys x 5
      processes, 5% crashed ops;
   c. 10,000-op single key, 5 processes, unique written values, 5% of the ops
      crashed writes;
   d. kv, 100,000 ops over 1,000 keys x 5 processes, 20% crashed appends.
   Each should finish under 60 s and 2 GiB.

Generated histories come from a simulated linearizable object, so they are
valid: the hard case, where the search must run to the end.

Run: ``.venv/bin/python bench/checker.py [--quick] [--corpus-only] [--only a,b,c,d]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
ORACLE = REPO.parent / "shared" / "oracle"
SEAM = [sys.executable, "-m", "harness.cli"]
#: Porcupine on the 1,000,000-op register history (section 3a), as recorded in
#: issue 12 (no Go toolchain here to re-run it).
PORCUPINE_1M_REGISTER_S = 4.3

from checkers.linearizable.models import get_model  # noqa: E402
from checkers.linearizable.partition import check_history  # noqa: E402
from harness.core.errors import HistoryError  # noqa: E402
from harness.formats import load  # noqa: E402


class MemorySampler:
    """Samples the proportional set size (PSS) of a process tree (default: this one).

    RSS counts a page shared by the parent and a forked worker in both; PSS
    splits it, so the sum is the real footprint. Linux only (/proc).
    """

    def __init__(self, root: int | None = None, every: float = 0.1):
        import threading

        self.root = root if root is not None else os.getpid()
        self.every = every
        self.peak_mib = 0.0
        self.peak_rss_mib = 0.0  # the largest VmHWM (peak RSS) of one process in the tree
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

    def _tree(self) -> list[int]:
        pids, todo = [], [self.root]
        while todo:
            pid = todo.pop()
            pids.append(pid)
            for task in Path(f"/proc/{pid}/task").glob("*/children"):
                try:
                    todo += [int(p) for p in task.read_text().split()]
                except OSError:
                    pass
        return pids

    def sample(self) -> float:
        total_kib = 0
        for pid in self._tree():
            try:
                for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                    if line.startswith("Pss:"):
                        total_kib += int(line.split()[1])
                        break
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        self.peak_rss_mib = max(self.peak_rss_mib, int(line.split()[1]) / 1024)
                        break
            except (OSError, ValueError):
                pass
        return total_kib / 1024


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


# --------------------------------------------------------------------------- 2. whole process


#: The model ``seam check`` picks by itself for each format of the corpus.
FORMAT_DEFAULT_MODEL = {
    "jepsen-etcd-log": "etcd-register",
    "porcupine-kv-edn-lines": "kv",
    "knossos-edn": "cas-register",
}


def corpus_groups() -> list[tuple[str, list[str], list[dict]]]:
    """The corpus as ``seam check`` invocations: (label, options, manifest entries).

    Files that need the same options share one process. A file whose model
    and initial state are what ``seam check`` picks for its format by itself
    (``FORMAT_DEFAULT_MODEL``, with the model's own initial state) needs no
    options, so the etcd logs and the kv logs are checked by one process.
    """
    manifest = [
        e for e in json.loads((ORACLE / "MANIFEST.json").read_text()) if e["expected"] != "unknown"
    ]
    groups: dict[tuple[str, ...], list[dict]] = {}
    for e in manifest:
        initial = json.dumps(initial_state(e)) if "initial_state" in e else ""
        options = ["--model", e["model"]] + (["--initial", initial] if initial else [])
        model = get_model(e["model"], initial_state(e)) if initial else get_model(e["model"])
        if FORMAT_DEFAULT_MODEL.get(e["format"]) == e["model"] and repr(model) == repr(
            get_model(e["model"])
        ):
            options = []
        groups.setdefault(tuple(options), []).append(e)
    out = []
    for options, entries in groups.items():
        kinds = dict.fromkeys(f"{e['format']}/{e['model']}" for e in entries)
        out.append((" + ".join(kinds), list(options), entries))
    return out


def run_seam(args: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess, float, float]:
    """Run ``seam`` as its own process: (result, wall seconds, CPU seconds of it and its workers)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run([*SEAM, *args], cwd=cwd, capture_output=True, text=True, env=_env())
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return done, wall, cpu


def _env() -> dict[str, str]:
    """As an installed seam runs: with compiled bytecode (cached outside the
    repo), even where the shell sets PYTHONDONTWRITEBYTECODE, which would make
    every start compile every module again."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.setdefault("PYTHONPYCACHEPREFIX", str(Path(tempfile.gettempdir()) / "seam-bench-pycache"))
    return env


def bench_whole_process(repeat: int = 3) -> dict[str, float]:
    """Section 2; returns the CPU ratios to Porcupine: whole corpus and Knossos EDN files.

    Each group runs ``repeat`` times and counts its fastest run (wall and CPU
    apart): the machine is shared, and other load only ever adds time."""
    theirs = porcupine_times()
    print(
        f"== 2. oracle corpus, whole process: one `seam check` per group of files "
        f"(best of {repeat}) =="
    )
    print(
        f"{'group':54} {'files':>5} {'wall s':>8} {'cpu s':>8} {'porcupine s':>12} {'cpu ratio':>9}"
        f" {'peak RSS':>9}  wrong"
    )
    total_wall = total_cpu = total_theirs = 0.0
    edn_cpu = edn_theirs = 0.0
    total_wrong = 0
    run_seam(["check", "--help"], ORACLE)  # warm the bytecode cache
    for label, options, entries in corpus_groups():
        files = [e["file"] for e in entries]
        runs = [run_seam(["check", *options, *files], ORACLE) for _ in range(repeat)]
        done = runs[0][0]
        wall = min(r[1] for r in runs)
        cpu = min(r[2] for r in runs)
        if any(_verdicts(r[0].stdout) != _verdicts(done.stdout) for r in runs):
            print(f"  {label}: the runs gave different verdicts")
        verdicts = _verdicts(done.stdout)
        wrong = sum(verdicts.get(e["file"]) != (e["expected"] == "linearizable") for e in entries)
        porc = sum(theirs.get(f, 0.0) for f in files)
        total_wall, total_cpu, total_theirs = (
            total_wall + wall,
            total_cpu + cpu,
            total_theirs + porc,
        )
        if label.startswith("knossos-edn/"):
            edn_cpu, edn_theirs = edn_cpu + cpu, edn_theirs + porc
        total_wrong += wrong
        # ru_maxrss of the children so far: the largest process yet (KiB on Linux)
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(
            f"{label:54} {len(files):5} {wall:8.3f} {cpu:8.3f} {porc:12.4f} {cpu / porc:9.2f}"
            f" {rss:6.0f} MiB  {wrong}"
        )
    print(
        f"{'whole corpus':54} {'':5} {total_wall:8.3f} {total_cpu:8.3f} {total_theirs:12.4f} "
        f"{total_cpu / total_theirs:9.2f}  {'':9} {total_wrong}"
    )
    print(
        f"ratio seam/porcupine, whole process: {total_wall / total_theirs:.2f} by wall time, "
        f"{total_cpu / total_theirs:.2f} by CPU time (wall counts other load on this machine); "
        f"Knossos EDN files alone: {edn_cpu / edn_theirs:.1f} by CPU time"
    )
    one_cpu = bench_one_process(repeat, total_theirs)
    return {
        "corpus": total_cpu / total_theirs,
        "knossos-edn": edn_cpu / edn_theirs,
        "one-process": one_cpu / total_theirs,
    }


def bench_one_process(repeat: int, theirs: float) -> float:
    """The whole corpus as one ``seam check --manifest`` process (each file its model and
    initial state from the oracle's manifest); returns its best CPU seconds."""
    rows = []
    for _label, _options, entries in corpus_groups():
        for e in entries:
            row = {"file": str(ORACLE / e["file"]), "model": e["model"], "expected": e["expected"]}
            if "initial_state" in e:
                row["initial"] = initial_state(e)
            rows.append(row)
    with tempfile.TemporaryDirectory() as tmp:
        manifest = Path(tmp) / "corpus.json"
        manifest.write_text(json.dumps(rows))
        runs = [run_seam(["check", "--manifest", str(manifest)], ORACLE) for _ in range(repeat)]
    wall = min(r[1] for r in runs)
    cpu = min(r[2] for r in runs)
    verdicts = _verdicts(runs[0][0].stdout)
    wrong = sum(verdicts.get(r["file"]) != (r["expected"] == "linearizable") for r in rows)
    codes = {r[0].returncode for r in runs}
    print(
        f"{'whole corpus, one process (--manifest)':54} {len(rows):5} {wall:8.3f} {cpu:8.3f} "
        f"{theirs:12.4f} {cpu / theirs:9.2f}  {'':9} {wrong}  (exit {', '.join(map(str, codes))}: "
        f"0 = every file gave its expected verdict)"
    )
    return cpu


def _verdicts(stdout: str) -> dict[str, bool | None]:
    """``FILE: linearizable (...)`` lines of ``seam check`` output, by file."""
    out: dict[str, bool | None] = {}
    for line in stdout.splitlines():
        name, sep, rest = line.partition(": ")
        if not sep or line.startswith(" "):
            continue
        if rest.startswith("linearizable"):
            out[name] = True
        elif rest.startswith("NOT linearizable"):
            out[name] = False
        elif rest.startswith("unknown"):
            out[name] = None
    return out


# --------------------------------------------------------------------------- generated histories


class Writer:
    """Writes JSONL op lines in batches, numbering them."""

    def __init__(self, path: Path, independent: bool):
        self.out = path.open("w")
        self.independent = independent
        self.index = 0
        self.lines: list[str] = []

    def emit(self, process: int, typ: str, f: str, v: object, key: int) -> None:
        v = [key, v] if self.independent else v
        self.lines.append(
            f'{{"index":{self.index},"time":{self.index},"process":{process},"type":"{typ}","f":"{f}","value":{json.dumps(v)}}}\n'
        )
        self.index += 1
        if len(self.lines) >= 20000:
            self.flush()

    def flush(self) -> None:
        self.out.writelines(self.lines)
        self.lines.clear()

    def close(self) -> None:
        self.flush()
        self.out.close()


def simulate(
    path: Path,
    *,
    ops: int,
    keys: int,
    procs_per_key: int,
    crash_rate: float,
    seed: int,
    independent: bool,
    unique: bool = False,
    crash: tuple[str, ...] = ("read", "write", "cas"),
) -> dict[str, int]:
    """Write a JSONL history of a linearizable cas-register per key, keys interleaved.

    Every op takes effect atomically at one instant between its invoke and its
    completion. A crashed op (``crash_rate`` of the ops whose function is in
    ``crash``) takes effect or not and never completes: half end with an
    ``info`` line, half are left open; its process is retired and replaced,
    as in Jepsen. A cas whose compare fails completes as ``fail``. With
    ``unique``, every write and cas writes a value never written before, and a
    cas expects the current value or one of the last few written.
    """
    rng = random.Random(seed)
    fresh = 0
    value: list[object] = [None] * keys
    # per slot (key, process slot): [process id, stage, f, invoke value, result type, result value]
    slots = [
        [k * procs_per_key + i, 0, "", None, "", None]
        for k in range(keys)
        for i in range(procs_per_key)
    ]
    next_process = keys * procs_per_key
    invoked = crashed = 0
    out = Writer(path, independent)

    def draw() -> object:
        nonlocal fresh
        if not unique:
            return rng.randrange(5)
        fresh += 1
        return fresh

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
                f, v = "write", draw()
            else:
                old = value[key] if unique and rng.random() < 0.5 else rng.randrange(5)
                f, v = "cas", [old, draw()]
            slot[1:4] = [1, f, v]
            invoked += 1
            out.emit(slot[0], "invoke", f, v, key)
        elif stage in (
            1,
            2,
        ):  # 1: invoked (take effect or crash); 2: took effect (complete or crash)
            if slot[2] in crash and rng.random() < crash_rate / 2:
                crashed += 1
                if rng.random() < 0.5:
                    out.emit(slot[0], "info", slot[2], slot[3], key)
                slot[0], slot[1] = next_process, 0
                next_process += 1
                continue
            if stage == 2:
                out.emit(slot[0], slot[4], slot[2], slot[5], key)
                slot[1] = 0
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
    out.close()
    return {"ops": invoked, "lines": out.index, "crashed": crashed}


def simulate_kv(
    path: Path,
    *,
    ops: int,
    keys: int,
    procs_per_key: int,
    crash_rate: float,
    seed: int,
    crash: tuple[str, ...] = ("append",),
) -> dict[str, int]:
    """Write a JSONL history of Porcupine's kv map: per key a string, 40% gets,
    10% puts, 50% appends of unique strings (``"x P N y"``, as Porcupine's
    logs), and ``crash_rate`` of the ops whose function is in ``crash`` crash
    (before or after they take effect, with an ``info`` line or none)."""
    rng = random.Random(seed)
    value = [""] * keys
    slots = [
        [k * procs_per_key + i, 0, "", "", ""] for k in range(keys) for i in range(procs_per_key)
    ]
    next_process = keys * procs_per_key
    invoked = crashed = 0
    out = Writer(path, independent=True)
    active = len(slots)
    while active:
        i = rng.randrange(len(slots))
        slot = slots[i]
        key = i // procs_per_key
        stage = slot[1]
        if stage == 0:
            if invoked >= ops:
                slot[1] = 3
                active -= 1
                continue
            r = rng.random()
            f = "get" if r < 0.4 else "put" if r < 0.5 else "append"
            v = None if f == "get" else f"x {slot[0]} {invoked} y"
            slot[1:4] = [1, f, v]
            invoked += 1
            out.emit(slot[0], "invoke", f, v, key)
        elif stage in (1, 2):
            if slot[2] in crash and rng.random() < crash_rate / 2:
                crashed += 1
                if rng.random() < 0.5:
                    out.emit(slot[0], "info", slot[2], slot[3], key)
                slot[0], slot[1] = next_process, 0
                next_process += 1
                continue
            if stage == 2:
                out.emit(slot[0], "ok", slot[2], slot[4], key)
                slot[1] = 0
                continue
            f, v = slot[2], slot[3]
            if f == "get":
                slot[4] = value[key]
            elif f == "put":
                value[key] = slot[4] = v
            else:
                value[key] += v
                slot[4] = v
            slot[1] = 2
    out.close()
    return {"ops": invoked, "lines": out.index, "crashed": crashed}


def bench_generated(
    title: str,
    make: Callable[[Path], dict[str, int]],
    options: list[str],
    porcupine: float | None,
    repeat: int = 1,
) -> tuple[float, float, float]:
    """Generate a history, then check it with a whole ``seam check`` process ``repeat`` times.

    Returns (fastest wall seconds, median wall seconds, peak PSS MiB over all runs)."""
    print(f"== {title} ==")
    with tempfile.TemporaryDirectory(prefix="seam-bench-") as tmp:
        path = Path(tmp) / "history.jsonl"
        t0 = time.perf_counter()
        stats = make(path)
        t1 = time.perf_counter()
        size = path.stat().st_size / 2**20
        print(
            f"generated {stats['ops']} ops ({stats['crashed']} crashed), {stats['lines']} lines, "
            f"{size:.0f} MiB in {t1 - t0:.1f} s (not counted)"
        )
        runs = [_check_process(path, options) for _ in range(max(1, repeat))]
    walls = sorted(r[0] for r in runs)
    fastest, median = walls[0], walls[len(walls) // 2]
    cpu = min(r[1] for r in runs)
    peak = max(r[2] for r in runs)
    code, stdout, stderr, rss = runs[0][3:]
    lines = stdout.splitlines()
    headline = next((ln for ln in lines if ln.startswith(str(path))), stderr.strip()[-300:])
    slowest = _slowest_key(lines)
    print(f"exit {code}: {headline.replace(str(path), 'history.jsonl')}")
    if slowest:
        print(f"slowest key: {slowest}")
    ratio = f"  ({fastest / porcupine:.2f}x Porcupine's {porcupine} s)" if porcupine else ""
    spread = f"fastest of {len(walls)} (median {median:.2f} s), " if len(walls) > 1 else ""
    print(f"whole process: {fastest:.2f} s wall, {spread}{cpu:.2f} s CPU (with workers){ratio}")
    print(
        f"peak memory: {peak:.0f} MiB PSS (process + workers, sampled), "
        f"largest process peak RSS {rss:.0f} MiB (sampled)"
    )
    return fastest, median, peak


def _check_process(path: Path, options: list[str]) -> tuple[float, float, float, int, str, str, float]:
    """One ``seam check`` of ``path``: wall s, CPU s (with workers), peak PSS MiB, exit code,
    stdout, stderr, largest process peak RSS MiB."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t1 = time.perf_counter()
    proc = subprocess.Popen(
        [*SEAM, "check", *options, "--verbose", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    with MemorySampler(proc.pid) as memory:
        stdout, stderr = proc.communicate()
    wall = time.perf_counter() - t1
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, memory.peak_mib, proc.returncode, stdout, stderr, memory.peak_rss_mib


def _slowest_key(lines: list[str]) -> str:
    """The ``--verbose`` per-key line with the most seconds."""
    best, best_s = "", -1.0
    for line in lines:
        if "key " not in line or " s" not in line:
            continue
        for word in line.replace("(", " ").replace(",", " ").split():
            try:
                secs = float(word)
            except ValueError:
                continue
            if line.split(word, 1)[1].startswith(" s") and secs > best_s:
                best, best_s = line.strip(), secs
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the ops in section 3")
    parser.add_argument("--corpus-only", action="store_true")
    parser.add_argument("--only", default="a,b,c,d", help="which shapes of section 3 (a,b,c,d)")
    parser.add_argument("--verbose", action="store_true", help="one line per corpus file")
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs of each section 2 group and of shapes 3a and 3b (the fastest counts; "
        "wall times on a shared machine vary by a fifth)",
    )
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    headline: dict[str, str] = {}
    if not args.only or args.corpus_only or args.only == "a,b,c,d":
        bench_corpus(args.verbose)
        ratios = bench_whole_process(args.repeat)
        headline["whole corpus, CPU / Porcupine"] = f"{ratios['corpus']:.2f}x"
        headline["Knossos EDN files, CPU / Porcupine"] = f"{ratios['knossos-edn']:.1f}x"
        headline["whole corpus in one process, CPU / Porcupine"] = f"{ratios['one-process']:.2f}x"
    if args.corpus_only:
        _print_headline(headline)
        return
    scale = 10 if args.quick else 1
    m = 1_000_000 // scale
    keys = 1000 // scale
    shapes: dict[str, tuple[str, Callable[[Path], dict[str, int]], list[str], float | None]] = {
        "a": (
            f"3a. {m:,}-op cas-register, {keys} keys x 5 processes, values 0-4, 5% crashed",
            lambda p: simulate(
                p, ops=m, keys=keys, procs_per_key=5, crash_rate=0.05, seed=1, independent=True
            ),
            ["--model", "cas-register", "--independent", "-j", "2"],
            PORCUPINE_1M_REGISTER_S / scale,
        ),
        "b": (
            f"3b. {m:,}-op cas-register, unique values, {keys} keys x 5 processes, 5% crashed",
            lambda p: simulate(
                p,
                ops=m,
                keys=keys,
                procs_per_key=5,
                crash_rate=0.05,
                seed=3,
                independent=True,
                unique=True,
            ),
            ["--model", "cas-register", "--independent", "-j", "2"],
            PORCUPINE_1M_REGISTER_S / scale,
        ),
        "c": (
            "3c. 10,000-op single key, 5 processes, unique values, 5% of ops crashed writes",
            lambda p: simulate(
                p,
                ops=10_000,
                keys=1,
                procs_per_key=5,
                crash_rate=0.05 / 0.3,  # writes are 30% of the ops
                seed=2,
                independent=False,
                unique=True,
                crash=("write",),
            ),
            ["--model", "cas-register"],
            None,
        ),
        "d": (
            f"3d. kv, {100_000 // scale:,} ops, {keys} keys x 5 processes, 20% crashed appends",
            lambda p: simulate_kv(
                p, ops=100_000 // scale, keys=keys, procs_per_key=5, crash_rate=0.2, seed=4
            ),
            ["--model", "kv", "-j", "2"],
            None,
        ),
    }
    for name in args.only.split(","):
        title, make, options, porcupine = shapes[name.strip()]
        big = name.strip() in ("a", "b")
        fastest, median, pss = bench_generated(title, make, options, porcupine, args.repeat if big else 1)
        if big and porcupine:
            headline[f"3{name.strip()} register, wall / Porcupine"] = (
                f"{fastest / porcupine:.2f}x ({fastest:.1f} s fastest of {args.repeat}, median {median:.1f} s, "
                f"vs {porcupine:g} s; peak {pss:.0f} MiB PSS)"
            )
    _print_headline(headline)


def _print_headline(headline: dict[str, str]) -> None:
    """The figures issue 12 sets targets for (<= 1.0x Porcupine), in one place."""
    if headline:
        print("== headline ==")
        for name, value in headline.items():
            print(f"{name:40} {value}")


if __name__ == "__main__":
    main()
