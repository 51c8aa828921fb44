"""Turning argv lists into shell command lines, and checking them first.

A Remote receives argv as a list; whoever has to go through a shell (the SSH
exec channel, ``sh -c``) joins it here, so every element arrives as exactly
one argument whatever it contains: spaces, quotes, ``$``, ``;``, newlines,
unicode. The caller never quotes.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence

from harness.core.errors import ConfigError

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def check_argv(argv: Sequence[str]) -> tuple[str, ...]:
    """Return argv as a tuple of str, refusing what no exec can carry.

    A bare string is refused because iterating it would run one character per
    argument; NUL cannot appear in an exec argument at all.
    """
    if isinstance(argv, (str, bytes)):
        raise ConfigError(
            f"argv must be a list of strings, not the string {argv!r}; fix: pass [{argv!r}] or split it"
        )
    out = tuple(argv)
    if not out:
        raise ConfigError("argv is empty; fix: pass at least the program name")
    for a in out:
        if not isinstance(a, str):
            raise ConfigError(
                f"argv element {a!r} in {list(out)!r} is not a string; fix: convert it with str()"
            )
        if "\0" in a:
            raise ConfigError(f"argv element {a!r} contains NUL, which no command line can carry")
    return out


def sh_join(argv: Sequence[str]) -> str:
    """One POSIX shell word per argv element (``shlex.join`` after checking)."""
    return shlex.join(check_argv(argv))


def env_words(env: Mapping[str, str] | None) -> list[str]:
    """``NAME=value`` words for ``env(1)``, refusing names a shell would misread."""
    words = []
    for name, value in (env or {}).items():
        if not _ENV_NAME.match(name):
            raise ConfigError(
                f"environment variable name {name!r} is not valid; fix: use letters, digits and _"
            )
        if "\0" in str(value):
            raise ConfigError(f"environment value for {name} contains NUL")
        words.append(f"{name}={value}")
    return words


def spawn_command(
    argv: Sequence[str], log: str, *, env: Mapping[str, str] | None = None, cwd: str | None = None
) -> str:
    """The shell line that starts argv detached and prints its pid.

    ``setsid`` and ``nohup`` exec (no fork: a background job of a
    non-interactive shell is not a process-group leader), and so does
    ``env``, so ``$!`` is the pid of the service itself, not of a wrapper.
    """
    inner = ["setsid", "nohup"]
    if env:
        inner += ["env", *env_words(env)]
    inner += list(check_argv(argv))
    line = f"{shlex.join(inner)} >>{shlex.quote(log)} 2>&1 </dev/null & echo $!"
    if cwd is not None:
        # Not `cd && job &`: that would background the whole list in a subshell.
        line = f"cd {shlex.quote(cwd)} || exit 97; {line}"
    return line
