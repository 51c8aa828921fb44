"""Benchmark the linearizability checker against Porcupine, both timed here. Prints figures; asserts nothing.

Porcupine runs through Seam's Go driver (bench/porcupine), built from a
local copy of Porcupine's source (``--porcupine-src DIR`` or
``PORCUPINE_SRC``, a ``git clone https://github.com/anishathalye/porcupine``)
with Debian's golang-go, and nothing downloaded. It checks the same files as
Seam, in the same run, with the same models (bench/porcupine/models.go).
A ratio is printed only when both sides were timed; without Go or the
source the bench prints Seam's figures and "not measured" where the ratio
would be, with how to get what is missing. Verdicts of the two sides are
compared file by file, and every disagreement is printed and counted.

1. The oracle corpus (../shared/oracle), parse + check per file: Seam in
   this process, Porcupine as the driver reports it (its process start
   excluded).
2. The same corpus, whole process: ``seam check`` run once per group of
   files (the etcd logs, the kv logs, the Knossos EDN files per model), so
   interpreter start, imports, parsing, search and the explanations of
   failures all count, next to one driver process on the same files. Wall
   and CPU (user + sys) seconds of each. Then the whole corpus once more as
   one ``seam check --manifest`` process, each file with the oracle's model
   and initial state, next to one driver process on the whole corpus.
3. Generated histories, each checked by a whole ``seam check`` process and a
   whole driver process, with time, CPU, peak PSS (the process and its
   workers) and peak RSS:
   a. 1,000,000-op cas-register, 1,000 keys x 5 processes, values 0-4, 5% crashed;
   b. 1,000,000-op cas-register with unique written values, 1,000 keys x 5
      processes, 5% crashed ops;
   c. 10,000-op single key, 5 processes, unique written values, 5% of the ops
      crashed writes;
   d. kv, 100,000 ops over 1,000 keys x 5 processes, 20% crashed appends.
   Each should finish under 60 s and 2 GiB. The driver gives up on a file
   after ``--porcupine-timeout`` seconds or past ``--porcupine-max-heap`` MiB
   of Go heap (verdict unknown; the ratio is then an upper bound).

Generated histories come from a simulated linearizable object, so they are
valid: the hard case, where the search must run to the end.

Run: ``.venv/bin/python bench/checker.py [--quick] [--corpus-only] [--only a,b,c,d]
[--porcupine-src DIR]``.
"""

from __future__ import annotations

import argparse
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
sys.path.insert(0, str(REPO / "bench" / "porcupine"))
ORACLE = REPO.parent / "shared" / "oracle"
SEAM = [sys.executable, "-m", "harness.cli"]

from porcupine_driver import NOT_MEASURED, Driver, Run, Verdict, locate, ratio  # noqa: E402

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


# --------------------------------------------------------------------------- the Porcupine side


VERDICT_WORDS = {True: "linearizable", False: "not-linearizable", None: "unknown"}


class Porcupine:
    """The Porcupine side of one bench run: the driver (or why there is none),
    and every file where the two checkers' verdicts differ."""

    def __init__(self, driver: Driver | None, how: str, repeat: int):
        self.driver, self.how, self.repeat = driver, how, max(1, repeat)
        self.disagreements: list[str] = []
        self.errors: list[str] = []

    def best(
        self, rows: list[dict], cwd: Path, repeat: int | None = None, *, memory: bool = False
    ) -> Run | None:
        """The driver run ``repeat`` times (default: the bench's) on ``rows``: the
        fastest wall and CPU, each file's fastest parse + check (the machine is
        shared; load only adds time) and, with ``memory``, the peak PSS. None
        without a driver, or when the driver itself failed."""
        if self.driver is None:
            return None
        sampler = MemorySampler if memory else None
        with tempfile.TemporaryDirectory(prefix="seam-porcupine-") as tmp:
            runs = [
                self.driver.check(rows, cwd, Path(tmp), sampler)
                for _ in range(repeat or self.repeat)
            ]
        broken = next((r for r in runs if r.exit_code not in (0, 1)), None)
        if broken:
            self.errors.append(f"driver exit {broken.exit_code}: {broken.stderr[-300:]}")
            return None
        files: dict[str, Verdict] = {}
        for run in runs:
            for v in run.results:
                old = files.get(v.file)
                if old is None or v.parse_s + v.check_s < old.parse_s + old.check_s:
                    files[v.file] = v
        first = runs[0]
        return Run(
            list(files.values()),
            min(r.wall for r in runs),
            min(r.cpu for r in runs),
            first.go,
            first.gomaxprocs,
            peak_mib=max(r.peak_mib for r in runs),
        )

    def compare(self, where: str, file: str, seam: bool | None, theirs: Verdict | None) -> None:
        """Record a file whose verdicts differ (both decided), or that the driver could not read."""
        if theirs is None:
            return
        if theirs.verdict == "error":
            self.errors.append(f"{where}: {file}: {theirs.error}")
            return
        mine = VERDICT_WORDS[seam]
        if mine != theirs.verdict and "unknown" not in (mine, theirs.verdict):
            self.disagreements.append(f"{where}: {file}: Seam {mine}, Porcupine {theirs.verdict}")

    def describe(self, run: Run | None) -> str:
        """Which Go ran Porcupine, or why it was not measured."""
        if run is not None:
            return f"{run.go}, GOMAXPROCS={run.gomaxprocs}"
        if self.driver is None:
            return f"{NOT_MEASURED} ({self.how})"
        return (
            f"{NOT_MEASURED} (the driver failed: {self.errors[-1] if self.errors else 'no output'})"
        )


def driver_rows(entries: list[dict]) -> list[dict]:
    """Manifest entries as the driver's rows: each file with the oracle's model and initial state."""
    rows = []
    for e in entries:
        row = {"file": e["file"], "format": e["format"], "model": e["model"]}
        if "initial_state" in e:
            row["initial"] = initial_state(e)
        rows.append(row)
    return rows


def _seconds(value: float | None, width: int) -> str:
    return f"{value:{width}.3f}" if value is not None else f"{'-':>{width}}"


# --------------------------------------------------------------------------- 1. oracle corpus


def initial_state(entry: dict) -> object:
    initial = entry["initial_state"]
    if isinstance(initial, dict):
        return {k.removeprefix(":"): v for k, v in initial.items()}
    return initial


def decided_entries() -> list[dict]:
    """The oracle's manifest without the files it gives no verdict for."""
    return [
        e for e in json.loads((ORACLE / "MANIFEST.json").read_text()) if e["expected"] != "unknown"
    ]


def bench_corpus(verbose: bool, porc: Porcupine, theirs_run: Run | None) -> str:
    """Section 1; returns the parse + check ratio of the files both sides checked."""
    manifest = json.loads((ORACLE / "MANIFEST.json").read_text())
    theirs = theirs_run.by_file() if theirs_run else {}
    print("== 1. oracle corpus: parse + check per file (seconds) ==")
    if verbose:
        print(
            f"{'file':58} {'ops':>5} {'parse':>8} {'check':>8} {'seam':>8} {'porcupine':>10} {'ratio':>12}  verdict"
        )
    total_parse = total_check = total_theirs = mine_matched = 0.0
    wrong = 0
    slowest: list[tuple[float, str, float | None]] = []
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
        v = theirs.get(entry["file"])
        theirs_s = v.parse_s + v.check_s if v else None
        porc.compare("1", entry["file"], result.valid, v)
        if theirs_s is not None:
            total_theirs += theirs_s
            mine_matched += mine
        total_parse += t1 - t0
        total_check += t2 - t1
        slowest.append((mine, entry["file"], theirs_s))
        if verbose:
            print(
                f"{entry['file']:58} {entry['ops']:5} {t1 - t0:8.4f} {t2 - t1:8.4f} {mine:8.4f} "
                f"{_seconds(theirs_s, 10)} {ratio(mine, theirs_s):>12}  {result.valid}"
            )
    wall = time.perf_counter() - started
    print("slowest files (seam parse+check vs porcupine parse+check):")
    for mine, name, theirs_s in sorted(slowest, key=lambda row: row[0], reverse=True)[:6]:
        print(f"  {name:58} {mine:8.4f} s  porcupine {_seconds(theirs_s, 8)} s")
    print(f"files: {len(slowest)}  wrong verdicts: {wrong}")
    print(f"seam total: {wall:.3f} s wall (parse {total_parse:.3f} s + check {total_check:.3f} s)")
    if theirs_run:
        parse = sum(v.parse_s for v in theirs_run.results)
        check = sum(v.check_s for v in theirs_run.results)
        print(
            f"porcupine total: {total_theirs:.3f} s (parse {parse:.3f} s + check {check:.3f} s, "
            f"{len(theirs_run.results)} files, fastest of {porc.repeat}; {porc.describe(theirs_run)})"
        )
    else:
        print(f"porcupine: {porc.describe(None)}")
    measured = ratio(mine_matched, total_theirs if theirs_run else None)
    print(f"ratio seam/porcupine, parse + check of the same files: {measured}")
    return measured


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
    manifest = decided_entries()
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


def bench_whole_process(repeat: int, porc: Porcupine, corpus_run: Run | None) -> dict[str, str]:
    """Section 2; returns the headline ratios (whole corpus, Knossos EDN files, one process).

    Each group runs ``repeat`` times on each side and counts its fastest run
    (wall and CPU apart): the machine is shared, and other load only ever
    adds time."""
    print(
        f"== 2. oracle corpus, whole process: one `seam check` and one Porcupine driver "
        f"process per group of files (best of {repeat}) =="
    )
    print(f"porcupine: {porc.describe(corpus_run)}")
    print(
        f"{'group':54} {'files':>5} {'seam wall':>9} {'seam cpu':>9} {'porc wall':>9} {'porc cpu':>9}"
        f" {'cpu ratio':>12} {'peak RSS':>9}  wrong"
    )
    total = {"wall": 0.0, "cpu": 0.0}
    theirs_total: dict[str, float] | None = {"wall": 0.0, "cpu": 0.0}
    edn_cpu, edn_theirs = 0.0, 0.0
    edn_measured = porc.driver is not None
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
        theirs = porc.best(driver_rows(entries), ORACLE)
        if theirs:
            by_file = theirs.by_file()
            for f in files:
                porc.compare("2", f, verdicts.get(f), by_file.get(f))
        total["wall"] += wall
        total["cpu"] += cpu
        if theirs_total is not None and theirs:
            theirs_total["wall"] += theirs.wall
            theirs_total["cpu"] += theirs.cpu
        else:
            theirs_total = None
        if label.startswith("knossos-edn/"):
            edn_cpu += cpu
            edn_theirs += theirs.cpu if theirs else 0.0
            edn_measured = edn_measured and theirs is not None
        total_wrong += wrong
        # ru_maxrss of the children so far: the largest process yet (KiB on Linux)
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(
            f"{label:54} {len(files):5} {wall:9.3f} {cpu:9.3f} {_seconds(theirs and theirs.wall, 9)}"
            f" {_seconds(theirs and theirs.cpu, 9)} {ratio(cpu, theirs and theirs.cpu):>12}"
            f" {rss:6.0f} MiB  {wrong}"
        )
    print(
        f"{'whole corpus':54} {'':5} {total['wall']:9.3f} {total['cpu']:9.3f} "
        f"{_seconds(theirs_total and theirs_total['wall'], 9)} "
        f"{_seconds(theirs_total and theirs_total['cpu'], 9)} "
        f"{ratio(total['cpu'], theirs_total and theirs_total['cpu']):>12}  {'':9} {total_wrong}"
    )
    by_wall = ratio(total["wall"], theirs_total and theirs_total["wall"])
    by_cpu = ratio(total["cpu"], theirs_total and theirs_total["cpu"])
    edn = ratio(edn_cpu, edn_theirs if edn_measured else None)
    print(
        f"ratio seam/porcupine, whole process: {by_wall} by wall time, {by_cpu} by CPU time "
        f"(wall counts other load on this machine); Knossos EDN files alone: {edn} by CPU time"
    )
    (one_wall, one_cpu), (fast_wall, fast_cpu) = bench_one_process(repeat, porc, corpus_run)
    return {
        "whole corpus per group, CPU seam/porcupine": by_cpu,
        "whole corpus per group, wall seam/porcupine": by_wall,
        "Knossos EDN files, CPU seam/porcupine": edn,
        "whole corpus in one process, CPU seam/porcupine": one_cpu,
        "whole corpus in one process, wall seam/porcupine": one_wall,
        "the same with --fail-fast, CPU seam/porcupine": fast_cpu,
        "the same with --fail-fast, wall seam/porcupine": fast_wall,
    }


#: ``seam check`` explains every failing key by default; Porcupine's CheckEvents
#: stops at the first illegal partition. The second row does the same work as
#: Porcupine, the first what a user gets by default.
ONE_PROCESS_ROWS = (
    ("whole corpus, one process (--manifest)", []),
    ("  the same with --fail-fast (stops as Porcupine does)", ["--fail-fast"]),
)


def bench_one_process(
    repeat: int,
    porc: Porcupine,
    theirs: Run | None,
    rows_to_run: tuple[tuple[str, list[str]], ...] = ONE_PROCESS_ROWS,
) -> list[tuple[str, str]]:
    """The whole corpus as one ``seam check --manifest`` process (each file its model and
    initial state from the oracle's manifest), by default and with ``--fail-fast``, next
    to one driver process on the same files (``theirs``); returns the (wall, CPU) ratios."""
    rows = []
    for e in decided_entries():
        row = {"file": str(ORACLE / e["file"]), "model": e["model"], "expected": e["expected"]}
        if "initial_state" in e:
            row["initial"] = initial_state(e)
        rows.append(row)
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        manifest = Path(tmp) / "corpus.json"
        manifest.write_text(json.dumps(rows))
        for label, extra in rows_to_run:
            args = ["check", *extra, "--manifest", str(manifest)]
            runs = [run_seam(args, ORACLE) for _ in range(repeat)]
            out.append(_one_process_row(label, rows, runs, porc, theirs))
    return out


def _one_process_row(
    label: str, rows: list[dict], runs: list, porc: Porcupine, theirs: Run | None
) -> tuple[str, str]:
    wall = min(r[1] for r in runs)
    cpu = min(r[2] for r in runs)
    verdicts = _verdicts(runs[0][0].stdout)
    wrong = sum(verdicts.get(r["file"]) != (r["expected"] == "linearizable") for r in rows)
    if theirs:
        by_file = theirs.by_file()
        for r in rows:
            name = str(Path(r["file"]).relative_to(ORACLE))
            porc.compare(f"2, {label.strip()}", name, verdicts.get(r["file"]), by_file.get(name))
    codes = {r[0].returncode for r in runs}
    print(
        f"{label:54} {len(rows):5} {wall:9.3f} {cpu:9.3f} "
        f"{_seconds(theirs and theirs.wall, 9)} {_seconds(theirs and theirs.cpu, 9)} "
        f"{ratio(cpu, theirs and theirs.cpu):>12}  {'':9} {wrong}  (exit {', '.join(map(str, codes))}: "
        f"0 = every file gave its expected verdict)"
    )
    return ratio(wall, theirs and theirs.wall), ratio(cpu, theirs and theirs.cpu)


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
    row: dict,
    porc: Porcupine,
    repeat: int = 1,
) -> str:
    """Generate a history, then check it ``repeat`` times with a whole ``seam check``
    process and with a whole driver process (``row``: the driver's format, model
    and independent flag). Returns the headline: Seam's fastest wall over
    Porcupine's, with both sides' seconds and peak PSS."""
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
        theirs = porc.best([{**row, "file": str(path)}], Path(tmp), max(1, repeat), memory=True)
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
    spread = f"fastest of {len(walls)} (median {median:.2f} s), " if len(walls) > 1 else ""
    print(f"seam whole process: {fastest:.2f} s wall, {spread}{cpu:.2f} s CPU (with workers)")
    print(
        f"seam peak memory: {peak:.0f} MiB PSS (process + workers, sampled), "
        f"largest process peak RSS {rss:.0f} MiB (sampled)"
    )
    verdict = theirs.results[0] if theirs and theirs.results else None
    porc.compare(title.split(".")[0], "history.jsonl", _verdicts(stdout).get(str(path)), verdict)
    if theirs is None or verdict is None:
        print(f"porcupine: {porc.describe(None)}")
        print(f"seam/porcupine: {NOT_MEASURED}")
        return f"{NOT_MEASURED} (seam {fastest:.1f} s fastest of {len(walls)}; peak {peak:.0f} MiB PSS)"
    finished = verdict.verdict != "unknown"  # else its seconds are a lower bound
    print(
        f"porcupine whole process: {theirs.wall:.2f} s wall, fastest of {max(1, repeat)}, "
        f"{theirs.cpu:.2f} s CPU (parse {verdict.parse_s:.2f} s + check {verdict.check_s:.2f} s), "
        f"{verdict.verdict}{': ' + verdict.error if verdict.error else ''}; "
        f"peak {theirs.peak_mib:.0f} MiB PSS; {porc.describe(theirs)}"
    )
    by_wall = ratio(fastest, theirs.wall, finished=finished)
    print(
        f"seam/porcupine: {by_wall} by wall time, {ratio(cpu, theirs.cpu, finished=finished)} by CPU time"
    )
    return (
        f"{by_wall} (seam {fastest:.1f} s fastest of {len(walls)}, median {median:.1f} s, "
        f"vs Porcupine {theirs.wall:.1f} s; peak {peak:.0f} vs {theirs.peak_mib:.0f} MiB PSS)"
    )


def _check_process(
    path: Path, options: list[str]
) -> tuple[float, float, float, int, str, str, float]:
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
        help="runs of each section 2 group and of shapes 3a and 3b, on each side (the fastest "
        "counts; wall times on a shared machine vary by a fifth)",
    )
    parser.add_argument(
        "--porcupine-src",
        metavar="DIR",
        help="a clone of github.com/anishathalye/porcupine to build the driver against "
        "(default: $PORCUPINE_SRC; without it Porcupine is not measured)",
    )
    parser.add_argument(
        "--porcupine-driver", metavar="BINARY", help="a driver built before (skips the Go build)"
    )
    parser.add_argument(
        "--porcupine-timeout",
        type=float,
        default=60.0,
        metavar="S",
        help="the driver gives up on a file after S seconds (verdict unknown)",
    )
    parser.add_argument(
        "--porcupine-max-heap",
        type=int,
        default=4096,
        metavar="MIB",
        help="the driver gives up (verdict unknown) once Go's heap passes MIB; 0 = never",
    )
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    driver, how = locate(
        args.porcupine_src, args.porcupine_driver, args.porcupine_timeout, args.porcupine_max_heap
    )
    print(f"porcupine: {how}" if driver else f"porcupine: {NOT_MEASURED}: {how}")
    porc = Porcupine(driver, how, args.repeat)
    headline: dict[str, str] = {}
    if not args.only or args.corpus_only or args.only == "a,b,c,d":
        corpus_run = porc.best(driver_rows(decided_entries()), ORACLE)
        headline["corpus parse + check, seam/porcupine"] = bench_corpus(
            args.verbose, porc, corpus_run
        )
        headline.update(bench_whole_process(args.repeat, porc, corpus_run))
    if not args.corpus_only:
        for name in args.only.split(","):
            title, make, options, row = generated_shapes(args.quick)[name.strip()]
            big = name.strip() in ("a", "b")
            headline[f"{title.split('.')[0]} wall seam/porcupine"] = bench_generated(
                title, make, options, row, porc, args.repeat if big else 1
            )
    _print_headline(headline, porc)


Shape = tuple[str, Callable[[Path], dict[str, int]], list[str], dict]


def generated_shapes(quick: bool) -> dict[str, Shape]:
    """Section 3's histories: title, generator, ``seam check`` options, and the driver's row."""
    scale = 10 if quick else 1
    m = 1_000_000 // scale
    keys = 1000 // scale
    register = ["--model", "cas-register", "--independent", "-j", "2"]
    per_key = {"format": "jsonl", "model": "cas-register", "independent": True}
    return {
        "a": (
            f"3a. {m:,}-op cas-register, {keys} keys x 5 processes, values 0-4, 5% crashed",
            lambda p: simulate(
                p, ops=m, keys=keys, procs_per_key=5, crash_rate=0.05, seed=1, independent=True
            ),
            register,
            per_key,
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
            register,
            per_key,
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
            {"format": "jsonl", "model": "cas-register"},
        ),
        "d": (
            f"3d. kv, {100_000 // scale:,} ops, {keys} keys x 5 processes, 20% crashed appends",
            lambda p: simulate_kv(
                p, ops=100_000 // scale, keys=keys, procs_per_key=5, crash_rate=0.2, seed=4
            ),
            ["--model", "kv", "-j", "2"],
            {"format": "jsonl", "model": "kv"},
        ),
    }


def _print_headline(headline: dict[str, str], porc: Porcupine) -> None:
    """The figures issue 12 sets targets for (<= 1.0x Porcupine), and every file
    where the two checkers disagree, in one place."""
    print("== headline ==")
    for name, value in headline.items():
        print(f"{name:48} {value}")
    if porc.driver is None:
        print(f"{'porcupine':48} {NOT_MEASURED}: {porc.how}")
        return
    print(f"{'verdict disagreements (seam vs porcupine)':48} {len(porc.disagreements)}")
    for line in porc.disagreements:
        print(f"  DISAGREE {line}")
    if porc.errors:
        print(f"{'files the porcupine driver could not check':48} {len(porc.errors)}")
        for line in porc.errors:
            print(f"  ERROR {line}")


if __name__ == "__main__":
    main()
