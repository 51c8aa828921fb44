"""Every history of the shared oracle corpus gets the verdict its source project asserts.

The corpus (``../shared/oracle``) holds Porcupine's etcd and kv logs and the
Knossos EDN histories, each with the expected verdict in ``MANIFEST.json``.
Each file is read with ``harness.formats.load`` (format picked by content)
and checked with the manifest's model and initial state. The one entry whose
verdict is ``unknown`` is an empty file: reading it must fail as bad input.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from checkers.linearizable.models import get_model
from checkers.linearizable.partition import check_history
from harness.core.errors import HistoryError
from tests.conftest import ORACLE

EXPECTED = {"linearizable": True, "not-linearizable": False}


def _entries() -> list[dict[str, Any]]:
    manifest = ORACLE / "MANIFEST.json"
    if not manifest.exists():
        return []
    return json.loads(manifest.read_text())


ENTRIES = _entries()


def _load(path: Path):
    import harness.formats as formats

    return formats.load(str(path), fmt="auto")


def _initial(entry: dict[str, Any]) -> Any:
    """The manifest writes Knossos keywords as ":x"; histories name the key "x"."""
    initial = entry["initial_state"]
    if isinstance(initial, dict):
        return {k.removeprefix(":"): v for k, v in initial.items()}
    return initial


def _model(entry: dict[str, Any]):
    if "initial_state" in entry:
        return get_model(entry["model"], _initial(entry))
    return get_model(entry["model"])


def test_corpus_is_present(oracle_dir: Path) -> None:
    assert len(ENTRIES) == 231
    assert sum(e["expected"] == "unknown" for e in ENTRIES) == 1


@pytest.mark.parametrize(
    "entry", [e for e in ENTRIES if e["expected"] in EXPECTED], ids=lambda e: e["file"]
)
def test_verdict(entry: dict[str, Any], oracle_dir: Path) -> None:
    history = _load(oracle_dir / entry["file"])
    result = check_history(history, _model(entry), timeout=60)
    assert result.valid is EXPECTED[entry["expected"]], (
        f"{entry['file']}: got {result.valid}, expected {entry['expected']}; "
        + "; ".join(f"key {k.key!r}: {k.valid} {k.result.reason or ''}" for k in result.keys)
    )
    if result.valid is False:
        bad = [k for k in result.keys if k.valid is False]
        assert bad and all(k.result.stuck for k in bad)


@pytest.mark.parametrize(
    "entry", [e for e in ENTRIES if e["expected"] == "unknown"], ids=lambda e: e["file"]
)
def test_unknown_entry_is_bad_input(entry: dict[str, Any], oracle_dir: Path) -> None:
    with pytest.raises(HistoryError):
        _load(oracle_dir / entry["file"])
