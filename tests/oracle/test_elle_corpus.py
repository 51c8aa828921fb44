"""Every case of the Elle corpus (``../shared/oracle/elle``) gets Elle's own answer.

``cases.jsonl`` holds the histories of Elle's list-append and rw-register
tests with what those tests assert: the anomaly types reported, ``valid?``
and ``not`` (the weakest models ruled out). Each case is checked with its
options under Elle's names, and must give exactly the asserted anomaly
types, and the asserted verdict and ``not`` where asserted. The history
files of ``MANIFEST.json`` are read through ``harness.formats.load`` (EDN)
and checked against what their manifest entry asserts.

No case is special-cased: the table ``UNSUPPORTED`` names the only
histories not checked, with the reason. Skips when ``../shared`` is absent.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from checkers.txn import TxnChecker, TxnOptions
from harness.core.op import Op
from tests.conftest import ORACLE, require_oracle

ELLE = ORACLE / "elle"

#: History files not checked, and why.
UNSUPPORTED = {
    "histories/paper-example.edn": "its ops have no :process and no :f; Elle itself would see "
    "no client op in it, and no Elle source states a result for it",
}


def _cases() -> list[dict[str, Any]]:
    path = ELLE / "cases.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _files() -> list[dict[str, Any]]:
    path = ELLE / "MANIFEST.json"
    return json.loads(path.read_text())["files"] if path.exists() else []


CASES = _cases()
FILES = _files()


@pytest.fixture
def elle_dir(oracle_dir: Path) -> Path:
    if not (ELLE / "cases.jsonl").exists():
        require_oracle(ELLE)
    return ELLE


def options(workload: str, o: dict[str, Any]) -> TxnOptions:
    """TxnOptions from a case's options, keyed by Elle's option names."""
    if "consistency-models" not in o:
        models: tuple[str, ...] | None = ("strict-serializable",)  # Elle's default
    else:
        models = tuple(o["consistency-models"]) if o["consistency-models"] is not None else None
    order = o.get("transaction-order")
    return TxnOptions(
        workload=workload,
        consistency_models=models,
        anomalies=tuple(o.get("anomalies") or ()),
        linearizable_keys=bool(o.get("linearizable-keys?")),
        sequential_keys=bool(o.get("sequential-keys?")),
        wfr_keys=bool(o.get("wfr-keys?")),
        transaction_order={int(k): v for k, v in order.items()} if order else None,
    )


def test_corpus_is_present(elle_dir: Path) -> None:
    assert len(CASES) == 78
    assert {c["workload"] for c in CASES} == {"list-append", "rw-register"}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["id"])
def test_case(case: dict[str, Any], elle_dir: Path) -> None:
    ops = [Op(o["index"], 0, o["process"], o["type"], "txn", o["value"]) for o in case["history"]]
    result = TxnChecker(options(case["workload"], case["options"])).check(None, ops, None)
    got = result.stats["anomaly_types"]
    if case["expected_anomalies"] is not None:
        assert got == sorted(case["expected_anomalies"]), (case["id"], result.stats["found"])
    if case["expected_valid"] is not None:
        assert result.valid == case["expected_valid"], (case["id"], got)
    if case["expected_not"] is not None:
        assert result.stats["not"] == sorted(case["expected_not"]), (case["id"], got)


@pytest.mark.parametrize("entry", FILES, ids=lambda e: e["path"])
def test_history_file(entry: dict[str, Any], elle_dir: Path) -> None:
    if entry["path"] in UNSUPPORTED:
        pytest.skip(UNSUPPORTED[entry["path"]])
    from harness.formats import load

    expected = entry["expected"]
    history = load(str(elle_dir / entry["path"]), lenient=True)
    result = TxnChecker(options(entry["workload"], expected["options"])).check(None, history, None)
    if expected["valid"] is True:
        assert result.valid is not False, result.stats["anomaly_types"]
    elif expected["valid"] is False:
        assert result.valid is False
    if expected["not"] is not None:
        assert set(expected["not"]) <= set(result.stats["not"]), result.stats["not"]
    types = expected["anomaly_types"]
    if types and expected["valid"] is None:  # exact types asserted, nothing about timeouts
        assert result.stats["anomaly_types"] == sorted(types)


def test_unsupported_files_are_named(elle_dir: Path) -> None:
    """Every history file is either checked or listed with a reason."""
    assert set(UNSUPPORTED) <= {e["path"] for e in FILES}
