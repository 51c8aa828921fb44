"""One exception tree for all of Seam.

Every error Seam raises on purpose is a ``SeamError``. The CLI catches only
``SeamError`` at its boundary and prints one line; anything else is a bug and
keeps its traceback. User-facing errors also subclass a builtin (as
Hypothesis does), so ``except ValueError`` in a caller still works.

Messages say what went wrong, where (file and line, node and command) and how
to fix it. ``exit_code`` follows DESIGN section 6: 3 means the run itself
failed (bad input, setup, an unreachable node).
"""

from __future__ import annotations

from collections.abc import Sequence

EXIT_VALID = 0
EXIT_INVALID = 1
EXIT_UNKNOWN = 2
EXIT_FAILED = 3


class SeamError(Exception):
    """Root of every error Seam raises on purpose."""

    exit_code = EXIT_FAILED


class InputError(SeamError, ValueError):
    """Bad input from the user: a file, an option, a model name."""


class HistoryError(InputError):
    """A history that cannot be read or paired, with the place it went wrong."""

    def __init__(self, problem: str, *, source: str = "<history>", line: int | None = None):
        self.problem = problem
        self.source = source
        self.line = line
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {problem}")


class ConfigError(InputError):
    """An option or a nodes file that does not make sense."""


class RemoteError(SeamError, RuntimeError):
    """A command on a node failed. Names the node, the argv, status, stderr and a fix."""

    def __init__(
        self,
        node: str,
        argv: Sequence[str],
        *,
        status: int | None = None,
        stderr: str = "",
        fix: str = "",
    ):
        self.node = node
        self.argv = list(argv)
        self.status = status
        self.stderr = stderr
        self.fix = fix
        cmd = " ".join(self.argv)
        parts = [f"on {node}: `{cmd}`"]
        parts.append("timed out" if status is None else f"exited {status}")
        if stderr.strip():
            parts.append(f"stderr: {stderr.strip().splitlines()[-1][:300]}")
        if fix:
            parts.append(f"fix: {fix}")
        super().__init__("; ".join(parts))


class UnreachableError(RemoteError):
    """A node cannot be reached at all (no route, refused, auth failed)."""


class ClusterError(SeamError, RuntimeError):
    """Provisioning or tearing down the cluster failed."""


class TargetError(SeamError, RuntimeError):
    """The system under test could not be installed, started or asked something."""


class NemesisError(SeamError, RuntimeError):
    """A fault could not be applied or healed."""


class UnsupportedError(SeamError, TypeError):
    """A nemesis or workload asked a target for an ability it does not have."""


class CheckerError(SeamError, RuntimeError):
    """A checker could not reach a verdict (it reports ``unknown``)."""

    exit_code = EXIT_UNKNOWN
