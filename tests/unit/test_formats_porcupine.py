"""Porcupine's etcd logs and kv lines keep Porcupine's meaning."""

from __future__ import annotations

import pytest

from harness.core.errors import HistoryError
from harness.formats import read_text


def _etcd(*lines: str) -> str:
    return "".join(f"INFO  jepsen.util - {line}\n" for line in lines)


def test_etcd_line_shapes_map_to_ops() -> None:
    history = read_text(
        _etcd(
            "0\t:invoke\t:read\tnil",
            "0\t:ok\t:read\tnil",
            "1\t:invoke\t:cas\t[1 2]",
            "1\t:fail\t:cas\t[1 2]",
            "2\t:invoke\t:cas\t[3 4]",
            "2\t:ok\t:cas\t[3 4]",
            "3\t:invoke\t:read\tnil",
            "3\t:fail\t:read\t:timed-out",
            "4\t:invoke\t:write\t5",
            "4\t:info\t:write\t:timed-out",
            "5    :invoke   :cas    [-1 6]",
            "5\t:info\t:cas\t:timed-out",
            "6\t:invoke\t:write\t7",
            "6\t:ok\t:write\t7",
        ),
        source="etcd_x.log",
    )
    got = [(op.process, op.type, op.f, op.value, op.unknown) for op in history]
    assert got == [
        (0, "invoke", "read", None, False),
        (0, "ok", "read", None, False),  # empty register: a real value
        (1, "invoke", "cas", [1, 2], False),
        (1, "fail", "cas", [1, 2], False),  # compare failed: kept as a fail op
        (2, "invoke", "cas", [3, 4], False),
        (2, "ok", "cas", [3, 4], False),
        (3, "invoke", "read", None, False),
        (3, "ok", "read", None, True),  # timed-out read: completed, result unknown
        (4, "invoke", "write", 5, False),
        (4, "info", "write", None, False),  # crashed
        (5, "invoke", "cas", [-1, 6], False),
        (5, "info", "cas", None, False),
        (6, "invoke", "write", 7, False),
        (6, "ok", "write", 7, False),
    ]
    calls = history.calls(observed_failures=frozenset({"cas"}))
    by_process = {c.process: c for c in calls}
    assert by_process[1].output is False and not by_process[1].crashed
    assert by_process[4].crashed and by_process[5].crashed


def test_etcd_blank_lines_are_skipped_and_lines_counted() -> None:
    text = "\n" + _etcd("0\t:invoke\t:read\tnil") + "\n" + _etcd("0\t:invoke\t:read\tnil")
    with pytest.raises(HistoryError, match="invokes again") as info:
        read_text(text, "porcupine-etcd", source="e.log")
    assert info.value.line == 4


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("WARN  jepsen.util - 0\t:invoke\t:read\tnil", "not a jepsen.util log line"),
        ("INFO  jepsen.util - x\t:invoke\t:read\tnil", "process 'x'"),
        ("INFO  jepsen.util - 0\t:begin\t:read\tnil", "unknown op type"),
        ("INFO  jepsen.util - 0\tinvoke\t:read\tnil", "unknown op type"),
        ("INFO  jepsen.util - 0\t:invoke\tread\tnil", "not a keyword"),
        ("INFO  jepsen.util - 0\t:invoke\t:cas\t[1 x]", "[A B]"),
        ("INFO  jepsen.util - 0\t:invoke\t:write\tfive", "not nil, an integer"),
        ("INFO  jepsen.util - 0\t:invoke\t:read", "not a jepsen.util log line"),
        ("INFO  jepsen.util - 0\t:ok\t:write\t:timed-out", "no agreed meaning"),
    ],
)
def test_etcd_other_line_shapes_are_errors_naming_the_line(line: str, words: str) -> None:
    text = _etcd("9\t:invoke\t:read\tnil") + line + "\n"
    with pytest.raises(HistoryError) as info:
        read_text(text, "porcupine-etcd", source="etcd_bad.log")
    assert info.value.line == 2
    assert words in str(info.value) and "etcd_bad.log:2" in str(info.value)


def test_empty_etcd_log_is_bad_input() -> None:
    for fmt in ("auto", "porcupine-etcd"):
        with pytest.raises(HistoryError, match="no operations"):
            read_text("", fmt, source="etcd_095.log")


KV = (
    '{:process 0, :type :invoke, :f :get, :key "3", :value nil}\n'
    '{:process 0, :type :ok, :f :get, :key "3", :value ""}\n'
    '{:process 1, :type :invoke, :f :append, :key "3", :value "x 1 0 y"}\n'
    '{:process 1, :type :ok, :f :append, :key "3", :value "x 1 0 y"}\n'
)


def test_kv_values_pair_key_and_string() -> None:
    ops = list(read_text(KV, source="c01-ok.txt"))
    assert [op.value for op in ops] == [["3", None], ["3", ""], ["3", "x 1 0 y"], ["3", "x 1 0 y"]]
    assert not any(op.unknown for op in ops)
    assert [op.f for op in ops] == ["get", "get", "append", "append"]


def test_kv_lines_of_another_shape_are_read_the_same() -> None:
    reordered = (
        '{:type :invoke, :process 0, :key "3", :f :get, :value nil}\n'
        '{:process 0 :type :ok :f :get :key "3" :value "" :node "n1"}\n'
        '{:process 1, :type :invoke, :f :append, :key "3", :value "x 1 0 y"}\n'
        '{:process 1, :type :ok, :f :append, :key "3", :value "x 1 0 y"}\n'
    )
    ops = list(read_text(reordered, "porcupine-kv"))
    assert ops == list(read_text(KV))
    assert ops[1].extra == {"node": "n1"}


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("{:process 0, :type :ok, :f :get, :value nil}", "no :key"),
        ('{:process 0, :type :ok, :f :get, :key "3", :value "unclosed}', "unterminated string"),
        ('{:process 0, :type :ok, :f :get, :key "3"} {:process 1}', "one op map"),
        ('{:process :x, :type :ok, :f :get, :key "3"}', "process must be"),
    ],
)
def test_kv_bad_lines_name_the_line(line: str, words: str) -> None:
    text = KV.splitlines()[0] + "\n\n" + line + "\n"
    with pytest.raises(HistoryError) as info:
        read_text(text, "porcupine-kv", source="kv.txt")
    assert info.value.line == 3
    assert words in str(info.value) and "kv.txt:3" in str(info.value)
