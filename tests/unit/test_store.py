"""RunStore: the results layout, per-op durability, links, and torn last lines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path

import pytest

from harness.core.errors import ConfigError
from harness.core.op import Op
from harness.store import RunStore, open_history_lines

START = datetime(2026, 1, 2, 3, 4, 5)


def _op(i: int, typ: str = "invoke", process: int = 0) -> Op:
    return Op(index=i, time=i * 1000, process=process, type=typ, f="write", value=["k1", i], extra={"node": "n1"})


def test_layout_and_relative_links(tmp_path: Path) -> None:
    with RunStore(tmp_path, "register", START) as store:
        assert store.path == tmp_path / "register" / "20260102T030405"
        assert (store.path / "history.jsonl").exists()
    latest = tmp_path / "latest"
    per_test = tmp_path / "register" / "latest"
    assert os.readlink(latest) == "register/20260102T030405"
    assert os.readlink(per_test) == "20260102T030405"
    assert latest.resolve() == store.path.resolve() == per_test.resolve()


def test_same_second_runs_get_distinct_dirs_and_latest_moves(tmp_path: Path) -> None:
    a = RunStore(tmp_path, "register", START)
    b = RunStore(tmp_path, "register", START)
    a.close()
    b.close()
    assert a.path != b.path
    assert b.path.name == "20260102T030405-1"
    assert (tmp_path / "latest").resolve() == b.path.resolve()


def test_every_op_is_on_disk_before_record_returns(tmp_path: Path) -> None:
    store = RunStore(tmp_path, "t", START)
    try:
        for i in range(5):
            store.record(_op(i))
            # Another reader (a fresh open) sees the line at once: no user-space buffer.
            rows = [json.loads(line) for line in store.history_path.read_text().splitlines()]
            assert len(rows) == i + 1
            assert rows[-1] == {"index": i, "time": i * 1000, "process": 0, "type": "invoke", "f": "write",
                                "value": ["k1", i], "node": "n1"}
    finally:
        store.close()


def test_records_from_many_threads_are_whole_lines(tmp_path: Path) -> None:
    store = RunStore(tmp_path, "t", START)

    def worker(p: int) -> None:
        for i in range(200):
            store.record(_op(i, process=p))

    threads = [threading.Thread(target=worker, args=(p,)) for p in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store.close()
    rows = [json.loads(line) for line in store.history_path.read_text().splitlines()]
    assert len(rows) == 1600
    for p in range(8):
        assert [r["value"][1] for r in rows if r["process"] == p] == list(range(200))


def test_history_survives_sigkill_of_the_writer(tmp_path: Path) -> None:
    # A child records ops and is SIGKILLed without close(): every op it
    # reported as recorded must be in the file.
    code = f"""
import sys
from datetime import datetime
from harness.core.op import Op
from harness.store import RunStore
s = RunStore({str(tmp_path)!r}, "t", datetime(2026, 1, 2, 3, 4, 5))
for i in range(100000):
    s.record(Op(index=i, time=i, process=0, type="invoke" if i % 2 == 0 else "ok", f="read", value=None))
    if i == 499:
        print("recorded", flush=True)
import time
time.sleep(60)
"""
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "recorded"
    finally:
        proc.kill()
        proc.wait()
    rows = open_history_lines(tmp_path / "t" / "20260102T030405" / "history.jsonl")
    assert len(rows) >= 500
    assert [r["index"] for r in rows] == list(range(len(rows)))


def test_torn_last_line_is_dropped_but_a_torn_middle_line_is_an_error(tmp_path: Path) -> None:
    p = tmp_path / "h.jsonl"
    whole = json.dumps(_op(0).to_json())
    p.write_text(whole + "\n" + whole[:17])
    assert len(open_history_lines(p)) == 1
    p.write_text(whole[:17] + "\n" + whole + "\n")
    with pytest.raises(json.JSONDecodeError):
        open_history_lines(p)


def test_torn_last_line_is_read_or_reported_by_harness_formats(tmp_path: Path) -> None:
    # A torn last line can only come from a crash of the machine (we never write
    # half a line). harness.formats either drops it or names it; never anything else.
    import harness.formats.jsonl as formats
    from harness.core.errors import HistoryError

    store = RunStore(tmp_path, "t", START)
    store.record(_op(0))
    store.record(_op(1, "ok"))
    store.close()
    with open(store.history_path, "a") as f:
        f.write('{"index": 2, "time": 3, "proc')
    try:
        history = formats.read_jsonl(store.history_path.read_text(), source=str(store.history_path))
    except HistoryError as e:
        assert e.line == 3 and "history.jsonl" in str(e)
    else:
        assert [op.index for op in history] == [0, 1]


def test_write_json_is_whole_and_log_handler_writes_seam_log(tmp_path: Path) -> None:
    import logging

    store = RunStore(tmp_path, "t", START)
    store.write_json("test.json", {"seed": 7, "path": tmp_path})
    logger = logging.getLogger("seam.test-store")
    logger.setLevel(logging.INFO)
    handler = store.log_handler()
    logger.addHandler(handler)
    logger.info("hello from the run")
    logger.removeHandler(handler)
    store.close()
    assert json.loads((store.path / "test.json").read_text()) == {"seed": 7, "path": str(tmp_path)}
    assert not list(store.path.glob("*.tmp"))
    assert "hello from the run" in (store.path / "seam.log").read_text()


def test_record_after_close_raises_and_close_is_idempotent(tmp_path: Path) -> None:
    store = RunStore(tmp_path, "t", START)
    store.close()
    store.close()
    with pytest.raises(ValueError, match="after close"):
        store.record(_op(0))


@pytest.mark.parametrize("name", ["", "../x", ".hidden", "a/b"])
def test_bad_test_names_are_config_errors(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigError):
        RunStore(tmp_path, name, START)


def test_the_results_writer_keeps_every_anomaly_and_moves_graph_series_out(tmp_path: Path) -> None:
    from harness.core.op import Op
    from harness.core.verdict import Anomaly, CheckResult
    from harness.store import write_results

    history = [Op(0, 0, 1, "invoke", "read", None), Op(1, 5, 1, "ok", "read", 3)]
    stale = Anomaly("quorum", "stale-read", "read 3 is stale", ops=[0, 1])
    lint = Anomaly("quorum", "weak-quorum-config", "R+W <= N")  # names no op
    alert = Anomaly("signals", "duplicate-key-alert", "5 hits", severity="warning")
    result = CheckResult(valid=False, anomalies=[stale, lint, alert], stats={
        "quorum": {"valid": False, "anomalies": [stale.to_json(), lint.to_json()], "stats": {}},
        "signals": {"valid": True, "anomalies": [alert.to_json()], "stats": {"series": {"lag": [1, 2]}}},
    })
    written = write_results(tmp_path, result, history=history, test={"name": "t", "seed": 4})
    doc = json.loads((tmp_path / "results.json").read_text())
    assert (doc["schema"], doc["test"], doc["seed"], doc["valid"], doc["exit_code"]) == (2, "t", 4, False, 1)
    assert [a["history"] for a in doc["anomalies"]] == [f"anomalies/{n}.jsonl" for n in (1, 2, 3)]
    header, *ops = [json.loads(x) for x in (tmp_path / "anomalies/1.jsonl").read_text().splitlines()]
    assert (header["seam_case"], header["fingerprint"], header["verdict"]) == (1, "stale-read", "invalid")
    assert [op["index"] for op in ops] == [0, 1]
    assert json.loads((tmp_path / "anomalies/2.jsonl").read_text().splitlines()[0])["kind"] == "weak-quorum-config"
    assert [a["severity"] for a in doc["anomalies"]] == ["error", "error", "warning"]
    assert "series" not in doc["checkers"]["signals"]["stats"]
    assert json.loads((tmp_path / "series.json").read_text()) == {"signals": {"lag": [1, 2]}}
    assert set(written) >= {"results.json", "series.json", "anomalies/1.jsonl"}
