"""Every anomaly kind a checker reports and every signal has an on-call entry, and
docs/oncall.md is what the entries render to.

The kinds are found in the code, not from a list: every ``Anomaly(...)`` call
under checkers/ whose kind is a literal; where a module builds the kind at run
time (the transactional checker names Elle's anomalies from data), its
package must be in ``DYNAMIC``, which reads the kinds from the same data the
checker uses. A new dynamic module fails here until it is added.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

import pytest

import checkers
from checkers import runbook

ROOT = Path(checkers.__file__).parent
REPO = ROOT.parent


def _kind_arg(call: ast.Call) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg == "kind":
            return kw.value
    return call.args[1] if len(call.args) > 1 else None


def _is_anomaly(call: ast.Call) -> bool:
    f = call.func
    return (isinstance(f, ast.Name) and f.id == "Anomaly") or (isinstance(f, ast.Attribute) and f.attr == "Anomaly")


def literal_kinds(source: str) -> tuple[set[str], bool]:
    """(literal kinds of the Anomaly calls in source, whether some call's kind is not a literal)."""
    kinds: set[str] = set()
    dynamic = False
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and _is_anomaly(node):
            arg = _kind_arg(node)
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                kinds.add(arg.value)
            else:
                dynamic = True
    return kinds, dynamic


def _dict_kinds(folder: Path) -> set[str]:
    """``{"kind": "..."}`` literals: the cases a dynamic checker turns into anomalies."""
    out = set()
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Dict):
                for k, v in zip(node.keys, node.values, strict=True):
                    if isinstance(k, ast.Constant) and k.value == "kind" and isinstance(v, ast.Constant):
                        out.add(str(v.value))
    return out


def _txn_kinds() -> set[str]:
    from checkers.txn import models

    names = set(models.IMPLIES) | set(models.SEVERITY) | set(models.UNKNOWN_TYPES)
    for table in (models.IMPLIES, models.SEVERITY, models.FORBIDS):
        names |= {k for v in table.values() for k in v}
    return names | _dict_kinds(ROOT / "txn")


#: package folder (relative to checkers/) -> the kinds its run-time-named anomalies can take
DYNAMIC: dict[str, Callable[[], set[str]]] = {"txn": _txn_kinds}


def _sources() -> list[Path]:
    skip = {ROOT / "runbook.py"}
    return [p for p in sorted(ROOT.rglob("*.py")) if p not in skip and "report" not in p.relative_to(ROOT).parts]


def reported_kinds() -> dict[str, str]:
    """kind -> the file that reports it, for every kind some checker can report."""
    out: dict[str, str] = {}
    for path in _sources():
        kinds, dynamic = literal_kinds(path.read_text())
        rel = path.relative_to(ROOT)
        for k in kinds:
            out.setdefault(k, str(rel))
        if dynamic:
            package = rel.parts[0] if len(rel.parts) > 1 else ""
            assert package in DYNAMIC, (
                f"checkers/{rel} names an anomaly kind at run time; add its package to DYNAMIC in "
                "tests/unit/test_runbook.py with a function that lists the kinds it can report"
            )
            for k in DYNAMIC[package]():
                out.setdefault(k, str(rel))
    return out


def computed_signals() -> dict[str, str]:
    """signal -> module, for every ``SIGNALS`` table a checker module declares."""
    import importlib

    out = {}
    for name in runbook.modules():
        table = getattr(importlib.import_module(name), "SIGNALS", None)
        if isinstance(table, dict):
            out.update({s: name for s in table})
    return out


def missing(wanted: dict[str, str], have: dict[str, runbook.Runbook]) -> list[str]:
    return sorted(f"{k} (reported in {where})" for k, where in wanted.items() if k not in have)


def test_every_reported_kind_has_an_entry() -> None:
    kinds = reported_kinds()
    # The finder itself: the pipeline's kinds, the generic ones, the new oversell and Elle's names.
    assert {"stale-fenced-write", "duplicate-effect", "nonlinearizable", "oversell", "G2-item"} <= set(kinds)
    assert missing(kinds, runbook.by_kind()) == [], "kinds without a RUNBOOK entry beside their checker"


def test_every_signal_has_an_entry() -> None:
    signals = computed_signals()
    assert {"consumer_lag", "quorum_write_p99", "leader_churn", "retry_budget"} <= set(signals)
    assert missing(signals, runbook.by_signal()) == [], "signals without a RUNBOOK entry in their module"


def test_a_kind_without_an_entry_is_caught() -> None:
    """Plant a checker that reports a new kind: the finder sees it and the check names it."""
    planted = 'from harness.core.verdict import Anomaly\nA = Anomaly("x", kind="planted-kind", summary="s")\n'
    kinds, dynamic = literal_kinds(planted)
    assert kinds == {"planted-kind"} and not dynamic
    assert missing({"planted-kind": "planted.py"}, runbook.by_kind()) == ["planted-kind (reported in planted.py)"]
    assert literal_kinds('Anomaly("x", k, "s")')[1], "a kind named at run time must be flagged"


def test_entries_are_complete_and_unique() -> None:
    found = runbook.entries()
    anchors = [e.anchor for e in found]
    assert len(anchors) == len(set(anchors))
    for e in found:
        assert e.source.startswith("checkers."), e
        assert "seam test" in e.verify, f"{e.name}: the verification step names no seam test run"
        assert "RUN/" in " ".join(e.look) or "seam check RUN" in " ".join(e.look), e.name
    with pytest.raises(ValueError, match="three"):
        runbook.Runbook("x", "w", "f", "c", ("one", "two"), "v")  # type: ignore[arg-type]


def test_oncall_md_is_current() -> None:
    committed = (REPO / "docs" / "oncall.md").read_text()
    assert committed == runbook.render_markdown(), (
        "docs/oncall.md is stale: run .venv/bin/python -m checkers.runbook --write docs/oncall.md"
    )
    for e in runbook.entries():
        assert f'<a id="{e.anchor}"></a>' in committed


def test_check_flag_says_stale(tmp_path: Path) -> None:
    stale = tmp_path / "oncall.md"
    stale.write_text("# old\n")
    assert runbook.main(["--check", str(stale)]) == 1
    runbook.main(["--write", str(stale)])
    assert runbook.main(["--check", str(stale)]) == 0
