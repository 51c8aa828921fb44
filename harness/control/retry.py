"""A Remote wrapper that retries transient unreachability (Jepsen's retrying Remote).

Only ``UnreachableError`` is retried: the node could not be reached, so the
command most likely never ran. A command that ran and failed (``RemoteError``
with a status) or timed out is not retried, because running it again could
apply it twice. Waits grow by ``backoff`` (doubling, capped at ``max_backoff``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from harness.core.errors import UnreachableError
from harness.core.protocols import Result

log = logging.getLogger("seam.control")
T = TypeVar("T")


class RetryingRemote:
    """Wraps any Remote; ``attempts`` counts the first try."""

    def __init__(
        self,
        inner: Any,
        attempts: int = 3,
        backoff: float = 0.5,
        *,
        max_backoff: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if attempts < 1:
            raise ValueError(f"attempts must be at least 1, not {attempts}")
        self.inner = inner
        self.attempts = attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._sleep = sleep

    @property
    def kind(self) -> str:
        return getattr(self.inner, "kind", "remote")

    def _retry(self, what: str, node: str, call: Callable[[], T]) -> T:
        wait = self.backoff
        for attempt in range(1, self.attempts + 1):
            try:
                return call()
            except UnreachableError as e:
                if attempt == self.attempts:
                    raise
                log.warning(
                    "%s on %s: unreachable (attempt %d of %d), retrying in %.2fs: %s",
                    what,
                    node,
                    attempt,
                    self.attempts,
                    wait,
                    e,
                )
                self._sleep(wait)
                wait = min(wait * 2, self.max_backoff)
        raise AssertionError("unreachable")  # pragma: no cover

    def run(
        self,
        node: str,
        argv: Sequence[str],
        *,
        timeout: float = 60.0,
        check: bool = True,
        stdin: bytes | None = None,
    ) -> Result:
        return self._retry(
            "run",
            node,
            lambda: self.inner.run(node, argv, timeout=timeout, check=check, stdin=stdin),
        )

    def spawn(
        self,
        node: str,
        argv: Sequence[str],
        log: str,
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
    ) -> int:
        return self._retry(
            "spawn", node, lambda: self.inner.spawn(node, argv, log, env=env, cwd=cwd)
        )

    def signal(self, node: str, pid: int, sig: int) -> None:
        self._retry("signal", node, lambda: self.inner.signal(node, pid, sig))

    def alive(self, node: str, pid: int) -> bool:
        return self._retry("alive", node, lambda: self.inner.alive(node, pid))

    def upload(self, node: str, src: Path, dst: str) -> None:
        self._retry("upload", node, lambda: self.inner.upload(node, src, dst))

    def download(self, node: str, src: str, dst: Path) -> None:
        self._retry("download", node, lambda: self.inner.download(node, src, dst))

    def close(self) -> None:
        self.inner.close()
