"""Small helpers shared by the generator tests."""

from __future__ import annotations

from typing import Any

from harness.core.op import Op
from harness.generator import make_context


def ctx(
    time: int = 0, free: Any = (0, 1, "nemesis"), concurrency: int = 2, step: int = 0, seed: int = 0
):
    workers: dict[Any, Any] = {t: t for t in range(concurrency)}
    workers["nemesis"] = "nemesis"
    return make_context(time, free, workers, seed, step)


def invokes(history: list[Op]) -> list[Op]:
    return [o for o in history if o.type == "invoke"]


def client_invokes(history: list[Op]) -> list[Op]:
    return [o for o in history if o.type == "invoke" and o.process != "nemesis"]


def fs(history: list[Op]) -> list[str]:
    return [o.f for o in invokes(history)]
