"""`seam check`: is a history (or a stored run) linearizable, and if not, why.

Imports stay inside the command: checking many small files must not pay
for networkx, jinja2 or matplotlib, which load only when a failure has to
be explained or ``--out`` asks for files. Bad input (an unreadable file, a
FIFO, a value of the wrong shape or no checker can compare, an unknown
model) is one line on stderr, ``seam: FILE:LINE: problem``, and exit 3; the
other files are still checked. Options are checked before any file: an
``--out`` that cannot be written fails before a verdict is printed. ``-``
reads a history from stdin. A large plain JSONL file is first read and
searched by all cores at once, without building ops (``_bulk_proves``); only
a history that is not linearizable, or not plain, is then read again the
ordinary way, to be explained or to name its bad line.
"""

from __future__ import annotations

import gc
import json
import math
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from harness.core.stored import stored_test

#: Same as ``harness.formats.FORMATS`` (a test keeps them equal); spelled out
#: here so that ``seam check --help`` does not import the readers.
FORMATS = ("auto", "jsonl", "edn", "porcupine-etcd", "porcupine-kv")

#: The model used when ``--model`` is not given, by detected format.
DEFAULT_MODELS = {
    "jsonl": "cas-register",
    "edn": "cas-register",
    "porcupine-etcd": "etcd-register",
    "porcupine-kv": "kv",
}

#: Models checked by the transactional checker (``checkers.txn``), not by linearizability.
TXN_MODELS = ("list-append", "rw-register")

EXIT_VALID, EXIT_INVALID, EXIT_UNKNOWN, EXIT_FAILED = 0, 1, 2, 3
#: How many anomalies a file's output explains in full.
SHOWN = 10
#: The FILE argument that means stdin.
STDIN = "-"
#: A JSONL history this large is read and searched by every core at once
#: (``_bulk_proves``); smaller ones do not repay the worker processes.
BULK_BYTES = 16 << 20


@dataclass
class Options:
    model: str | None
    independent: bool
    fmt: str
    initial: Any
    has_initial: bool
    timeout: float | None
    jobs: int | None
    out: Path | None
    verbose: bool
    several: bool
    used_names: set[str] = field(default_factory=set)
    txn: Any = None  # checkers.txn.TxnOptions for --model list-append|rw-register
    fail_fast: bool = False  # stop at the first key that is not linearizable


@dataclass
class Outcome:
    code: int
    written: list[str] = field(default_factory=list)


@click.command(
    "check",
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="""\b
Examples:
  seam check history.jsonl                       # cas-register, initial null
  seam check results/latest                      # a stored run; writes results there
  seam check h.jsonl --model register --independent --timeout 10
  seam check etcd_*.log                          # Porcupine etcd logs: etcd-register
  seam check c50-bad.txt --format porcupine-kv   # kv map, checked key by key
  seam check bad.edn --model cas-register --initial 0 --out /tmp/why
  seam check --manifest corpus.json              # each file its own model and expected verdict
  seam check txns.edn --model list-append --consistency-model serializable
  seam check regs.jsonl --model rw-register --linearizable-keys --anomalies G1,G2
\b
Exit codes: 0 linearizable, 1 NOT linearizable, 2 unknown (a key ran out of
time or memory), 3 bad input. Over several files: any bad input gives 3,
else any failure 1, else any unknown 2, else 0. With --manifest entries that
say "expected": 0 when every file gives it, 1 when one does not, 3 bad input.""",
)
@click.argument("files", nargs=-1, metavar="FILE|RUN_DIR...")
@click.option(
    "--model",
    "-m",
    default=None,
    metavar="M",
    help="register, cas-register, multi-register, mutex, kv or etcd-register, or a model of your "
    "own by module path (mykv.models:Counter, on PYTHONPATH); list-append or rw-register for "
    "transactions (docs/txn.md). Default: by format (cas-register for jsonl/edn, etcd-register "
    "for porcupine-etcd, kv for porcupine-kv).",
)
@click.option(
    "--consistency-model",
    "consistency_models",
    multiple=True,
    metavar="M",
    help="Transactions: a model the history must satisfy (repeatable; Elle's names, e.g. "
    "serializable, snapshot-isolation, strict-serializable). Default: strict-serializable, "
    "or none when --anomalies is given.",
)
@click.option(
    "--anomalies",
    default=None,
    metavar="A,B",
    help="Transactions: anomalies that must not occur, widened as Elle does (G1 also means G0).",
)
@click.option("--linearizable-keys", is_flag=True, help="rw-register: each key is linearizable (real-time order orders versions).")
@click.option("--sequential-keys", is_flag=True, help="rw-register: each key is sequential (process order orders versions).")
@click.option("--wfr-keys", is_flag=True, help="rw-register: within a transaction, writes follow reads.")
@click.option(
    "--independent", is_flag=True, help="Values are [key, value]; check each key on its own."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="auto",
    show_default=True,
    help="History format; auto picks by content.",
)
@click.option(
    "--initial",
    default=None,
    metavar="JSON",
    help="Initial model state as JSON, e.g. 0 or '{\"x\": 0}'. Default: the model's own.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="S",
    help="Seconds per key before it is unknown. Default: no limit.",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Worker processes for keys. Default: the core count.",
)
@click.option(
    "--out",
    "-o",
    type=click.Path(file_okay=False),
    default=None,
    metavar="DIR",
    help="Write results.json, linear.html, PNGs and anomalies/<n>.jsonl here.",
)
@click.option("--fail-fast", is_flag=True,
              help="Stop at the first key that is not linearizable (the other keys are then unknown). "
                   "Default: every key is checked, so the verdict counts every failing key.")
@click.option("--verbose", "-v", is_flag=True, help="A verdict line per key too.")
@click.option(
    "--manifest",
    type=click.Path(dir_okay=False),
    default=None,
    metavar="FILE",
    help="Check the histories a JSON manifest lists, each with its own model, initial state "
    "and expected verdict (README, \"Checking histories\"); instead of FILE arguments.",
)
@click.pass_context
def check(
    ctx: click.Context,
    files: tuple[str, ...],
    model: str | None,
    independent: bool,
    fmt: str,
    initial: str | None,
    timeout: float | None,
    jobs: int | None,
    out: str | None,
    fail_fast: bool,
    verbose: bool,
    manifest: str | None,
    consistency_models: tuple[str, ...],
    anomalies: str | None,
    linearizable_keys: bool,
    sequential_keys: bool,
    wfr_keys: bool,
) -> None:
    """Check histories for linearizability and explain every failure.

    FILE is a history (Seam JSONL, Jepsen EDN, Porcupine etcd or kv log), a
    stored run directory (one holding history.jsonl), or - for stdin. For each failure it
    prints a short proof and, with --out, writes the timeline and a shrunk
    failing sub-history that replays as a regression case.
    """
    from harness.core.errors import InputError, SeamError

    try:
        _files_or_manifest(files, manifest, model, initial, independent, fmt)
        txn = _txn_options(model, consistency_models, anomalies, linearizable_keys,
                           sequential_keys, wfr_keys)
        if model is not None and txn is None:
            from checkers.linearizable.models import get_model

            get_model(model)  # unknown model: fail before reading anything
        parsed = _parse_initial(initial)
        _finite_timeout(timeout)
        if out:
            _writable(Path(out))
    except SeamError as e:
        _bad(str(e))
        ctx.exit(EXIT_FAILED)
    opts = Options(
        model,
        independent,
        fmt,
        parsed,
        initial is not None,
        timeout,
        jobs,
        Path(out) if out else None,
        verbose,
        len(files) > 1 or manifest is not None,
        txn=txn,
        fail_fast=fail_fast,
    )
    if manifest is not None:
        ctx.exit(_check_manifest(Path(manifest), opts))
    codes = []
    for name in files:
        try:
            codes.append(_check_file(Path(name), name, opts).code)
        except InputError as e:
            _bad(str(e))
            codes.append(EXIT_FAILED)
    ctx.exit(worst(codes))


def _files_or_manifest(
    files: tuple[str, ...], manifest: str | None, model: str | None, initial: str | None,
    independent: bool, fmt: str,
) -> None:
    """FILE arguments or --manifest, and with a manifest no option its entries set."""
    from harness.core.errors import InputError

    if manifest is None:
        if not files:
            raise InputError("name a history file, a run directory or - (stdin), or --manifest FILE")
        return
    if files:
        raise InputError("give FILE arguments or --manifest, not both")
    given = [name for name, value in (("--model", model), ("--initial", initial),
                                      ("--independent", independent or None),
                                      ("--format", None if fmt == "auto" else fmt))
             if value is not None]
    if given:
        raise InputError(f"{given[0]} with --manifest: set it per file in the manifest instead")


def _txn_options(
    model: str | None, consistency_models: tuple[str, ...], anomalies: str | None,
    linearizable_keys: bool, sequential_keys: bool, wfr_keys: bool,
) -> Any:
    """TxnOptions for --model list-append|rw-register; None for other models, and an
    InputError for transaction flags given without one."""
    from harness.core.errors import InputError

    flags = {"--consistency-model": consistency_models, "--anomalies": anomalies,
             "--linearizable-keys": linearizable_keys, "--sequential-keys": sequential_keys,
             "--wfr-keys": wfr_keys}
    if model not in TXN_MODELS:
        given = [name for name, value in flags.items() if value]
        if given:
            raise InputError(f"{given[0]} applies to transactions: add --model list-append or rw-register")
        return None
    from checkers.txn import TxnOptions

    wanted = tuple(a.strip() for a in (anomalies or "").split(",") if a.strip())
    models: tuple[str, ...] | None = consistency_models or (None if wanted else ("strict-serializable",))
    try:
        return TxnOptions(workload=model, consistency_models=models, anomalies=wanted,
                          linearizable_keys=linearizable_keys, sequential_keys=sequential_keys,
                          wfr_keys=wfr_keys)
    except ValueError as e:
        raise InputError(f"--consistency-model: {e}") from None


def _check_manifest(path: Path, opts: Options) -> int:
    """Every entry checked with its own options; with expectations, the exit code says
    whether each file gave its expected verdict (``harness.formats.manifest``)."""
    from dataclasses import replace

    from harness.core.errors import InputError
    from harness.formats.manifest import EXPECTED, read_manifest

    try:
        entries = read_manifest(path)
        for e in entries:
            if e.model is not None:
                from checkers.linearizable.models import get_model

                get_model(e.model)
    except InputError as bad_manifest:
        _bad(str(bad_manifest))
        return EXIT_FAILED
    codes: list[int] = []
    differ: list[str] = []
    for e in entries:
        entry_opts = replace(opts, model=e.model, initial=e.initial, has_initial=e.has_initial,
                             independent=e.independent, fmt=e.fmt)
        try:
            code = _check_file(e.path, e.name, entry_opts).code
        except InputError as err:
            _bad(str(err))
            code = EXIT_FAILED
        codes.append(code)
        if e.expected is not None and code != EXIT_FAILED and code != EXPECTED[e.expected]:
            differ.append(e.name)
            click.echo(f"  {click.style('expected ' + e.expected, fg='red', bold=True)}: "
                       "this file does not give its expected verdict")
    judged = [e for e in entries if e.expected is not None]
    if not judged:
        return worst(codes)
    failed = codes.count(EXIT_FAILED)
    shown = ", ".join(differ[:10]) + (f" and {len(differ) - 10} more" if len(differ) > 10 else "")
    click.echo(
        f"{path}: {len(judged)} of {len(entries)} files have an expected verdict; "
        + (f"{len(differ)} do not give it: {shown}" if differ
           else "every one checked gives it" if failed else "every one gives it")
        + (f"; {failed} could not be checked (bad input, above)" if failed else "")
    )
    if EXIT_FAILED in codes:
        return EXIT_FAILED
    return EXIT_INVALID if differ else EXIT_VALID


def worst(codes: list[int]) -> int:
    """Any bad input -> 3, else any invalid -> 1, else any unknown -> 2, else 0."""
    for code in (EXIT_FAILED, EXIT_INVALID, EXIT_UNKNOWN):
        if code in codes:
            return code
    return EXIT_VALID


def _bad(message: str) -> None:
    click.echo(f"seam: {message}", err=True)


def _finite_timeout(value: float | None) -> float | None:
    """NaN passes FloatRange (every comparison with it is false) and would never time out."""
    if value is not None and not math.isfinite(value):
        from harness.core.errors import InputError

        raise InputError(f"--timeout {value}: not a number of seconds; leave it out for no limit")
    return value


def _parse_initial(text: str | None) -> Any:
    if text is None:
        return None
    from harness.core.errors import InputError
    from harness.formats.values import loads

    shown = text if len(text) <= 40 else text[:37] + "..."
    try:
        return loads(text)
    except json.JSONDecodeError as e:
        raise InputError(
            f"--initial must be JSON (e.g. 0, null, '\"\"', '{{\"x\": 0}}'): {e.msg} in {shown!r}"
        ) from None
    except ValueError as e:  # NaN, Infinity, a huge integer, deep nesting
        raise InputError(f"--initial {shown!r}: {e}") from None


def _writable(out: Path) -> None:
    """Fail before checking if ``--out`` cannot hold files (not after printing a verdict)."""
    import tempfile

    from harness.core.errors import InputError

    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as e:
        raise InputError(
            f"--out {out}: cannot write there ({e.strerror or e}); name a writable directory"
        ) from None


def _resolve(path: Path, name: str) -> tuple[Path, Path | None, dict[str, Any]]:
    """(history file, run directory or None, the run's test.json or {})."""
    from harness.core.errors import HistoryError

    if path.is_dir():
        history = path / "history.jsonl"
        if not history.is_file():
            raise HistoryError(
                "a directory, but not a stored run (it has no history.jsonl)", source=name
            )
        test: dict[str, Any] = {}
        try:
            loaded = json.loads((path / "test.json").read_text(encoding="utf-8"))
            test = loaded if isinstance(loaded, dict) else {}
        except (OSError, ValueError):
            pass
        return history, path, test
    try:
        path.stat()
    except FileNotFoundError:
        raise HistoryError("no such file or directory", source=name) from None
    except OSError as e:  # e.g. a directory on the way that we may not enter
        raise HistoryError(f"cannot read the history: {e.strerror or e}", source=name) from None
    from harness.formats import open_regular

    open_regular(path, name).close()  # unreadable, a FIFO or a device: say so now, never block
    return path, None, {}


def _detect(path: Path, fmt: str, text: str | None = None) -> str:
    """The concrete format, from the head of the file or from ``text`` (stdin)."""
    if fmt != "auto":
        return fmt
    from harness.formats import detect, read_head

    head = read_head(path) if text is None else text[: 1 << 16]
    return str(detect(head, source=str(path)))


def _read_stdin() -> str:
    """All of stdin as text; bad UTF-8 is named with its line, like a file's."""
    from harness.formats import read_data

    data = sys.stdin.buffer.read()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        read_data(data, source="<stdin>")  # raises with the line
        raise


def _check_text(text: str, opts: Options) -> tuple[Any, Any, str, float]:
    """(result, history, how, seconds) for a history read from stdin."""
    from harness.formats import read_text

    checker, fmt, how = _checker(Path("<stdin>"), {}, opts, text)
    t0 = time.perf_counter()
    history = read_text(text, fmt, source="<stdin>", lenient=opts.txn is not None)
    result = checker.check(None, history, None)
    return result, history, how, time.perf_counter() - t0


def _checker(
    history_path: Path, test: dict[str, Any], opts: Options, text: str | None = None
) -> tuple[Any, str, str]:
    """(composed checker, format to read, how it was chosen) for one file.

    A stored run re-runs its workload's own checkers (``--model`` overrides
    that with a single linearizability check); a plain file gets the model
    named by ``--model`` or the default for its format.
    """
    from checkers.compose import compose

    if opts.txn is not None:
        from checkers.txn import TxnChecker

        fmt = _detect(history_path, opts.fmt, text)
        wanted = ", ".join(opts.txn.consistency_models or opts.txn.anomalies)
        return compose({"txn": TxnChecker(opts.txn)}), fmt, f"{opts.model}, {wanted}"

    from checkers.linearizable.checker import LinearizableChecker
    from checkers.linearizable.models import get_model

    if opts.model is None and test.get("workload"):
        from harness.assemble.stored import checker_for_run

        checker = checker_for_run(test, history_path.parent / "test.json")
        _override(checker, opts)
        return checker, "jsonl", f"checkers of workload {test['workload']}"
    fmt = opts.fmt if opts.model else _detect(history_path, opts.fmt, text)
    name = opts.model or DEFAULT_MODELS.get(fmt, "cas-register")
    model = get_model(name, opts.initial) if opts.has_initial else get_model(name)
    how = f"model {model.name}" + ("" if opts.model else f", default for {fmt}")
    linear = LinearizableChecker(
        model, independent=opts.independent, timeout=opts.timeout, jobs=opts.jobs, fail_fast=opts.fail_fast
    )
    return compose({"linearizable": linear}), fmt, how


def _override(checker: Any, opts: Options) -> None:
    """Apply --timeout and --jobs to the linearizability checkers of a workload."""
    from checkers.linearizable.checker import LinearizableChecker

    for c in getattr(checker, "checkers", {}).values():
        if isinstance(c, LinearizableChecker):
            c.timeout = opts.timeout if opts.timeout is not None else c.timeout
            c.jobs = opts.jobs if opts.jobs is not None else c.jobs
            c.fail_fast = c.fail_fast or opts.fail_fast
            c.independent = c.independent or opts.independent


def _check_file(path: Path, name: str, opts: Options) -> Outcome:
    with _cycle_collector_paused():
        # The history lives in _check_one's frame only, so it is freed (by
        # reference counting) before the collector runs again.
        return _check_one(path, name, opts)


@contextmanager
def _cycle_collector_paused() -> Iterator[None]:
    """Reading and checking a history with Python's cyclic garbage collector off.

    A history is millions of small objects with no cycles among them,
    freed by reference counting when the file is done. With the collector
    on, every few thousand allocations made while they are alive (the
    calls, the search tables, the explanations) start a collection that
    walks them all again: on a 1,000,000-op history, seconds of the
    check. What garbage with cycles one file leaves (matplotlib figures
    for ``--out``) is collected once the collector is back on.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def _check_one(path: Path, name: str, opts: Options) -> Outcome:
    if name == STDIN:
        history_path, run_dir = Path("stdin"), None
        result, history, how, seconds = _check_text(_read_stdin(), opts)
        name = "<stdin>"
    else:
        history_path, run_dir, test = _resolve(path, name)
        t0 = time.perf_counter()
        if run_dir is None and opts.fmt in ("auto", "jsonl") and _is_case(history_path):
            result, history, how = _check_case(history_path, opts)  # a regression case
        elif _bulk_proves(history_path, name, run_dir, opts):
            return Outcome(code=EXIT_VALID)
        else:
            from harness.formats import load

            checker, fmt, how = _checker(history_path, test, opts)
            t0 = time.perf_counter()
            history = load(str(history_path), fmt, lenient=opts.txn is not None)
            result = checker.check(stored_test(run_dir), history, run_dir)
        seconds = time.perf_counter() - t0

    linear = result.stats.get("linearizable", {})
    verdict = _verdict(result, opts.timeout)
    color = "green" if result.valid is True else "red" if result.valid is False else "yellow"
    click.echo(
        f"{name}: {click.style(verdict, fg=color, bold=True)} "
        f"({len(history)} ops, {seconds:.3g} s, {how}{_keys(linear.get('stats', {}))})"
    )
    if opts.verbose:
        for key, row in linear.get("stats", {}).get("per_key", {}).items():
            v = {True: "linearizable", False: "NOT linearizable"}.get(row["valid"])
            v = v or f"unknown ({row.get('reason')})"
            click.echo(
                f"  key {key}: {v}, {row['calls']} calls, {row['seconds']:.3g} s, "
                f"{row['explored']} configurations"
            )
    for a in result.anomalies[:SHOWN]:
        click.echo(_indent(a.details.get("narrative") or f"{a.kind}: {a.summary}"))
    if len(result.anomalies) > SHOWN:
        click.echo(
            f"  ... and {len(result.anomalies) - SHOWN} more anomalies (all in results.json with --out)"
        )

    outcome = Outcome(code=_code(result.valid))
    out_dir = _out_dir(opts, run_dir, history_path)
    if out_dir is not None:
        rerun = run_dir is not None and out_dir == run_dir
        try:
            outcome.written = write_results(out_dir, result, history, rerun=rerun)
        except OSError as e:
            from harness.core.errors import InputError

            raise InputError(
                f"{name}: cannot write results in {out_dir}: {e.strerror or e}"
            ) from None
        click.echo(f"  wrote {', '.join(outcome.written)} in {out_dir}")
    return outcome


def _bulk_proves(path: Path, name: str, run_dir: Path | None, opts: Options) -> bool:
    """A large plain JSONL file proven linearizable by every core at once
    (``checkers.linearizable.bulk``): print its verdict and say True. Anything
    else (a failure to explain, bad input to name, files to write) is False,
    and the file is checked the ordinary way."""
    if run_dir is not None or opts.out is not None or opts.fmt not in ("auto", "jsonl"):
        return False
    if opts.txn is not None:
        return False
    try:
        if path.stat().st_size < BULK_BYTES or _detect(path, opts.fmt) != "jsonl":
            return False
    except OSError:
        return False
    from checkers.linearizable.bulk import check_file
    from checkers.linearizable.models import get_model

    model_name = opts.model or DEFAULT_MODELS["jsonl"]
    model = get_model(model_name, opts.initial) if opts.has_initial else get_model(model_name)
    proven = check_file(
        str(path), model, independent=opts.independent, timeout=opts.timeout, jobs=opts.jobs
    )
    if proven is None:
        return False
    how = f"model {model.name}" + ("" if opts.model else ", default for jsonl")
    n = len(proven.keys)
    counts = {"keys": n, "keys_valid": n, "keys_invalid": 0, "keys_unknown": 0}
    click.echo(
        f"{name}: {click.style('linearizable', fg='green', bold=True)} "
        f"({proven.ops} ops, {proven.seconds:.3g} s, {how}{_keys(counts)})"
    )
    if opts.verbose:
        for row in proven.keys:
            click.echo(
                f"  key {row['key']}: linearizable, {row['calls']} calls, {row['seconds']:.3g} s, "
                f"{row['explored']} configurations"
            )
    return True


def _is_case(path: Path) -> bool:
    """A regression case? Its header line names ``seam_case``; a file whose head
    does not is not one, and the case reader is not loaded for it."""
    try:
        with open(path, "rb") as fh:
            if b"seam_case" not in fh.read(1 << 16):
                return False
    except OSError:
        return False
    from harness.formats.case import is_case

    return is_case(path)


def _check_case(path: Path, opts: Options) -> tuple[Any, Any, str]:
    """A regression case, re-checked as its header says; --model, --initial and
    --independent override the header (``harness.regress.replay``)."""
    from harness.regress.replay import TIMEOUT, recheck

    extra = {"initial": opts.initial} if opts.has_initial else {}
    got = recheck(
        path,
        model=opts.model,
        independent=opts.independent or None,
        timeout=opts.timeout or TIMEOUT,
        jobs=opts.jobs,
        **extra,
    )
    h = got.header
    how = (
        f"case: {h.checker}"
        + (f", model {h.model}" if h.model else "")
        + f", expects {h.verdict}"
        + (f" with {h.fingerprint}" if h.found else "")
    )
    return got.result, got.case.history, how


def _code(valid: Any) -> int:
    return EXIT_VALID if valid is True else EXIT_INVALID if valid is False else EXIT_UNKNOWN


def _verdict(result: Any, timeout: float | None) -> str:
    """ "linearizable", "NOT linearizable" or "unknown (why)"; "valid"/"INVALID" for a
    workload whose checkers are not only linearizability."""
    only_linear = set(result.stats) <= {"linearizable"}
    if result.valid is True:
        return "linearizable" if only_linear else "valid"
    if result.valid is False:
        return "NOT linearizable" if only_linear else "INVALID"
    reasons: list[str] = []
    for name, r in result.stats.items():
        found = [u.get("reason") for u in r.get("stats", {}).get("unknown", [])]
        if r.get("error"):
            found.append(f"{name}: {r['error']}")
        for why in found:
            why = why or "gave up"
            why = f"timeout after {timeout:g} s" if why.startswith("timeout") and timeout else why
            if why not in reasons:
                reasons.append(why)
    shown = "; ".join(reasons[:3]) + ("; ..." if len(reasons) > 3 else "")
    return f"unknown ({shown or 'gave up'})"


def _keys(stats: dict[str, Any]) -> str:
    """ ", 1000 keys: 998 ok, 1 failed, 1 unknown" when the history was split by key."""
    if stats.get("keys", 1) <= 1:
        return ""
    text = f", {stats['keys']} keys: {stats['keys_valid']} ok, {stats['keys_invalid']} failed"
    return text + (f", {stats['keys_unknown']} unknown" if stats["keys_unknown"] else "")


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def _out_dir(opts: Options, run_dir: Path | None, history_path: Path) -> Path | None:
    if opts.out is None:
        return run_dir
    if not opts.several:
        return opts.out
    return opts.out / _unique_name(opts.used_names, history_path)


def _unique_name(used: set[str], history_path: Path) -> str:
    """One sub-directory per checked file, named after it (etcd_001, etcd_001-2, ...)."""
    stem = history_path.parent.name if history_path.name == "history.jsonl" else history_path.stem
    name, n = stem, 1
    while name in used:
        n += 1
        name = f"{stem}-{n}"
    used.add(name)
    return name


def write_results(out_dir: Path, result: Any, history: Any, *, rerun: bool = False) -> list[str]:
    """results.json (DESIGN section 5), anomalies/ and, for failures, linear.html and
    linear-<n>.png, through the one writer a run uses too
    (``harness.assemble.stored.write_check``); a re-check of a stored run in place
    also renders its report again. Returns the files written, relative to ``out_dir``.
    """
    from harness.assemble.stored import write_check

    return write_check(out_dir, result, history, stored_run=rerun)
