"""`seam export`: what Seam writes for Knossos and Porcupine reads back, through Seam's
own readers, as the same ops; where a format means less, a note says so."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from checkers.linearizable.checker import LinearizableChecker
from checkers.linearizable.models import get_model
from harness.cli import cli
from harness.core.errors import HistoryError
from harness.core.op import UNKNOWN, History, Op
from harness.formats import load, read_text
from harness.formats.edn_writer import edn_value, write_edn
from harness.formats.porcupine_writer import write_etcd_log, write_kv, write_porcupine
from tests.conftest import ORACLE


def fields(op: Op, *, time: bool = True) -> tuple[Any, ...]:
    return (op.index, op.time if time else 0, op.process, op.type, op.f, op.value, op.unknown)


def exported(history: History, writer: Any) -> tuple[str, list[str]]:
    buf = io.StringIO()
    notes = writer(history, buf)
    return buf.getvalue(), notes


def run(*args: str, stdin: str | None = None) -> Any:
    return CliRunner().invoke(cli, list(args), input=stdin, catch_exceptions=False)


# --------------------------------------------------------------------------
# Round trips of generated histories

VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def histories(draw: Any, value: Any, functions: tuple[str, ...], nemesis: bool = True) -> History:
    """Well-paired histories: each process invokes, then completes (or not, at the end)."""
    ops: list[Op] = []
    processes = draw(st.integers(1, 4))
    for _ in range(draw(st.integers(1, 8))):
        p = draw(st.integers(0, processes - 1))
        f = draw(st.sampled_from(functions))
        v = draw(value(f))
        ops.append(Op(len(ops), draw(st.integers(0, 10**12)), p, "invoke", f, v))
        typ = draw(st.sampled_from(["ok", "ok", "fail", "info"]))
        out = draw(value(f)) if typ == "ok" else v
        ops.append(Op(len(ops), draw(st.integers(0, 10**12)), p, typ, f, out))
        if nemesis and draw(st.booleans()):
            ops.append(Op(len(ops), 0, "nemesis", "info", "start", "partition"))
    return History(ops)


def _not_null(f: str) -> Any:
    return VALUES.filter(lambda v: v is not None)


@settings(max_examples=150, deadline=None)
@given(history=histories(_not_null, ("read", "write", "cas", "txn", "my f")))
def test_edn_export_reads_back_as_the_same_ops(history: History) -> None:
    text, notes = exported(history, write_edn)
    again = read_text(text, "auto")
    assert [fields(op) for op in again] == [fields(op) for op in history]
    assert notes == []


def _etcd_value(f: str) -> Any:
    ints = st.integers(-(2**62), 2**62)
    if f == "cas":
        return st.tuples(ints, ints).map(list)
    return ints if f == "write" else st.none() | ints


@settings(max_examples=150, deadline=None)
@given(history=histories(_etcd_value, ("read", "write", "cas"), nemesis=False))
def test_etcd_export_reads_back_with_the_same_meaning(history: History) -> None:
    text, _ = exported(history, write_porcupine)
    again = read_text(text, "auto")
    assert len(again) == len(history)
    for a, b in zip(again, history, strict=True):
        if b.type == "info":  # the log says only ':timed-out'; an info's value is never used
            assert (a.process, a.type, a.f) == (b.process, "info", b.f)
        elif b.f == "read" and b.type == "fail":  # no constraint either way
            assert (a.type, a.unknown) == ("ok", True)
        elif b.f == "read" and b.type == "invoke":
            assert (a.process, a.type, a.value) == (b.process, "invoke", None)
        else:
            assert fields(a, time=False)[1:] == fields(b, time=False)[1:]
    model = get_model("etcd-register")
    assert _calls(again, model) == _calls(history, model)


def _calls(history: History, model: Any) -> list[tuple[Any, ...]]:
    """What a checker sees: (process, f, input, output, call, ret) per call (reads' input
    aside). A completed read with an unknown result constrains nothing, like a failed one
    (which is no call at all), so neither is listed."""
    return [
        (c.process, c.f, None if c.f == "read" else c.input, c.output, c.call, c.ret)
        for c in history.calls(observed_failures=model.observed_failures)
        if not (c.f == "read" and c.output is UNKNOWN and not c.crashed)
    ]


def _kv_value(f: str) -> Any:
    text = st.text(alphabet="abc xyz019", max_size=6)
    return st.tuples(text, st.none() if f == "get" else text).map(list)


@settings(max_examples=100, deadline=None)
@given(history=histories(_kv_value, ("get", "put", "append"), nemesis=False))
def test_kv_export_reads_back_as_the_same_ops(history: History) -> None:
    text, _ = exported(history, write_porcupine)
    assert text.startswith("{:process ")
    again = read_text(text, "auto")
    assert [fields(op, time=False) for op in again] == [fields(op, time=False) for op in history]


# --------------------------------------------------------------------------
# The oracle corpus: real Knossos and Porcupine files


def _manifest(fmt: str) -> list[str]:
    path = ORACLE / "MANIFEST.json"
    if not path.exists():
        return []
    return [e["file"] for e in json.loads(path.read_text()) if e["format"] == fmt and e["bytes"]]


@pytest.mark.parametrize("name", _manifest("porcupine-kv-edn-lines"))
def test_porcupine_kv_files_export_byte_for_byte(name: str, oracle_dir: Path) -> None:
    original = (oracle_dir / name).read_text()
    text, notes = exported(load(oracle_dir / name), write_kv)
    assert text == original and notes == []


@pytest.mark.parametrize("name", _manifest("jepsen-etcd-log")[::10])
def test_porcupine_etcd_logs_export_to_the_same_ops(name: str, oracle_dir: Path) -> None:
    history = load(oracle_dir / name)
    text, _ = exported(history, write_etcd_log)
    assert [fields(op) for op in read_text(text)] == [fields(op) for op in history]


def _first(folder: str) -> str:
    files = sorted((ORACLE / folder).glob("*.edn")) if (ORACLE / folder).exists() else []
    return files[0].name if files else "missing.edn"


@pytest.mark.parametrize(
    "name",
    [
        "knossos/cas-register/bad/cas-failure.edn",
        "knossos/cas-register/good/memstress3-12.edn",
        "knossos/multi-register/good/" + _first("knossos/multi-register/good"),
    ],
)
def test_knossos_files_export_to_the_same_ops_and_verdict(name: str, oracle_dir: Path) -> None:
    path = oracle_dir / name
    if not path.exists():
        pytest.skip(f"{name} is not in this corpus")
    history = load(path)
    text, notes = exported(history, write_edn)
    again = read_text(text, "edn")
    assert [fields(op) for op in again] == [fields(op) for op in history]
    assert [op.extra for op in again] == [op.extra for op in history]
    model = get_model(*(("multi-register",) if "multi" in name else ("cas-register", 0)))
    before = LinearizableChecker(model).check(None, history, None).valid
    assert LinearizableChecker(model).check(None, again, None).valid == before
    if "multi" in name:  # Knossos' multi-register needs keyword micro-op names
        assert "[[:read " in text or "[[:write " in text


# --------------------------------------------------------------------------
# Where the formats mean less, and what they cannot hold


def _rows(*rows: tuple[Any, ...]) -> str:
    keys = ("process", "type", "f", "value")
    return "".join(json.dumps(dict(zip(keys, r, strict=True))) + "\n" for r in rows)


NULL_READ = _rows((0, "invoke", "read", None), (0, "ok", "read", None))


def test_a_null_read_in_edn_is_unconstrained_and_the_note_says_so() -> None:
    history = read_text(NULL_READ)
    text, notes = exported(history, write_edn)
    again = read_text(text, "edn")
    assert again[1].unknown is True and history[1].unknown is False
    assert len(notes) == 1 and notes[0].startswith("1 ok reads of null")


def test_a_null_read_keeps_its_meaning_in_an_etcd_log() -> None:
    history = read_text(NULL_READ)
    text, _ = exported(history, write_etcd_log)
    assert text.splitlines()[1] == "INFO  jepsen.util - 0\t:ok\t:read\tnil"
    assert read_text(text)[1].unknown is False


def test_nemesis_ops_and_failed_cas_are_noted_for_porcupine() -> None:
    rows = _rows(
        ("nemesis", "info", "start", "partition"),
        (0, "invoke", "cas", [1, 2]),
        (0, "fail", "cas", [1, 2]),
    )
    text, notes = exported(read_text(rows), write_porcupine)
    assert len(text.splitlines()) == 2
    assert any("1 nemesis ops left out" in n for n in notes)
    assert any("1 failed cas ops" in n and "etcd-register" in n for n in notes)


@pytest.mark.parametrize(
    ("rows", "writer", "line", "words"),
    [
        (_rows((0, "invoke", "write", 1), (0, "ok", "write", "x")), write_etcd_log, 2, "integer"),
        (
            _rows((0, "invoke", "write", 1), (0, "ok", "write", 1)),
            write_kv,
            1,
            "get, put and append",
        ),
        (_rows((0, "invoke", "put", ["k", 1])), write_kv, 1, "strings"),
        (_rows((-1, "invoke", "read", None)), write_etcd_log, 1, "non-negative"),
    ],
)
def test_what_a_format_cannot_hold_names_the_line(
    rows: str, writer: Any, line: int, words: str
) -> None:
    with pytest.raises(HistoryError) as info:
        exported(read_text(rows, source="h.jsonl"), writer)
    assert info.value.line == line and words in str(info.value)
    assert str(info.value).startswith(f"h.jsonl:{line}: cannot export this op")


def test_edn_values_keep_their_types() -> None:
    assert edn_value([None, True, 1, 1.5, 'a"b\n\x01', {"k": [2]}]) == (
        '[nil true 1 1.5 "a\\"b\\n\\u0001" {"k" [2]}]'
    )
    assert read_text(
        "[{:process 0 :type :invoke :f :write :value "
        + edn_value(['a"b\n\x01', {"k": [2]}, 1e300])
        + "}]"
    )[0].value == ['a"b\n\x01', {"k": [2]}, 1e300]


# --------------------------------------------------------------------------
# The command


def test_export_command_writes_edn_that_seam_checks_the_same(tmp_path: Path) -> None:
    src = tmp_path / "h.jsonl"
    src.write_text(
        _rows(
            (0, "invoke", "write", 1),
            (0, "ok", "write", 1),
            (1, "invoke", "read", None),
            (1, "ok", "read", 2),
        )
    )
    out = tmp_path / "h.edn"
    r = run("export", str(src), "--format", "edn", "-o", str(out))
    assert r.exit_code == 0 and r.stdout == "" and r.stderr == ""
    r = run("check", str(out), "--model", "register")
    assert r.exit_code == 1 and "NOT linearizable (4 ops" in r.stdout


def test_export_reads_stdin_and_writes_stdout() -> None:
    r = run("export", "-", "--format", "porcupine", stdin=NULL_READ)
    assert r.exit_code == 0
    assert r.stdout == (
        "INFO  jepsen.util - 0\t:invoke\t:read\tnil\nINFO  jepsen.util - 0\t:ok\t:read\tnil\n"
    )


def test_export_of_an_op_that_does_not_fit_writes_nothing(tmp_path: Path) -> None:
    src = tmp_path / "h.jsonl"
    src.write_text(_rows((0, "invoke", "write", "x")))
    out = tmp_path / "out.log"
    r = run("export", str(src), "--format", "porcupine", "-o", str(out))
    assert r.exit_code == 3 and not out.exists()
    assert (
        r.stderr.startswith(f"seam: {src}:1: cannot export this op") and r.stderr.count("\n") == 1
    )


def test_export_of_a_stored_run_reads_its_history(tmp_path: Path) -> None:
    (tmp_path / "history.jsonl").write_text(NULL_READ)
    r = run("export", str(tmp_path), "--format", "porcupine-etcd")
    assert r.exit_code == 0 and r.stdout.count("\n") == 2
    r = run("export", str(tmp_path / "missing"), "--format", "edn")
    assert r.exit_code == 3 and r.stderr.count("\n") == 1
