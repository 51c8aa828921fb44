"""Composing packages: ``--nemesis partition,pause`` runs several faults as one nemesis.

Each package (``nemesis.spec.Package``, built by ``nemesis.registry``) has its
own nemesis object; ``ComposedNemesis`` is the one nemesis the runner sees
(Jepsen's ``nemesis.combined``). It routes each op to the package whose fault
the op names (the ``fault`` field every scheduled op carries), so two faults
that share an op (``stop-app-fault`` of lost-response and slow-response)
each reach their own nemesis; an op without the field goes by its ``f``.
The schedule that drives the packages is in
``harness.generator.nemesis_schedule``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from harness.core.errors import NemesisError
from harness.core.op import Op
from harness.core.protocols import Test
from nemesis.spec import Package
from nemesis.state import FaultLedger

#: The op that heals every package (``harness.generator.nemesis_schedule.HEAL_ALL``).
HEAL = "heal"


class ComposedNemesis:
    """Routes each op to its package's nemesis; sets up and heals all of them."""

    def __init__(self, packages: Sequence[Package]):
        self.packages = list(packages)
        self.by_fault = {pkg.name: pkg.nemesis for pkg in self.packages}
        self.by_f: dict[str, Any] = {}
        for pkg in self.packages:
            templates = [pkg.start(random.Random(0)), *([pkg.stop] if pkg.stop else []), *pkg.final]
            for template in templates:
                self.by_f.setdefault(template["f"], pkg.nemesis)

    def setup(self, test: Test | None) -> None:
        for pkg in self.packages:
            pkg.nemesis.setup(test)

    def invoke(self, test: Test | None, op: Op) -> Op:
        if op.f == HEAL and "fault" not in op.extra:  # the final heal's closing op
            return self._heal_op(test, op)
        nem = self.by_fault.get(str(op.extra.get("fault"))) or self.by_f.get(op.f)
        if nem is None:
            return replace(op, type="info", value=None, extra={**op.extra, "error": f"no nemesis handles {op.f!r}"})
        return nem.invoke(test, op)

    def _heal_op(self, test: Test | None, op: Op) -> Op:
        """Heal every package once more; the op says what is still left, if anything."""
        try:
            self.heal(test)
        except NemesisError as e:
            return replace(op, type="info", value=None, extra={**op.extra, "error": str(e)})
        return replace(op, type="info", value="healed")

    def heal(self, test: Test | None) -> None:
        """Heal every package, processes first (``Package.heal_stage``)."""
        errors = []
        for pkg in sorted(self.packages, key=lambda p: p.heal_stage):
            try:
                pkg.nemesis.heal(test)
            except Exception as e:  # heal everything we can, then report
                errors.append(f"{pkg.name}: {e}")
        if errors:
            raise NemesisError("heal failed: " + "; ".join(errors))


def ledger_for(run_dir: Path | None) -> FaultLedger:
    """The run's fault ledger, ``nemesis.jsonl`` in its directory (none without one)."""
    return FaultLedger(run_dir / "nemesis.jsonl" if run_dir else None)


class NoopNemesis:
    """The nemesis of a run without faults: heal is a no-op, ops are refused."""

    def setup(self, test: Test | None) -> None:
        pass

    def invoke(self, test: Test | None, op: Op) -> Op:
        return replace(op, type="info", extra={**op.extra, "error": "no nemesis in this run"})

    def heal(self, test: Test | None) -> None:
        pass
