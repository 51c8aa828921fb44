"""Generators that depend on the run as it goes: ops computed from the
history recorded so far, and a generator that ends when an event is set.

Both stay pure in Jepsen's sense: asking twice at the same point gives the
same answer, because neither the history nor the event changes between two
asks without something happening.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.core.op import Op
from harness.core.protocols import Test
from harness.generator.core import op as gen_op
from harness.generator.core import update as gen_update


@dataclass(frozen=True)
class FromHistory:
    """A generator computed from ``test.history`` when first asked: final reads
    read the keys and orders that the main phase used."""

    build: Callable[[list[Op]], Any]

    def op(self, test: Test | None, ctx: Any) -> tuple[Any, Any] | None:
        return gen_op(self.build(list(getattr(test, "history", []))), test, ctx)

    def update(self, test: Test | None, ctx: Any, event: Any) -> Any:
        return self


@dataclass(frozen=True)
class UntilSet:
    """``gen`` until ``event`` is set (Ctrl-C, SIGTERM): then exhausted, so the next phase starts."""

    event: threading.Event
    gen: Any

    def op(self, test: Test | None, ctx: Any) -> Any:
        if self.event.is_set():
            return None
        answer = gen_op(self.gen, test, ctx)
        if answer is None:
            return None
        template, after = answer
        return template, UntilSet(self.event, after)

    def update(self, test: Test | None, ctx: Any, event: Any) -> Any:
        return UntilSet(self.event, gen_update(self.gen, test, ctx, event))
