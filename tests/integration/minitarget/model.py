"""The miniregister's model, written outside Seam's tree as a user would: a register
with read, write and compare-and-set, found by its module path
(``tests.integration.minitarget.model:MiniRegister``) in a run, a re-check and a case."""

from __future__ import annotations

from typing import Any

from harness.core.op import UNKNOWN


class MiniRegister:
    name = "miniregister"
    observed_failures: frozenset[str] = frozenset()  # failed ops did nothing: left out, as Knossos does
    keyed = False

    def __init__(self, initial: Any = None):
        self.initial = initial

    def init(self) -> Any:
        return self.initial

    def step(self, state: Any, call: Any) -> tuple[bool, Any]:
        if call.f == "read":
            return call.output is UNKNOWN or call.output == state, state
        if call.f == "write":
            return True, call.input
        if call.f == "cas":
            old, new = call.input
            return (True, new) if state == old else (False, state)
        return False, state

    def validate(self, call: Any) -> str | None:
        return None if call.f in ("read", "write", "cas") else f"miniregister has no function {call.f!r}"

    def describe_call(self, call: Any) -> str:
        return f"{call.f} {call.output if call.f == 'read' else call.input}"

    def describe_state(self, state: Any) -> str:
        return "nil" if state is None else str(state)
