"""NodeContext: everything a service module needs, built once by target/node.py."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from target.bugs import Bugs
from target.config import Config
from target.hlc import HLC
from target.metrics import Metrics
from target.pool import http_call
from target.retry import Retrier

if TYPE_CHECKING:
    from target.election import Election
    from target.store import StoreClient


@dataclass
class NodeContext:
    config: Config
    node: str
    data_dir: Path
    hlc: HLC
    bugs: Bugs
    metrics: Metrics
    log: logging.Logger
    retrier: Retrier
    store: StoreClient = None  # type: ignore[assignment]  # set by node.build
    election: Election = None  # type: ignore[assignment]  # set by node.build
    stopping: threading.Event = field(default_factory=threading.Event)

    @property
    def peers(self) -> list[str]:
        """All node names, sorted (this node included)."""
        return sorted(self.config.peers)

    def url(self, node: str) -> str:
        try:
            return self.config.peers[node]
        except KeyError:
            raise ValueError(f"unknown node {node!r}; peers are {', '.join(self.peers)}") from None

    def call(
        self,
        node: str,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        downstream: str,
        timeout: float | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """Call another node through the retry layer (breaker and budget named ``downstream``).

        Returns the first HTTP response (any status). Raises CallTimeout /
        CallFailed (last attempt's error), BreakerOpen or BudgetExhausted when
        it gives up; only a CallFailed with ``definite=True`` proves the last
        attempt had no effect, and earlier attempts may have had one.
        """
        url = self.url(node)
        t = self.config.request_timeout if timeout is None else timeout
        return self.retrier.call(
            downstream, lambda: http_call(url, method, path, body, timeout=t, headers=headers)
        )
