"""Hostile input: every bad history is exit 3 and one line ``seam: FILE:LINE: problem``.

The CLI cases run the real ``seam`` in a subprocess (a traceback, a hang or
exit 1/2 fails them); the fuzz tests feed arbitrary bytes and structures to
every reader, which must return a History or raise a one-line InputError.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.core.errors import InputError
from harness.core.op import History
from harness.formats import FORMATS, read_data
from tests.conftest import REPO

BIG = "9" * 5000
GOOD = '{"process": 0, "type": "invoke", "f": "write", "value": 1}\n'


def seam(
    *args: str, stdin: bytes | None = None, timeout: float = 60
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        input=stdin,
        capture_output=True,
        cwd=REPO,
        timeout=timeout,
    )


def assert_one_line_exit_3(r: subprocess.CompletedProcess, where: str) -> str:
    err = r.stderr.decode()
    assert r.returncode == 3, (r.returncode, err[-2000:])
    assert "Traceback" not in err
    assert err.count("\n") == 1, err[:2000]
    assert re.match(rf"seam: {re.escape(where)}(:\d+)?:? \S", err), err[:300]
    return err


def _jsonl_row(**fields: str) -> str:
    row = {"process": "0", "type": '"invoke"', "f": '"write"', "value": "1", **fields}
    return "{" + ", ".join(f'"{k}": {v}' for k, v in row.items()) + "}\n"


def _edn(**fields: str) -> str:
    row = {"process": "0", "type": ":invoke", "f": ":write", "value": "1", **fields}
    return "[{" + " ".join(f":{k} {v}" for k, v in row.items()) + "}]\n"


def _nested(depth: int, json_syntax: bool) -> str:
    return "[" * depth + "1" + "]" * depth


HOSTILE = {
    # 5000-digit integers, in each field and format
    "jsonl-value": _jsonl_row(value=BIG),
    "jsonl-time": _jsonl_row(time=BIG),
    "jsonl-process": _jsonl_row(process=BIG),
    "edn-value": _edn(value=BIG),
    "edn-value-N": _edn(value=BIG + "N"),
    "edn-time": _edn(time=BIG),
    "edn-process": _edn(process=BIG),
    "etcd-value": f"INFO  jepsen.util - 0\t:invoke\t:write\t{BIG}\n",
    "etcd-cas": f"INFO  jepsen.util - 0\t:invoke\t:cas\t[1 {BIG}]\n",
    "etcd-process": f"INFO  jepsen.util - {BIG}\t:invoke\t:read\tnil\n",
    "kv-process": f'{{:process {BIG}, :type :invoke, :f :get, :key "1", :value nil}}\n',
    "kv-value": f'{{:process 0, :type :invoke, :f :put, :key "1", :value {BIG}}}\n',
    # deep nesting
    "jsonl-900": _jsonl_row(value=_nested(900, True)),
    "jsonl-100000": _jsonl_row(value=_nested(100_000, True)),
    "jsonl-100000-map": _jsonl_row(value='{"a": ' * 100_000 + "1" + "}" * 100_000),
    "jsonl-extra-900": _jsonl_row(error=_nested(900, True)),
    "edn-900": _edn(value=_nested(900, False)),
    "edn-900-list": _edn(value="(" * 900 + "1" + ")" * 900),
    "edn-100000": _edn(value=_nested(100_000, False)),
    "edn-100000-set": _edn(value="#{" * 100_000 + "1" + "}" * 100_000),
    "edn-100000-top": _nested(100_000, False),
    "edn-900-after-a-tag": _edn(error='#inst "2020-01-01T00:00:00Z"', value=_nested(900, False)),
    # values no checker can compare
    "jsonl-nan": _jsonl_row(value="NaN"),
    "edn-inf": _edn(value="##Inf"),
    # syntax errors that edn_format reports over several lines
    "edn-symbol-then-unterminated": '[{:a some-symbol}\n {:b "never\n closed}]\n',
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_file_is_one_line_and_exit_3(tmp_path: Path, name: str) -> None:
    f = tmp_path / f"{name}.txt"
    f.write_text(HOSTILE[name])
    assert_one_line_exit_3(seam("check", str(f)), str(f))


@pytest.mark.parametrize("name", ["jsonl-value", "edn-900", "jsonl-100000"])
def test_hostile_stdin_is_one_line_and_exit_3(name: str) -> None:
    assert_one_line_exit_3(seam("check", "-", stdin=HOSTILE[name].encode()), "<stdin>")


@pytest.mark.parametrize(
    ("option", "value"),
    [("--initial", BIG), ("--initial", "[" * 900 + "]" * 900), ("--initial", "NaN")],
)
def test_hostile_initial_is_one_line_and_exit_3(tmp_path: Path, option: str, value: str) -> None:
    f = tmp_path / "h.jsonl"
    f.write_text(GOOD)
    r = seam("check", str(f), option, value)
    assert_one_line_exit_3(r, "--initial")
    assert r.stdout == b""


def test_timeout_nan_is_one_line_and_exit_3(tmp_path: Path) -> None:
    f = tmp_path / "h.jsonl"
    f.write_text(GOOD)
    r = seam("check", str(f), "--timeout", "nan")
    assert_one_line_exit_3(r, "--timeout nan")
    assert r.stdout == b""


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    """Opening a FIFO waits for a writer; nobody writes here, so a hang times out."""
    fifo = tmp_path / "history.fifo"
    os.mkfifo(fifo)
    for extra in ([], ["--model", "register"], ["--format", "edn"]):
        r = seam("check", str(fifo), *extra, timeout=20)
        err = assert_one_line_exit_3(r, str(fifo))
        assert "FIFO" in err and "seam check -" in err


def test_unreadable_file_without_model_is_one_line() -> None:
    """Detecting the format (no --model) reads the file first: that read must fail cleanly."""
    from click.testing import CliRunner

    from harness.cli import cli

    with tempfile.TemporaryDirectory() as d:
        os.chmod(d, 0o755)  # nobody may enter, but not read the file
        f = Path(d) / "secret.jsonl"
        f.write_text(GOOD)
        f.chmod(0)
        as_root = os.geteuid() == 0
        if as_root:  # root reads anything: be nobody for the real refusal
            os.seteuid(65534)
        try:
            r = CliRunner().invoke(cli, ["check", str(f)], catch_exceptions=False)
        finally:
            if as_root:
                os.seteuid(0)
    assert r.exit_code == 3
    assert r.stderr == f"seam: {f}: cannot read the history: Permission denied\n"
    assert r.stdout == ""


def test_unwritable_out_fails_before_any_verdict(tmp_path: Path) -> None:
    f = tmp_path / "h.jsonl"
    f.write_text(GOOD)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    r = seam("check", str(f), "--out", str(blocker / "results"))
    assert_one_line_exit_3(r, f"--out {blocker / 'results'}")
    assert r.stdout == b""  # no verdict was printed before the failure


def test_one_bad_file_does_not_stop_the_others(tmp_path: Path) -> None:
    good1, good2 = tmp_path / "good1.jsonl", tmp_path / "good2.jsonl"
    good1.write_text(GOOD)
    good2.write_text(GOOD)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(HOSTILE["jsonl-100000"])
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    r = seam("check", str(good1), str(bad), str(fifo), str(tmp_path / "missing"), str(good2))
    err = r.stderr.decode()
    assert r.returncode == 3 and "Traceback" not in err
    assert [line.split(":")[0] for line in err.splitlines()] == ["seam"] * 3
    for where in (bad, fifo, tmp_path / "missing"):
        assert f"seam: {where}" in err
    out = r.stdout.decode()
    assert f"{good1}: linearizable" in out and f"{good2}: linearizable" in out


def test_check_reads_stdin() -> None:
    text = (
        '{"process": 0, "type": "invoke", "f": "write", "value": 1}\n'
        '{"process": 0, "type": "ok", "f": "write", "value": 1}\n'
        '{"process": 1, "type": "invoke", "f": "read", "value": null}\n'
        '{"process": 1, "type": "ok", "f": "read", "value": 2}\n'
    )
    r = seam("check", "-", "--model", "register", stdin=text.encode())
    assert r.returncode == 1, r.stderr
    assert r.stdout.decode().startswith("<stdin>: NOT linearizable (4 ops")
    etcd = REPO.parent / "shared/oracle/porcupine/jepsen/etcd_000.log"
    if etcd.exists():  # format detection works on stdin too
        r = seam("check", "-", stdin=etcd.read_bytes())
        assert "default for porcupine-etcd" in r.stdout.decode()


# --------------------------------------------------------------------------
# Fuzzing the readers

READ_FORMATS = [f for f in FORMATS]


def _read_or_input_error(data: bytes, fmt: str) -> None:
    try:
        history = read_data(data, fmt, source="fuzz")
    except InputError as e:
        message = str(e)
        assert "\n" not in message and "\r" not in message, message
        assert message.startswith("fuzz"), message
        return
    assert isinstance(history, History) and len(history) > 0


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(data=st.binary(max_size=300), fmt=st.sampled_from(READ_FORMATS))
def test_arbitrary_bytes_give_a_history_or_one_input_error(data: bytes, fmt: str) -> None:
    _read_or_input_error(data, fmt)


EDN_TOKENS = st.sampled_from(
    [
        "[", "]", "(", ")", "{", "}", "#{", " ", ",", "\n", ";c\n",
        ":process", ":type", ":f", ":value", ":time", ":key", ":index", ":error",
        ":invoke", ":ok", ":fail", ":info", ":read", ":write", ":cas", ":nemesis",
        "0", "1", "-1", "2.5", "1e400", "1N", "1/2", "1.5M", "0x1F", BIG, "12abc",
        "nil", "true", "false", '"s"', '"a\\"b"', '"\\q"', '"', ":", "##Inf", "##NaN",
        "sym", "#inst", '"2020-01-01T00:00:00Z"', "#_", "\\c", "#uuid",
    ]
)  # fmt: skip


@FUZZ
@given(
    tokens=st.lists(EDN_TOKENS, max_size=40), fmt=st.sampled_from(["auto", "edn", "porcupine-kv"])
)
def test_edn_token_soup_gives_a_history_or_one_input_error(tokens: list[str], fmt: str) -> None:
    _read_or_input_error(" ".join(tokens).encode(), fmt)


@FUZZ
@given(tokens=st.lists(EDN_TOKENS, max_size=30))
def test_edn_op_maps_with_odd_values_give_a_history_or_one_input_error(tokens: list[str]) -> None:
    """Well-formed op maps whose values are token soup reach the op reader's checks."""
    value = " ".join(tokens)
    text = (
        f"[{{:process 0 :type :invoke :f :write :value [{value}]}}\n"
        f" {{:process 0 :type :ok :f :write :value [{value}]}}]"
    )
    _read_or_input_error(text.encode(), "edn")


JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and Infinity included: they must be refused
    | st.text(max_size=5)
    | st.sampled_from(["invoke", "ok", "fail", "info", "nemesis", "read", "write"])
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=10,
)
ROWS = st.dictionaries(
    st.sampled_from(["process", "type", "f", "value", "time", "index", "unknown", "extra"]),
    JSON_VALUES,
)


@FUZZ
@given(rows=st.lists(ROWS | JSON_VALUES, min_size=1, max_size=6), deep=st.integers(0, 1200))
def test_jsonl_structures_give_a_history_or_one_input_error(rows: list[Any], deep: int) -> None:
    lines = [json.dumps(r) for r in rows]
    lines.append(_jsonl_row(value=_nested(deep, True)).strip())
    _read_or_input_error("\n".join(lines).encode(), "auto")


ETCD_PARTS = st.sampled_from(
    ["INFO", "jepsen.util", "-", "0", "7", BIG, ":invoke", ":ok", ":fail", ":info", ":read",
     ":write", ":cas", ":x", "nil", "1", "[1", "2]", "[a", "b]", ":timed-out", "-3", "\t"]
)  # fmt: skip


@FUZZ
@given(lines=st.lists(st.lists(ETCD_PARTS, max_size=9), min_size=1, max_size=5))
def test_etcd_lines_give_a_history_or_one_input_error(lines: list[list[str]]) -> None:
    text = "\n".join("INFO  jepsen.util - " + " ".join(parts) for parts in lines)
    _read_or_input_error(text.encode(), "porcupine-etcd")
