"""Leave out the crashed calls that no call can ever see.

A crashed call may take effect or not, so each one the search keeps can
double the configurations it visits. Many never matter: a crashed write of a
value that no read returns and no cas expects leaves the register in a state
that no completed call can tell from any other. The model says which crashed
calls a set of observers can see (``Model.sees_crashed``, whose docstring
gives the argument why leaving the others out is exact).

Kept crashed calls are observers too (a crashed cas that is kept only takes
effect from its ``old`` value, so it sees writes of ``old``), so the set
grows to a fixed point: start from the completed calls, keep every crashed
call they see, then every crashed call those see, and so on. Each round asks
the model about the newly kept calls only, so the whole costs about one pass
over the calls per round; after ``_MAX_ROUNDS`` rounds, the rest are kept
(keeping a call is always safe, only slower).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.core.op import Call

__all__ = ["seen_crashed"]

_MAX_ROUNDS = 16


def seen_crashed(model: Any, done: Sequence[Call], crashed: Sequence[Call]) -> list[Call]:
    """The crashed calls (in their given order) that ``done`` or a kept crashed call can see."""
    hook = getattr(model, "sees_crashed", None)
    if hook is None or not crashed:
        return list(crashed)
    kept: set[int] = set()
    waiting = list(crashed)
    observers: Sequence[Call] = done
    for _ in range(_MAX_ROUNDS):
        try:
            sees = hook(observers)
            if sees is None:
                return list(crashed)
            newly = [c for c in waiting if sees(c)]
        except (TypeError, ValueError, IndexError, KeyError):
            # A value of a shape the hook cannot read (only reachable without
            # Model.validate): keep everything, the search alone is exact.
            return list(crashed)
        if not newly:
            break
        kept.update(c.id for c in newly)
        waiting = [c for c in waiting if c.id not in kept]
        observers = newly
    else:
        kept.update(c.id for c in waiting)
    return [c for c in crashed if c.id in kept]
