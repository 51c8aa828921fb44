"""Re-check one regression case with what its header says.

The header names the checker. A linearizability case is checked with its
model, initial state and ``independent``; a pipeline case with the checker of
that name from its workload's composition (rebuilt from the header's trimmed
test.json, as ``seam check RUN_DIR`` rebuilds a stored run's), over its ops
and its artifact rows written back into a temporary run directory. Either
way the checker runs alone inside ``compose``, so a crash is ``unknown``
with the error, never a verdict.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.core.errors import InputError
from harness.core.protocols import Checker
from harness.core.stored import stored_test
from harness.core.verdict import CheckResult
from harness.formats.case import Case, CaseHeader, read_case

#: Seconds per key a linearizability case may search before it is unknown.
TIMEOUT = 120.0
_UNSET: Any = object()


@dataclass
class Recheck:
    """A case and what its checker said about it now."""

    case: Case
    result: CheckResult
    #: the header as checked: the case's, with any flags given to ``recheck`` applied
    header: CaseHeader

    @property
    def verdict(self) -> str:
        return verdict_name(self.result.valid)

    @property
    def fingerprints(self) -> set[str]:
        return {a.fingerprint for a in self.result.anomalies}


def verdict_name(valid: Any) -> str:
    return "valid" if valid is True else "invalid" if valid is False else "unknown"


def recheck(path: Path | str, *, model: str | None = None, initial: Any = _UNSET,
            independent: bool | None = None, timeout: float | None = TIMEOUT,
            jobs: int | None = None) -> Recheck:
    """Read the case at ``path`` and check it; flags given here override its header
    (``seam check CASE --model ...``). Bad input raises ``InputError`` (exit 3)."""
    case = read_case(path)
    header = case.header
    if model is not None or initial is not _UNSET or independent is not None:
        header = _override(header, model, initial, independent)
    checker = checker_for(header, source=case.source, timeout=timeout, jobs=jobs)
    with tempfile.TemporaryDirectory(prefix="seam-case-") as tmp:
        root = None
        if case.artifacts or header.test:
            root = Path(tmp)
            case.materialize(root)
        result = checker.check(stored_test(root), case.history, root)
    return Recheck(case, result, header)


def _override(header: CaseHeader, model: str | None, initial: Any, independent: bool | None) -> CaseHeader:
    from dataclasses import replace

    changes: dict[str, Any] = {}
    if model is not None:
        changes.update(model=model, checker="linearizable")
        if initial is _UNSET:
            changes["initial"] = _UNSET  # the flag's model starts from its own default
    if initial is not _UNSET:
        changes["initial"] = initial
    if independent is not None:
        changes["independent"] = independent or header.independent
    return replace(header, **changes)


def checker_for(header: CaseHeader, *, source: str, timeout: float | None = TIMEOUT,
                jobs: int | None = None) -> Checker:
    """The one checker the header names, composed under its own name."""
    from checkers.compose import compose

    if header.model is not None:
        from checkers.linearizable.checker import LinearizableChecker
        from checkers.linearizable.models import get_model

        model = get_model(header.model) if header.initial is _UNSET else get_model(header.model, header.initial)
        linear = LinearizableChecker(model, independent=header.independent, timeout=timeout, jobs=jobs)
        return compose({"linearizable": linear})
    if header.checker == "txn" and isinstance(header.test.get("txn"), dict):
        from harness.regress.txn import checker as txn_checker  # the options that found it

        return compose({"txn": txn_checker(header.test["txn"])})
    if not header.test.get("workload"):
        raise InputError(f"{source}: a {header.checker} case needs the run's workload in its header "
                         "(test.workload); write cases with `seam test` or `seam check RUN_DIR`")
    named = getattr(_workload_checker(header.test, source), "checkers", {})
    if header.checker not in named:
        raise InputError(f"{source}: workload {header.test['workload']!r} has no checker "
                         f"{header.checker!r} (it has {', '.join(sorted(named)) or 'none'}); "
                         "fix the header's checker")
    return compose({header.checker: named[header.checker]})


def _workload_checker(test: dict[str, Any], source: str) -> Checker:
    """The composed checker of the case's workload, from its target's registry.

    Not through ``harness.assemble``: the results writer verifies cases through
    this module, and the store must not reach the composition root's Remotes."""
    from harness.spec import TestSpec
    from harness.targets import of_run

    kind = of_run(test)
    name = str(test.get("workload"))
    if name not in kind.workloads:
        raise InputError(f"{source}: workload {name!r} is not one of target {kind.name}'s "
                         f"({', '.join(sorted(kind.workloads))}); fix the header's test.workload")
    options = test.get("options") if isinstance(test.get("options"), dict) else {}
    return kind.workloads[name].checker(TestSpec.from_json(options or {}))
