"""Which checkers judge a run of the reference pipeline, by workload.

The runner composes the returned dict with ``checkers.compose.compose``, so
each checker runs isolated (a crash is ``unknown`` with the error) and
results.json lists them in this order. Imports are lazy where a checker pulls
in heavy dependencies (numpy for perf, the linearizability search).
"""

from __future__ import annotations

from harness.core.protocols import Checker
from harness.spec import TestSpec


def pipeline_checkers(spec: TestSpec | None = None, *, grace: float = 5.0) -> dict[str, Checker]:
    """The ``orders`` workload: effects, fencing, causal order, quorum overlap, oversold stock, signals, perf."""
    from checkers.perf import PerfChecker
    from checkers.pipeline.causal import CausalChecker
    from checkers.pipeline.effects import EffectsChecker
    from checkers.pipeline.fencing import FencingChecker
    from checkers.pipeline.quorum import QuorumChecker
    from checkers.pipeline.signals import SignalsChecker
    from checkers.pipeline.stock import StockChecker

    return {
        "effects": EffectsChecker(grace=grace),
        "fencing": FencingChecker(),
        "causal": CausalChecker(),
        "quorum": QuorumChecker(),
        "stock": StockChecker(),
        "signals": SignalsChecker(),
        "perf": PerfChecker(),
    }


def register_checkers(spec: TestSpec | None = None, *, timeout: float | None = 60.0) -> dict[str, Checker]:
    """The ``register`` workload: linearizability per key, stale reads (the generic checkers
    any register target can use), quorum overlap as the nodes report it, signals, perf."""
    from checkers.linearizable.checker import LinearizableChecker
    from checkers.perf import PerfChecker
    from checkers.pipeline.quorum import QuorumChecker
    from checkers.pipeline.signals import SignalsChecker
    from checkers.stale_read import StaleReadChecker

    return {
        "linearizable": LinearizableChecker("cas-register", independent=True, timeout=timeout),
        "stale-read": StaleReadChecker(),
        "quorum": QuorumChecker(),
        "signals": SignalsChecker(required=False),
        "perf": PerfChecker(),
    }
