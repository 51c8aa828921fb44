"""The seeded fault schedule of nemesis packages, for the nemesis thread.

Every ``interval`` seconds a fault starts, and it stops one interval later.
With ``concurrency=2`` a second, different fault starts half an interval
after the first (the seed's combined-chaos stretch: a paused leader during
packet loss, say) and both are stopped before the next round. A pulse (a
package without a stop op) is over when its op completes. The final
generator, run after the main phase, undoes whatever might still be active.

Packages are duck-typed (``nemesis.spec.Package``: ``start(rng) -> template``,
``stop`` template or None, ``final`` templates), so the generator layer does
not import ``nemesis`` and ``nemesis`` does not import the generator layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.core.protocols import Test
from harness.generator.combinators import sleep
from harness.generator.core import fn
from harness.generator.routing import nemesis


def schedule(packages: Sequence[Any], *, interval: float, concurrency: int = 1) -> Any:
    """The endless, seeded fault schedule; None without packages.

    Each round: wait, start one fault (and, with concurrency 2, a second,
    different one half an interval later), wait, stop them in reverse order.
    """
    if not packages:
        return None
    width = max(1, min(concurrency, len(packages)))

    def one_round(test: Test | None, ctx: Any) -> list[Any]:
        rng = ctx.rng("nemesis-round")
        chosen = rng.sample(list(packages), width)
        steps: list[Any] = [sleep(interval)]
        for i, pkg in enumerate(chosen):
            if i:
                steps.append(sleep(interval / 2))
            steps.append(pkg.start(rng))
        steps.append(sleep(interval))
        steps.extend(pkg.stop for pkg in reversed(chosen) if pkg.stop is not None)
        return steps

    return nemesis(fn(one_round))


#: The last op of the final heal: every package heals again, whatever is still left.
#: A stop op that failed (a node that did not answer) would otherwise leave its fault
#: in place through the recovery wait and the final reads.
HEAL_ALL = {"f": "heal"}


def final_generator(packages: Sequence[Any]) -> Any:
    """Templates that undo every package's faults, for the final-heal phase; None without any.

    Packages heal in the order of their ``heal_stage`` (processes, network, clocks,
    then faults undone by calling the node), then ``HEAL_ALL`` heals every one again.
    """
    ordered = sorted(packages, key=lambda pkg: getattr(pkg, "heal_stage", 0))
    templates = [t for pkg in ordered for t in pkg.final]
    return nemesis([*templates, HEAL_ALL]) if templates else None
