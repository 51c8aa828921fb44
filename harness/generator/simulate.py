"""Run a generator with no threads, on a virtual clock: deterministic scheduling tests.

``simulate`` plays the interpreter's part exactly (same context, same event
order: completions due by an op's time are seen first, update before a
crashed process is retired), but every op takes ``latency_ns`` of virtual
time and its outcome comes from ``complete``. Same generator, seed and
arguments give the same history, every time.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Callable
from typing import Any

from harness.core.op import Op
from harness.core.protocols import Test
from harness.generator.context import NEMESIS, PENDING, Context
from harness.generator.core import GeneratorError, op, update

log = logging.getLogger("seam.generator")

#: Template keys that are Op fields; the rest go to ``Op.extra``.
TEMPLATE_FIELDS = frozenset(("process", "time", "type", "f", "value"))
SPECIAL_TYPES = frozenset(("sleep", "log"))


def invoke_op(template: dict, index: int, time: int) -> Op:
    """The invoke Op for a filled template (``index`` -1 for unrecorded sleep/log ops)."""
    extra = {k: v for k, v in template.items() if k not in TEMPLATE_FIELDS}
    return Op(
        index,
        time,
        template["process"],
        template["type"],
        template.get("f", ""),
        template.get("value"),
        False,
        extra,
    )


def default_complete(template: dict) -> tuple[str, Any]:
    """Clients succeed with their value; the nemesis answers ``info``, as Jepsen's nemeses do."""
    return ("info" if template["process"] == NEMESIS else "ok"), template.get("value")


def simulate(
    gen: Any,
    test: Test | None = None,
    *,
    concurrency: int,
    seed: int = 0,
    complete: Callable[[dict], tuple] | None = None,
    latency_ns: int = 1_000_000,
    max_ops: int = 100_000,
) -> list[Op]:
    """The history ``gen`` produces with ``concurrency`` client threads plus a nemesis thread.

    ``complete(template) -> (type, value)`` or ``(type, value, latency_ns)``
    decides each outcome; ``info`` retires a client process (its thread
    continues as process + concurrency). ``sleep`` ops hold their thread for
    their value in seconds; ``sleep`` and ``log`` ops are not in the history.
    Stops after ``max_ops`` recorded ops (completing those in flight).
    Raises ``GeneratorError`` if the generator is PENDING with nothing in
    flight: it could never make progress.
    """
    if concurrency < 1:
        raise GeneratorError(f"simulate needs concurrency >= 1, got {concurrency}")
    complete = complete or default_complete
    workers: dict[Any, Any] = {t: t for t in range(concurrency)}
    workers[NEMESIS] = NEMESIS
    by_process = {p: t for t, p in workers.items()}
    free = set(workers)
    in_flight: list = []  # heap of (due, seq, thread, invoke Op, template, outcome)
    history: list[Op] = []
    now = 0
    step = 0
    seq = 0
    invoked = 0

    shared: dict = {}
    frozen_workers: dict = dict(workers)

    def context() -> Context:
        return Context(now, frozenset(free), frozen_workers, seed, step, shared)

    def finish_one() -> None:
        nonlocal now, gen, step, shared, frozen_workers
        due, _, thread, inv, template, outcome = heapq.heappop(in_flight)
        now = max(now, due)
        free.add(thread)
        if inv.type in SPECIAL_TYPES:
            event = inv
        else:
            kind, value = outcome[0], outcome[1]
            if kind not in ("ok", "fail", "info"):
                raise GeneratorError(
                    f"complete() returned type {kind!r} for {template!r}; use ok, fail or info"
                )
            event = Op(len(history), now, inv.process, kind, inv.f, value, False, dict(inv.extra))
            history.append(event)
        step += 1
        gen = update(gen, test, context(), event)
        if event.type == "info" and thread != NEMESIS:
            old = workers[thread]
            workers[thread] = old + concurrency
            del by_process[old]
            by_process[old + concurrency] = thread
            frozen_workers, shared = dict(workers), {}

    while True:
        if gen is None or invoked >= max_ops:
            if not in_flight:
                return history
            finish_one()
            continue
        answer = op(gen, test, context())
        if answer is None:
            gen = None
            continue
        template, after = answer
        if template is PENDING:
            if not in_flight:
                raise GeneratorError(
                    f"generator {_short(gen)} is PENDING with no op in flight at t={now}ns: "
                    "it can never make progress (does it wait for a thread it excludes?)"
                )
            finish_one()
            continue
        at = max(now, template["time"])
        if in_flight and in_flight[0][0] <= at:
            finish_one()  # completions due first change the context: ask again
            continue
        thread = by_process.get(template["process"])
        if thread is None or thread not in free:
            raise GeneratorError(
                f"generator {_short(gen)} emitted {template!r} for a process that is not free"
            )
        now = at
        free.discard(thread)
        if template["type"] in SPECIAL_TYPES:
            event = invoke_op(template, -1, now)
            if template["type"] == "log":
                log.info("generator log: %s", template.get("value"))
                outcome: tuple = ("log", None, 0)
            else:
                outcome = ("sleep", None, int(float(template.get("value") or 0) * 1e9))
        else:
            event = invoke_op(template, len(history), now)
            history.append(event)
            invoked += 1
            outcome = tuple(complete(template))
        step += 1
        gen = update(after, test, context(), event)
        latency = outcome[2] if len(outcome) > 2 else latency_ns
        heapq.heappush(in_flight, (now + int(latency), seq, thread, event, template, outcome))
        seq += 1


def _short(gen: Any) -> str:
    text = repr(gen)
    return text if len(text) <= 200 else text[:197] + "..."
