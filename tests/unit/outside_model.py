"""A model from outside Seam's tree, as a user writes one: a counter with add and read.

Only ``name``, ``init``, ``step``, ``validate`` and the two ``describe`` methods:
none of the optional hooks the built-in models have.
"""

from __future__ import annotations

from typing import Any

from harness.core.op import UNKNOWN


class Counter:
    name = "counter"
    observed_failures: frozenset[str] = frozenset()
    keyed = False

    def __init__(self, initial: Any = 0):
        self.initial = int(initial)

    def init(self) -> int:
        return self.initial

    def step(self, state: int, call: Any) -> tuple[bool, int]:
        if call.f == "add":
            return True, state + int(call.input)
        if call.f == "read":
            return call.output is UNKNOWN or call.output == state, state
        return False, state

    def validate(self, call: Any) -> str | None:
        return None if call.f in ("add", "read") else f"counter has no function {call.f!r}"

    def describe_call(self, call: Any) -> str:
        return f"{call.f} {call.input if call.f == 'add' else call.output}"

    def describe_state(self, state: int) -> str:
        return str(state)
