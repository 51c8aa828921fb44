"""Values compare as JSON and EDN define them: true is not 1, keys 1 and true differ,
NaN and Infinity are bad input. Each test would fail under Python's own ``True == 1``."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from checkers.linearizable.checker import LinearizableChecker
from checkers.linearizable.models import FALSE, TRUE, freeze, get_model
from harness.cli import cli
from harness.core.errors import HistoryError
from harness.formats import read_text


def jsonl(*rows: tuple[int, str, str, Any]) -> str:
    return "".join(
        json.dumps({"process": p, "type": t, "f": f, "value": v}) + "\n" for p, t, f, v in rows
    )


def write_then_read(written: Any, read: Any) -> str:
    return jsonl(
        (0, "invoke", "write", written),
        (0, "ok", "write", written),
        (1, "invoke", "read", None),
        (1, "ok", "read", read),
    )


def verdict(text: str, model: str = "register", fmt: str = "auto", **kw: Any) -> Any:
    history = read_text(text, fmt)
    return (
        LinearizableChecker(get_model(model, *kw.pop("initial", ())), **kw)
        .check(None, history, None)
        .valid
    )


@pytest.mark.parametrize(
    ("written", "read"), [(True, 1), (1, True), (False, 0), (0, False), ([True], [1])]
)
def test_a_boolean_is_not_a_number(written: Any, read: Any) -> None:
    assert verdict(write_then_read(written, read)) is False


@pytest.mark.parametrize("value", [True, False, [True, 0], {"a": False}])
def test_a_boolean_still_equals_itself(value: Any) -> None:
    assert verdict(write_then_read(value, value)) is True


def test_json_numbers_have_one_type() -> None:
    """JSON has one number type: 1 and 1.0 are the same number (booleans are not numbers)."""
    assert verdict(write_then_read(1, 1.0)) is True


def test_edn_booleans_are_not_numbers() -> None:
    text = (
        "[{:process 0 :type :invoke :f :write :value true}\n"
        " {:process 0 :type :ok :f :write :value true}\n"
        " {:process 1 :type :invoke :f :read :value nil}\n"
        " {:process 1 :type :ok :f :read :value 1}]"
    )
    assert verdict(text, fmt="edn") is False


def test_cas_compares_exactly() -> None:
    text = jsonl(
        (0, "invoke", "write", 1),
        (0, "ok", "write", 1),
        (1, "invoke", "cas", [True, 2]),
        (1, "ok", "cas", [True, 2]),
    )
    assert verdict(text, model="cas-register") is False


def test_initial_true_is_not_one() -> None:
    text = jsonl((1, "invoke", "read", None), (1, "ok", "read", 1))
    assert verdict(text, initial=(True,)) is False
    assert verdict(text, initial=(1,)) is True


def test_keys_one_and_true_are_different_keys_under_independent() -> None:
    # Key 1 holds 5; key true was never written, so its read of 5 is impossible.
    text = jsonl(
        (0, "invoke", "write", [1, 5]),
        (0, "ok", "write", [1, 5]),
        (1, "invoke", "read", [True, None]),
        (1, "ok", "read", [True, 5]),
    )
    history = read_text(text)
    result = LinearizableChecker(get_model("register"), independent=True).check(None, history, None)
    assert result.valid is False
    assert result.stats["keys"] == 2


def test_kv_keys_one_and_true_are_different_keys() -> None:
    text = jsonl(
        (0, "invoke", "put", [1, "x"]),
        (0, "ok", "put", [1, "x"]),
        (1, "invoke", "get", [True, None]),
        (1, "ok", "get", [True, "x"]),
    )
    assert verdict(text, model="kv") is False


def test_multi_register_reads_compare_exactly() -> None:
    text = jsonl(
        (0, "invoke", "txn", [["write", "x", True]]),
        (0, "ok", "txn", [["write", "x", True]]),
        (1, "invoke", "txn", [["read", "x", None]]),
        (1, "ok", "txn", [["read", "x", 1]]),
    )
    assert verdict(text, model="multi-register") is False


def test_frozen_booleans_keep_their_identity_across_processes() -> None:
    """Worker processes get results back by pickle; TRUE must stay the one TRUE."""
    assert pickle.loads(pickle.dumps(freeze([True, False]))) == (TRUE, FALSE)
    assert freeze(True) != freeze(1) and hash(freeze(True)) is not None
    assert {freeze(1): "a", freeze(True): "b"} == {1: "a", TRUE: "b"}


def test_independent_keys_in_worker_processes_stay_apart() -> None:
    """Enough calls for the process pool: keys true and 1 are still two keys."""
    rows = []
    for i in range(2200):
        key = True if i % 2 else 1
        rows += [(i, "invoke", "write", [key, i]), (i, "ok", "write", [key, i])]
    history = read_text(jsonl(*rows))
    result = LinearizableChecker(get_model("register"), independent=True, jobs=2).check(
        None, history, None
    )
    assert result.valid is True and result.stats["keys"] == 2


@pytest.mark.parametrize(
    ("text", "fmt", "words"),
    [
        ('{"process": 0, "type": "invoke", "f": "write", "value": NaN}', "jsonl", "NaN"),
        ('{"process": 0, "type": "invoke", "f": "write", "value": Infinity}', "jsonl", "Infinity"),
        (
            '{"process": 0, "type": "invoke", "f": "write", "value": [-Infinity]}',
            "jsonl",
            "Infinity",
        ),
        ('{"process": 0, "type": "invoke", "f": "write", "value": 1e400}', "jsonl", "too large"),
        ("[{:process 0 :type :invoke :f :write :value ##NaN}]", "edn", "NaN"),
        ("[{:process 0 :type :invoke :f :write :value [##Inf]}]", "edn", "inf"),
        ("[{:process 0 :type :invoke :f :write :value 1e400}]", "edn", "inf"),
        ("[{:process 0 :type :invoke :f :write :value 1 :error ##-Inf}]", "edn", "inf"),
    ],
)
def test_nan_and_infinity_are_bad_input(text: str, fmt: str, words: str) -> None:
    with pytest.raises(HistoryError) as info:
        read_text(text + "\n", fmt, source="h")
    assert info.value.line == 1 and words in str(info.value)
    assert str(info.value).startswith("h:1: ")


@pytest.mark.parametrize("initial", ["NaN", "Infinity", "-Infinity", "1e999", "[NaN]"])
def test_initial_nan_or_infinity_is_bad_input(tmp_path: Path, initial: str) -> None:
    f = tmp_path / "h.jsonl"
    f.write_text(write_then_read(1, 1))
    r = CliRunner().invoke(cli, ["check", str(f), "--initial", initial], catch_exceptions=False)
    assert r.exit_code == 3
    assert r.stderr.startswith("seam: --initial") and r.stderr.count("\n") == 1
    assert "linearizable" not in r.stdout
