"""Typed options: declared once with a default, parsed from command-line text, checked.

Faults declare theirs (``--nemesis-opt FAULT.NAME=V``, ``nemesis.spec``) and
targets theirs (``--target-opt NAME=V``, ``harness.targets.base``); both are
parsed and checked before anything starts, and the messages name the
option, what it accepts and its default.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.core.errors import ConfigError


@dataclass(frozen=True)
class Option:
    """One ``--nemesis-opt FAULT.NAME=VALUE``: its default, what it accepts, and its parser.

    ``parse`` turns the command-line text into the value builders get; it
    raises ValueError saying what was wrong (the registry adds the option's
    name, ``accepts`` and the default). ``default`` is already parsed.
    """

    name: str
    default: Any
    help: str
    accepts: str
    parse: Callable[[str], Any]

    def shown(self) -> str:
        """The default as a user would type it."""
        return _show(self.default)


def _show(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return f"{value:g}"
    return str(value)


def choice(name: str, choices: tuple[str, ...], default: str, help: str) -> Option:
    """An option that is one of a few words."""

    def parse(text: str) -> str:
        if text not in choices:
            raise ValueError(f"{text!r} is not one of the choices")
        return text

    return Option(name, default, help, "one of " + ", ".join(choices), parse)


def probability(name: str, default: float, help: str) -> Option:
    """A probability that can drop something: 0 < p <= 1."""

    def parse(text: str) -> float:
        p = _number(text)
        if not 0.0 < p <= 1.0:
            raise ValueError(f"{p:g} is outside 0 < p <= 1")
        return p

    return Option(name, default, help, "a number with 0 < p <= 1", parse)


_DURATION = re.compile(r"^\s*(.+?)\s*(ms|s|m)?\s*$")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, None: 1.0}


def duration(name: str, default: float, help: str) -> Option:
    """A positive number of seconds: ``30``, ``30s``, ``500ms`` or ``2m``."""

    def parse(text: str) -> float:
        m = _DURATION.match(text)
        try:
            seconds = float(m.group(1)) * _UNIT[m.group(2)] if m else math.nan
        except ValueError:
            seconds = math.nan
        if not math.isfinite(seconds):
            raise ValueError(f"{text!r} is not a duration")
        if seconds <= 0:
            raise ValueError(f"{text!r} is not positive")
        return seconds

    return Option(name, default, help, "seconds > 0: 30, 30s, 500ms, 2m", parse)


def count(name: str, default: int, help: str) -> Option:
    """A whole number >= 0."""

    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a whole number") from None
        if n < 0:
            raise ValueError(f"{n} is negative")
        return n

    return Option(name, default, help, "a whole number >= 0", parse)


def word(name: str, default: str, help: str, accepts: str) -> Option:
    """A name checked later, against what the run has (a service, a node, a role)."""

    def parse(text: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_.:-]+", text):
            raise ValueError(f"{text!r} is not a name (letters, digits, - _ . :)")
        return text

    return Option(name, default, help, accepts, parse)


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None


def resolve(flag: str, declared: Sequence[Option], given: Mapping[str, Any]) -> dict[str, Any]:
    """Every declared option's value: the default, or the given text parsed and checked.

    ``given`` maps an option's name to its text (or a value stored in test.json,
    which goes through the parser again). ``flag`` is how the user writes one
    (``--target-opt``): every error names it, the option, and the fix.
    """
    by_name = {o.name: o for o in declared}
    out = {o.name: o.default for o in declared}
    for name, value in given.items():
        opt = by_name.get(name)
        if opt is None:
            known = ", ".join(sorted(by_name)) or "none"
            raise ConfigError(f"{flag} {name}: no such option (options: {known})")
        text = format(value, "g") if isinstance(value, float) else str(value)
        try:
            out[name] = opt.parse(text)
        except ValueError as e:
            raise ConfigError(
                f"{flag} {name}={text}: {e}; {name} accepts {opt.accepts} (default {opt.shown()})"
            ) from None
    return out


def split_assignment(flag: str, text: str) -> tuple[str, str]:
    """``NAME=VALUE`` -> (name, value); a ConfigError saying the form otherwise."""
    name, eq, value = text.partition("=")
    if not (eq and name.strip()):
        raise ConfigError(f"{flag} {text!r}: write NAME=VALUE")
    return name.strip(), value.strip()
