"""A nightly plan: a TOML file (``docs/nightly.toml`` is the documented example).

Top level: ``budget`` (wall clock for the night: ``90m``, ``6h`` or seconds),
optional ``results``, ``grace``, ``overhead``, a ``[defaults]`` table of
``seam test`` options every test gets, and one ``[[test]]`` table per test:
``name``, ``count`` (runs of it), ``nemesis`` (the mix: a list of fault sets,
each ``"partition,pause"`` or ``""`` for none; each run takes one, least
tried first), ``nemesis-opt`` and any other ``seam test`` option by its long
name (``workload``, ``target``, ``time-limit``, ``scenario``, ``bug``, ...).
A key has one name: ``bug = ["weak-quorum"]``, as ``seam test --bug``; the
summary shows what each run really had, from its test.json.

Options are checked against ``seam test``'s own, handed in by the command, so
a typo is one line naming the file and the test before anything runs.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.core.errors import ConfigError

#: Options the night sets for every run itself.
RESERVED = ("seed", "results", "no-progress", "test-count", "replay", "demo", "junit", "name")
#: Keys of a [[test]] table that are the night's, not `seam test` options.
OWN_KEYS = ("name", "count", "nemesis", "bug", "nemesis-opt")
#: Keys people write for another one: refused with the right name.
ALIASES = {"bugs": "bug", "nemesis-opts": "nemesis-opt", "faults": "nemesis"}
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h)?$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, None: 1}


@dataclass
class OptionKind:
    """How ``seam test`` takes an option: a flag, a repeatable value, or one value."""

    flag: bool = False
    multiple: bool = False


@dataclass
class PlannedTest:
    """One [[test]] table. ``mix`` is the list of fault sets (each a sorted comma
    list, "" for none); ``options`` the other ``seam test`` options by long name."""

    name: str
    workload: str
    count: int
    mix: list[str]
    bugs: list[str]
    time_limit: float
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Plan:
    budget: float
    tests: list[PlannedTest]
    results: str = "results"
    #: seconds a run may go on after the budget ends (it was told to stop) before it is killed
    grace: float = 120.0
    #: first guess of a run's setup, check and teardown beyond its time limit, in seconds
    overhead: float = 45.0
    source: str = ""


def parse_duration(value: Any, where: str, *, zero: bool = False) -> float:
    """``90m``, ``6h``, ``45s`` or a number of seconds (0 only where ``zero`` allows it)."""
    if zero and value == 0 and not isinstance(value, bool):
        return 0.0
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    m = _DURATION.match(str(value).strip()) if isinstance(value, str) else None
    if not m or float(m.group(1)) <= 0:
        raise ConfigError(f"{where} = {value!r}: give a duration such as 90m, 6h, 300s or 300")
    return float(m.group(1)) * _SECONDS[m.group(2)]


def load_plan(path: Path, known: dict[str, OptionKind]) -> Plan:
    """Read and check a plan file; ``known`` is ``seam test``'s options by long name."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the plan: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    return parse_plan(data, known, source=str(path))


def parse_plan(data: dict[str, Any], known: dict[str, OptionKind], *, source: str = "<plan>") -> Plan:
    unknown = set(data) - {"budget", "results", "grace", "overhead", "defaults", "test"}
    if unknown:
        raise ConfigError(f"{source}: unknown top-level keys {', '.join(sorted(unknown))}; "
                          "expected budget, results, grace, overhead, [defaults], [[test]]")
    if "budget" not in data:
        raise ConfigError(f"{source}: no budget; add e.g. budget = \"6h\" (the night's wall clock)")
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise ConfigError(f"{source}: [defaults] must be a table of seam test options")
    _check_options(defaults, known, f"{source}: [defaults]")
    tables = data.get("test") or []
    if not isinstance(tables, list) or not tables:
        raise ConfigError(f"{source}: no [[test]] tables; each names a workload, its faults and a count")
    tests = [_test(t, defaults, known, f"{source}: [[test]] #{i}") for i, t in enumerate(tables, start=1)]
    names = [t.name for t in tests]
    if len(set(names)) != len(names):
        raise ConfigError(f"{source}: two [[test]] tables share a name ({', '.join(names)}); name each apart")
    return Plan(budget=parse_duration(data["budget"], f"{source}: budget"), tests=tests,
                results=str(data.get("results") or "results"),
                grace=parse_duration(data.get("grace", 120), f"{source}: grace"),
                overhead=parse_duration(data.get("overhead", 45), f"{source}: overhead", zero=True), source=source)


def _test(table: Any, defaults: dict[str, Any], known: dict[str, OptionKind], where: str) -> PlannedTest:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: must be a table")
    options = {k: v for k, v in {**defaults, **table}.items() if k not in OWN_KEYS}
    _check_options({k: v for k, v in table.items() if k not in OWN_KEYS}, known, where)
    workload = str(options.get("workload") or "register")
    where = f"{where} ({table.get('name') or workload})"
    count = table.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ConfigError(f"{where}: count = {count!r}: a whole number of runs, at least 1")
    mix = table.get("nemesis", defaults.get("nemesis", [""]))
    mix = [mix] if isinstance(mix, str) else mix
    if not isinstance(mix, list) or not mix or not all(isinstance(m, str) for m in mix):
        raise ConfigError(f"{where}: nemesis must be a list of fault sets, e.g. [\"partition\", \"pause,kill\", \"\"]")
    bugs = table.get("bug", defaults.get("bug", []))
    bugs = [bugs] if isinstance(bugs, str) else bugs
    if not isinstance(bugs, list) or not all(isinstance(b, str) for b in bugs):
        raise ConfigError(f"{where}: bug must be a list of bug flags, e.g. [\"weak-quorum\"]")
    opts = table.get("nemesis-opt", defaults.get("nemesis-opt", []))
    if opts:
        options["nemesis-opt"] = [opts] if isinstance(opts, str) else list(opts)
    time_limit = parse_duration(options.get("time-limit", 30), f"{where}: time-limit")
    options["time-limit"] = time_limit
    return PlannedTest(name=str(table.get("name") or workload), workload=workload, count=count,
                       mix=[canonical_faults(m) for m in mix], bugs=list(bugs), time_limit=time_limit,
                       options=options)


def _check_options(options: dict[str, Any], known: dict[str, OptionKind], where: str) -> None:
    for key in options:
        if key in OWN_KEYS:
            continue
        if key in ALIASES:
            raise ConfigError(f"{where}: {key!r} is not a plan key; write {ALIASES[key]!r} "
                              f"(as seam test's --{ALIASES[key]})")
        if key in RESERVED:
            raise ConfigError(f"{where}: {key!r} is set by seam nightly for each run; remove it")
        if key not in known:
            raise ConfigError(f"{where}: {key!r} is not a seam test option (see `seam test --help`; "
                              "write options by their long name without dashes in front, e.g. time-limit)")


def canonical_faults(text: str) -> str:
    """``"pause, partition"`` -> ``"partition,pause"``: the index's coverage key."""
    return ",".join(sorted({f.strip() for f in text.split(",") if f.strip()}))


def seam_test_args(test: PlannedTest, faults: str, known: dict[str, OptionKind]) -> list[str]:
    """The ``seam test`` arguments of one run of ``test`` with the fault set ``faults``."""
    args = ["--name", test.name]
    if faults:
        args += ["--nemesis", faults]
    for bug in test.bugs:
        args += ["--bug", bug]
    for key, value in test.options.items():
        kind = known.get(key, OptionKind())
        if kind.flag:
            args += [f"--{key}"] if value else []
        elif kind.multiple and isinstance(value, list):
            for v in value:
                args += [f"--{key}", str(v)]
        else:
            args += [f"--{key}", _text(value)]
    return args


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)
