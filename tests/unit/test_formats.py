"""harness.formats: the oracle corpus, format detection, and Seam JSONL.

The corpus tests read every history of ``../shared/oracle`` and compare
what was read with the counts the manifest records for each file (how many
invokes, and how they ended), so a reader that loses, duplicates or
misclassifies an op fails here even before any checker runs.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.core.errors import HistoryError, InputError
from harness.core.op import Op
from harness.formats import FORMATS, detect, load, read_text, write_jsonl
from tests.conftest import ORACLE

MANIFEST_FORMATS = {
    "jepsen-etcd-log": "porcupine-etcd",
    "porcupine-kv-edn-lines": "porcupine-kv",
    "knossos-edn": "edn",
}


def _manifest() -> list[dict[str, Any]]:
    path = ORACLE / "MANIFEST.json"
    return json.loads(path.read_text()) if path.exists() else []


ENTRIES = _manifest()


def _counts(history) -> dict[str, int]:
    ops = history.client_ops
    pairs = history.pairs()
    return {
        "invoke": sum(op.type == "invoke" for op in ops),
        "ok": sum(op.type == "ok" and not op.unknown for op in ops),
        "ok_unknown": sum(op.type == "ok" and op.unknown for op in ops),
        "fail": sum(op.type == "fail" for op in ops),
        "info_all": sum(op.type == "info" for op in history),
        "info_crash": sum(p.completion is not None and p.completion.type == "info" for p in pairs),
        "unmatched": sum(p.open for p in pairs),
    }


# --------------------------------------------------------------------------
# The oracle corpus


def test_manifest_lists_the_whole_corpus(oracle_dir: Path) -> None:
    assert len(ENTRIES) == 231
    assert {e["format"] for e in ENTRIES} == set(MANIFEST_FORMATS)


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["file"] for e in ENTRIES])
def test_corpus_file_reads_with_the_manifest_counts(
    entry: dict[str, Any], oracle_dir: Path
) -> None:
    path = oracle_dir / entry["file"]
    if entry["bytes"] == 0:
        # Nothing to read is bad input, not a trivially linearizable history.
        with pytest.raises(HistoryError, match="no operations") as info:
            load(path)
        assert str(path) in str(info.value)
        return
    text = path.read_text()
    assert detect(text) == MANIFEST_FORMATS[entry["format"]]
    history = load(path)
    assert history.source == str(path)
    # The same ops whether the format is detected or named.
    assert list(load(path, MANIFEST_FORMATS[entry["format"]])) == list(history)
    assert [op.index for op in history] == list(range(len(history)))

    got = _counts(history)
    want = entry["ops_breakdown"]
    assert got["invoke"] == entry["ops"] == want["invoke"]
    if entry["format"] == "knossos-edn":
        assert got["ok"] + got["ok_unknown"] == want["ok"]
        assert got["fail"] == want["fail"]
        assert got["info_crash"] == want["info_crash"]
        assert got["info_all"] - got["info_crash"] == want["info_other"]
        assert got["unmatched"] == want["unmatched"]
    elif entry["format"] == "jepsen-etcd-log":
        assert got["ok"] == want["ok"]
        assert got["ok_unknown"] == want["fail_read_timeout"]
        assert got["fail"] == want["fail_cas"]
        assert (
            got["info_all"] == got["info_crash"] == want["info_timeout"] == want["pending_at_end"]
        )
        assert got["unmatched"] == 0
    else:
        assert got["ok"] == want["ok"]
        assert got["ok_unknown"] == 0
        assert got["unmatched"] == want["unmatched"]


def test_every_failed_etcd_cas_is_a_fail_op_with_its_values(oracle_dir: Path) -> None:
    path = oracle_dir / "porcupine/jepsen/etcd_000.log"
    fails = [op for op in load(path) if op.type == "fail"]
    assert fails and all(op.f == "cas" and len(op.value) == 2 for op in fails)
    assert all(isinstance(x, int) for op in fails for x in op.value)


# --------------------------------------------------------------------------
# Detection and the public API


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        ('{"process": 0, "type": "invoke", "f": "read", "value": null}\n', "jsonl"),
        ('\n\n  { "process": 0, "type": "invoke", "f": "read"}\n', "jsonl"),
        ("INFO  jepsen.util - 0\t:invoke\t:read\tnil\n", "porcupine-etcd"),
        ('{:process 0, :type :invoke, :f :get, :key "1", :value nil}\n', "porcupine-kv"),
        ("[{:process 0, :type :invoke, :f :read, :value nil}]", "edn"),
        ("; a comment\n({:process 0, :type :invoke, :f :read})", "edn"),
        ("{:process 0, :type :invoke, :f :read}\n{:process 0, :type :ok, :f :read}\n", "edn"),
        # kv only if every probed line is a whole map with :key
        ('{:process 0, :type :invoke, :f :get, :key "1"}\n{:process 0,\n :type :ok}', "edn"),
    ],
)
def test_detect_by_content(text: str, fmt: str) -> None:
    assert detect(text) == fmt


@pytest.mark.parametrize("text", ["", "   \n\n\t\n", "; only a comment\n"])
def test_empty_history_is_bad_input(text: str) -> None:
    with pytest.raises(HistoryError, match="no operations"):
        detect(text)
    with pytest.raises(HistoryError, match="no operations"):
        read_text(text, source="empty.edn")


def test_undetectable_text_suggests_format_option() -> None:
    with pytest.raises(HistoryError, match="--format") as info:
        read_text("hello world\n", source="h.txt")
    assert "h.txt" in str(info.value)


def test_collection_without_ops_is_bad_input() -> None:
    for fmt in ("auto", "edn"):
        with pytest.raises(HistoryError, match="no operations"):
            read_text("[]", fmt, source="x.edn")


def test_unknown_format_name_is_bad_input() -> None:
    with pytest.raises(HistoryError, match="porcupine-etcd"):
        read_text("[]", "yaml")


def test_history_error_is_input_error_with_exit_code_3() -> None:
    with pytest.raises(InputError) as info:
        read_text("[{:process 0 :type :wat :f :read}]", source="w.edn")
    assert info.value.exit_code == 3


def test_formats_tuple_is_the_cli_choice_list() -> None:
    assert FORMATS == ("auto", "jsonl", "edn", "porcupine-etcd", "porcupine-kv")


def test_missing_file_and_non_utf8_are_bad_input(tmp_path: Path) -> None:
    with pytest.raises(HistoryError, match="cannot read") as info:
        load(tmp_path / "nope.jsonl")
    assert "nope.jsonl" in str(info.value)
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"process": 0, "type": "invoke", "f": "r"}\n\xff\xfe\n')
    with pytest.raises(HistoryError, match="UTF-8") as info:
        load(bad)
    assert info.value.line == 2


# --------------------------------------------------------------------------
# Seam JSONL

GOOD = [
    {"index": 0, "time": 10, "process": 3, "type": "invoke", "f": "write", "value": ["k1", 4]},
    {"index": 1, "time": 20, "process": 3, "type": "ok", "f": "write", "value": ["k1", 4]},
    {
        "index": 2,
        "time": 30,
        "process": "nemesis",
        "type": "info",
        "f": "start",
        "value": {"n1": ["n2"]},
    },
    {"index": 3, "time": 40, "process": 1, "type": "invoke", "f": "read", "value": None},
    {"index": 4, "time": 50, "process": 1, "type": "ok", "f": "read", "value": None, "node": "n2"},
]


def _jsonl(rows: list[Any]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def test_jsonl_null_read_is_a_value_and_unknown_must_be_said() -> None:
    ops = list(read_text(_jsonl(GOOD)))
    assert ops[4].value is None and ops[4].unknown is False
    assert ops[4].extra == {"node": "n2"}
    rows = [*GOOD[:4], {**GOOD[4], "unknown": True}]
    assert list(read_text(_jsonl(rows)))[4].unknown is True


def test_jsonl_fields_and_defaults() -> None:
    rows = [
        {"process": 0, "type": "invoke", "f": "read"},
        {"process": 0, "type": "ok", "f": "read", "value": 3},
    ]
    ops = list(read_text(_jsonl(rows)))
    assert [op.index for op in ops] == [0, 1]  # missing index: the position
    assert ops[0].time == 0 and ops[0].value is None and ops[1].value == 3


def test_jsonl_round_trip_through_a_file(tmp_path: Path) -> None:
    history = read_text(_jsonl(GOOD))
    path = tmp_path / "h.jsonl"
    write_jsonl(history, path)
    again = load(path)
    assert list(again) == list(history)
    assert [op.extra for op in again] == [op.extra for op in history]


def test_write_jsonl_to_an_open_file_and_odd_values() -> None:
    ops = [
        Op(0, 0, 0, "invoke", "add", frozenset({3, 1, 2})),
        Op(1, 0, 0, "ok", "add", (1, "a")),
    ]
    buf = io.StringIO()
    write_jsonl(ops, buf)
    rows = [json.loads(line) for line in buf.getvalue().splitlines()]
    assert rows[0]["value"] == [1, 2, 3] and rows[1]["value"] == [1, "a"]


def test_jsonl_blank_lines_are_skipped_and_lines_still_counted(tmp_path: Path) -> None:
    text = "\n" + json.dumps(GOOD[0]) + "\n   \n" + json.dumps(GOOD[0]) + "\n"
    path = tmp_path / "blank.jsonl"
    path.write_text(text)
    with pytest.raises(HistoryError, match="invokes again") as info:
        load(path)
    assert info.value.line == 4 and "blank.jsonl" in str(info.value)
    assert "line 2" in str(info.value)  # names where the open op started


def test_jsonl_file_with_crlf_bom_and_no_final_newline(tmp_path: Path) -> None:
    path = tmp_path / "win.jsonl"
    path.write_bytes(("\ufeff" + json.dumps(GOOD[0]) + "\r\n\r\n" + json.dumps(GOOD[1])).encode())
    for fmt in ("auto", "jsonl"):
        history = load(path, fmt)
        assert list(history) == list(read_text(_jsonl(GOOD[:2])))
    path.write_bytes(path.read_bytes() + b"\r\n" + json.dumps(GOOD[1]).encode())
    with pytest.raises(HistoryError, match="no open invoke") as info:
        load(path)
    assert info.value.line == 4


OK0 = json.dumps(GOOD[0])
OK1 = json.dumps(GOOD[1])


@pytest.mark.parametrize(
    ("lines", "bad_line", "words"),
    [
        ([OK0, OK1, OK0[:25]], 3, "invalid JSON"),  # truncated last line
        ([OK0, OK0[:-1], OK1], 2, "invalid JSON"),
        ([OK0, OK1, OK1], 3, "no open invoke"),  # completion without invoke
        ([OK0, OK0], 2, "invokes again"),  # double invoke
        ([OK0, OK1, OK0.replace('"invoke"', '"started"')], 3, "unknown op type"),
        ([OK0, OK1, OK0.replace('"invoke"', '["invoke"]')], 3, "unknown op type"),
        ([OK0, OK1, OK0.replace('"process": 3', '"process": [3]')], 3, "process"),
        ([OK0, OK1.replace('"f": "write"', '"f": {"a": 1}')], 2, "f must be"),
        ([OK0, "garbage here", OK1], 2, "invalid JSON"),
        ([OK0, "[1, 2]", OK1], 2, "JSON object"),
        ([OK0, OK1 + " {}", OK0], 2, "Extra data"),
        ([OK0, OK1.replace('"process": 3', '"process": true')], 2, "process"),
        ([OK0, OK1.replace('"process": 3', '"process": "p3"')], 2, "process"),
        ([OK0.replace(', "f": "write"', "")], 1, "'f'"),
        ([OK0, OK1.replace('"f": "write"', '"f": 7')], 2, "f must be a string"),
        ([OK0, OK1.replace('"time"', '"unknown": 1, "time"')], 2, "unknown must be"),
    ],
)
def test_malformed_jsonl_names_file_and_line(
    tmp_path: Path, lines: list[str], bad_line: int, words: str
) -> None:
    path = tmp_path / "broken-history.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(HistoryError) as info:
        load(path)
    message = str(info.value)
    assert info.value.line == bad_line
    assert f"broken-history.jsonl:{bad_line}:" in message
    assert words in message


def test_an_invoke_never_completed_is_a_crashed_op_not_an_error() -> None:
    history = read_text(_jsonl(GOOD[:1]))
    [(invoke, done, _, _)] = history.pairs()
    assert invoke.f == "write" and done is None
    assert history.calls()[0].crashed


# --------------------------------------------------------------------------
# Property: write_jsonl then load gives the same ops

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)  # non-finite values are bad input
    | st.text(max_size=8)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)
EXTRA_KEYS = st.text(min_size=1, max_size=6).filter(
    lambda k: k not in ("index", "time", "process", "type", "f", "value", "unknown")
)


OP_SPECS = st.lists(
    st.tuples(
        st.integers(0, 9),  # 0: a nemesis op; otherwise the process slot it acts on
        st.sampled_from(["ok", "fail", "info"]),
        st.sampled_from(["read", "write", "cas", "x y"]),
        st.integers(0, 2**62),
        JSON_VALUES,
        st.booleans(),
        st.dictionaries(EXTRA_KEYS, JSON_VALUES, max_size=2),
    ),
    min_size=1,
    max_size=25,
)


def _history_from_specs(specs: list[tuple[Any, ...]]) -> list[Op]:
    """A valid op list: each process alternates invoke and completion; info retires it."""
    ops: list[Op] = []
    open_ops: dict[int, Op] = {}
    live = [0, 1, 2]
    next_process = len(live)
    for choice, typ, f, time, value, unknown, extra in specs:
        if choice == 0:
            ops.append(Op(len(ops), time, "nemesis", "info", f, value, False, extra))
            continue
        slot = choice % len(live)
        p = live[slot]
        if p not in open_ops:
            op = Op(len(ops), time, p, "invoke", f, value, False, extra)
            open_ops[p] = op
        else:
            op = Op(
                len(ops), time, p, typ, open_ops.pop(p).f, value, unknown and typ == "ok", extra
            )
            if typ == "info":
                live[slot] = next_process
                next_process += 1
        ops.append(op)
    return ops


@settings(max_examples=100, deadline=None)
@given(OP_SPECS)
def test_write_then_read_gives_identical_ops(specs: list[tuple[Any, ...]]) -> None:
    ops = _history_from_specs(specs)
    buf = io.StringIO()
    write_jsonl(ops, buf)
    again = list(read_text(buf.getvalue(), "jsonl"))
    assert again == ops
    assert [op.extra for op in again] == [op.extra for op in ops]
    assert read_text(buf.getvalue()).ops == again  # detection agrees
