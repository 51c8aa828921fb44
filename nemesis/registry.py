"""Every fault Seam can inject, found by importing the modules of ``nemesis``.

There is no list of names here: a module that declares a ``FaultSpec`` at
module level (``FAULT = FaultSpec(...)``) is a fault, and adding one is adding
a module. This is the one place the rest of Seam asks about faults:

* the CLI: ``parse_names`` (``--nemesis``), ``parse_assignments``
  (``--nemesis-opt FAULT.OPTION=VALUE``), ``faults`` (``seam nemeses``);
* the runner: ``needing_root`` and ``check_applicable`` before anything
  starts, ``build_packages`` to run them, ``describe`` for test.json (the
  report reads fault colours there, never from here);
* heal: ``undo`` and ``moot`` by the ledger row's kind.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import nemesis
from harness.core.errors import ConfigError, UnsupportedError
from harness.core.protocols import Remote, Test
from nemesis.spec import FaultSpec, MootEnv, NemesisContext, Package
from nemesis.state import Fault

__all__ = [
    "MootEnv",
    "build_packages",
    "by_kind",
    "check_applicable",
    "describe",
    "faults",
    "get",
    "moot",
    "needing_root",
    "parse_names",
    "parse_assignments",
    "parse_options",
    "resolve_options",
    "undo",
]


def faults() -> dict[str, FaultSpec]:
    """Every declared fault by name, sorted by name (a copy: callers may change it)."""
    return dict(_discover())


@functools.cache
def _discover() -> dict[str, FaultSpec]:
    """Import every module of ``nemesis`` once; a name declared twice is a bug."""
    found: dict[str, FaultSpec] = {}
    for module in _modules():
        for value in vars(module).values():
            if not isinstance(value, FaultSpec) or found.get(value.name) is value:
                continue  # a spec imported from its own module is the same declaration
            if value.name in found:
                raise RuntimeError(
                    f"fault {value.name!r} is declared twice (again in {module.__name__})"
                )
            found[value.name] = value
    return dict(sorted(found.items()))


def _modules() -> Iterable[Any]:
    for info in sorted(pkgutil.iter_modules(nemesis.__path__), key=lambda m: m.name):
        yield importlib.import_module(f"nemesis.{info.name}")


def get(name: str) -> FaultSpec:
    spec = faults().get(name)
    if spec is None:
        raise ConfigError(
            f"unknown nemesis {name!r}; choose from {', '.join(faults())} (see `seam nemeses`)"
        )
    return spec


def by_kind(kind: str) -> FaultSpec:
    """The declaration that undoes ledger rows of ``kind`` (faults sharing a kind share undo)."""
    spec = next((s for s in faults().values() if s.kind == kind), None)
    if spec is None:
        raise ValueError(f"do not know how to undo a {kind!r} fault")
    return spec


# ---------------------------------------------------------------------------
# the command line


def parse_names(spec: str | Sequence[str] | None) -> list[str]:
    """``"partition,pause"`` -> ["partition", "pause"]; unknown names are a ConfigError."""
    if not spec:
        return []
    names = [n.strip() for n in (spec.split(",") if isinstance(spec, str) else spec) if n.strip()]
    if names == ["none"]:
        return []
    unknown = [n for n in names if n not in faults()]
    if unknown:
        raise ConfigError(
            f"unknown nemesis {', '.join(unknown)}; choose from {', '.join(faults())} (see `seam nemeses`)"
        )
    return list(dict.fromkeys(names))


def parse_options(names: Sequence[str], assignments: Iterable[str]) -> dict[str, dict[str, Any]]:
    """``["partition.shape=bridge", "loss.p=0.3"]`` -> every option of every fault in ``names``.

    Options not assigned get their defaults, so the result is complete. An
    assignment to a fault not in ``names``, an unknown option or a bad value
    is a ConfigError naming the option, what it accepts and its default.
    """
    return resolve_options(names, parse_assignments(names, assignments))


def parse_assignments(names: Sequence[str], assignments: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Only the options assigned, parsed and checked as ``parse_options`` does: what a
    caller keeps when defaults come later from elsewhere (a scenario's options)."""
    given: dict[str, dict[str, Any]] = {name: {} for name in names}
    for text in assignments:
        fault, option, value = _split(text)
        if fault not in given:
            get(fault)  # an unknown fault says so first
            raise ConfigError(
                f"--nemesis-opt {text}: {fault} is not among --nemesis {','.join(names) or 'none'}; "
                f"add it to --nemesis or drop the option"
            )
        given[fault][option] = _parse(get(fault), option, value)
    return {fault: options for fault, options in given.items() if options}


def _split(text: str) -> tuple[str, str, str]:
    key, eq, value = text.partition("=")
    fault, dot, option = key.strip().rpartition(".")
    if not (eq and dot and fault and option):
        raise ConfigError(
            f"--nemesis-opt {text!r}: write FAULT.OPTION=VALUE, e.g. loss.p=0.3 (see `seam nemeses`)"
        )
    return fault, option, value.strip()


def _parse(spec: FaultSpec, option: str, text: str) -> Any:
    opt = spec.option(option)
    if opt is None:
        known = ", ".join(o.name for o in spec.options) or "none"
        raise ConfigError(
            f"--nemesis-opt {spec.name}.{option}: {spec.name} has no option {option!r}; its options: {known}"
        )
    try:
        return opt.parse(text)
    except ValueError as e:
        raise ConfigError(
            f"--nemesis-opt {spec.name}.{option}={text}: {e}; it accepts {opt.accepts} (default {opt.shown()})"
        ) from None


def resolve_options(
    names: Sequence[str], options: Mapping[str, Mapping[str, Any]] | None
) -> dict[str, dict[str, Any]]:
    """Each fault's options with defaults filled in, every given value validated again.

    Values may come parsed (from ``parse_options``) or as JSON from a stored
    test spec; both go through the option's parser, so a builder never sees
    an unchecked value. Options for faults not in ``names`` are a ConfigError.
    """
    extra = sorted(set(options or {}) - set(names))
    if extra:
        raise ConfigError(
            f"--nemesis-opt {extra[0]}.*: {extra[0]} is not among --nemesis {','.join(names) or 'none'}; "
            "add it to --nemesis or drop the option"
        )
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        spec = get(name)
        given = (options or {}).get(name) or {}
        out[name] = spec.defaults() | {k: _parse(spec, k, _text(v)) for k, v in given.items()}
    return out


def _text(value: Any) -> str:
    """An option value as the command line would give it (``0.3``, ``30``, ``bridge``)."""
    return format(value, "g") if isinstance(value, float) else str(value)


# ---------------------------------------------------------------------------
# before the run


def needing_root(names: Sequence[str]) -> list[str]:
    """The faults among ``names`` that change iptables (on the nodes, or this host)."""
    return [n for n in names if get(n).needs_root]


def check_applicable(
    names: Sequence[str],
    options: Mapping[str, Mapping[str, Any]] | None,
    *,
    target: Any,
    services: frozenset[str] | None,
) -> None:
    """Refuse, before anything starts, a fault this target or workload cannot take.

    ``target`` must have the ability each fault needs (None: not checked);
    ``services`` are the services the workload calls (None: not checked), and
    a fault that acts on a service (app faults) must act on one of them.
    """
    resolved = resolve_options(names, options)
    for name in names:
        spec = get(name)
        if target is not None and spec.ability is not None and not isinstance(target, spec.ability):
            raise UnsupportedError(
                f"--nemesis {name} needs {spec.needs}; the target {type(target).__name__} is not "
                f"{spec.ability.__name__}: drop {name} or use a target that is"
            )
        if services is None or spec.services is None:
            continue
        missing = sorted(spec.services(resolved[name]) - services)
        if missing:
            raise ConfigError(
                f"--nemesis {name} acts on {', '.join(missing)}, which this workload never calls "
                f"(it calls {', '.join(sorted(services)) or 'nothing'}): choose another workload, "
                f"drop {name}, or aim it with --nemesis-opt {name}.service=<one of those>"
            )


def build_packages(
    names: Sequence[str],
    ctx: NemesisContext,
    options: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[Package]:
    """One package per fault, built with its options (defaults where not given)."""
    resolved = resolve_options(names, options)
    return [replace(get(name).build(ctx, resolved[name]), heal_stage=get(name).heal_stage) for name in names]


def describe(names: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
    """What readers of a stored run need to know about each fault, for test.json's ``faults``:
    the report's colour, the start and stop ``f``, the summary, and the ability
    the fault needs of the target (``Skewable``: the nodes ran under fake time)."""
    chosen = faults() if names is None else {n: get(n) for n in names}
    return {
        name: {
            "colour": s.colour,
            "start": s.start,
            "stop": s.stop,
            "summary": s.summary,
            "ability": s.ability.__name__ if s.ability else None,
        }
        for name, s in chosen.items()
    }


# ---------------------------------------------------------------------------
# heal, from the ledger alone


def undo(fault: Fault, remote: Remote, target: Any = None, test: Test | None = None) -> None:
    """Undo one ledger row; ValueError for a kind no fault declares."""
    by_kind(fault.kind).undo(fault, remote, target, test)


def moot(fault: Fault, env: MootEnv) -> str | None:
    """Why a ledger row no longer needs undoing (its node or file is gone), or None.

    A kind no fault declares is never moot: it stays outstanding and heal says so.
    """
    try:
        spec = by_kind(fault.kind)
    except ValueError:
        return None
    return spec.moot(fault, env)
