"""The bulk path (harness.formats.jsonl_calls + checkers.linearizable.bulk) agrees with
the ordinary one: the same calls from the same file, a proof exactly when the
ordinary check says linearizable, and None (so the ordinary path runs) for
anything else, bad input included."""

from __future__ import annotations

import json
import os
import random
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checkers.linearizable.bulk import check_file
from checkers.linearizable.checker import LinearizableChecker
from checkers.linearizable.models import get_model
from harness.cli import cli
from harness.core.errors import HistoryError
from harness.formats import load
from harness.formats.jsonl_calls import NotPlain, read_range, split_ranges, stitch


def simulate(
    rng: random.Random, *, keys: int, ops: int, independent: bool, lie: float
) -> list[dict[str, Any]]:
    """A cas-register history per key, processes interleaved; with probability
    ``lie`` a read reports a value it did not see (often not linearizable)."""
    value: dict[int, Any] = {}
    rows: list[dict[str, Any]] = []
    open_: dict[int, tuple[str, Any, int]] = {}
    next_process = 20
    procs = list(range(8))
    for _ in range(ops):
        p = rng.choice(procs)
        if p in open_:
            f, v, key = open_.pop(p)
            roll = rng.random()
            if roll < 0.08:
                if rng.random() < 0.5:
                    rows.append(_row(p, "info", f, v, key, independent))
                procs[procs.index(p)] = next_process
                next_process += 1
                continue
            if f == "write":
                value[key] = v
                rows.append(_row(p, "ok", f, v, key, independent))
            elif f == "read":
                seen = value.get(key)
                if rng.random() < lie:
                    seen = rng.randrange(4)
                rows.append(_row(p, "ok", f, seen, key, independent))
            elif value.get(key) == v[0]:
                value[key] = v[1]
                rows.append(_row(p, "ok", f, v, key, independent))
            else:
                rows.append(_row(p, "fail", f, v, key, independent))
            continue
        key = rng.randrange(keys) if independent else 0
        f = rng.choice(["read", "write", "cas"])
        v = (
            None
            if f == "read"
            else rng.randrange(4)
            if f == "write"
            else [rng.randrange(4), rng.randrange(4)]
        )
        open_[p] = (f, v, key)
        rows.append(_row(p, "invoke", f, v, key, independent))
        if rng.random() < 0.03:
            rows.append({"process": "nemesis", "type": "info", "f": "start", "value": None})
    for i, r in enumerate(rows):
        r["index"] = i
    return rows


def _row(p: int, typ: str, f: str, v: Any, key: int, independent: bool) -> dict[str, Any]:
    return {"process": p, "type": typ, "f": f, "value": [key, v] if independent else v}


def write(path: Path, rows: list[dict[str, Any]], sep: str = "\n") -> Path:
    path.write_text("".join(json.dumps(r) + sep for r in rows))
    return path


def ordinary(path: Path, model: Any, independent: bool) -> Any:
    """(valid, ops, {key: calls}) the ordinary way, or "error" for bad input."""
    try:
        history = load(path)
        result = LinearizableChecker(model, independent=independent).check(None, history, None)
    except HistoryError:
        return "error"
    keys = {str(k): row["calls"] for k, row in result.stats["per_key"].items()}
    return result.valid, len(history), keys


def bulk(path: Path, model: Any, independent: bool, jobs: int) -> Any:
    got = check_file(str(path), model, independent=independent, jobs=jobs)
    if got is None:
        return None
    return (
        True,
        got.ops,
        {"all" if r["key"] is None else str(r["key"]): r["calls"] for r in got.keys},
    )


def agree(path: Path, model: Any, independent: bool, jobs: int) -> None:
    want = ordinary(path, model, independent)
    got = bulk(path, model, independent, jobs)
    if want == "error" or want[0] is not True:
        assert got is None, (want, got)
    else:
        assert got == want


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 10**6),
    independent=st.booleans(),
    lie=st.sampled_from([0.0, 0.0, 0.2]),
    jobs=st.sampled_from([1, 2, 3]),
)
def test_the_bulk_path_proves_exactly_what_the_ordinary_path_proves(
    tmp_path: Path, seed: int, independent: bool, lie: float, jobs: int
) -> None:
    rng = random.Random(seed)
    rows = simulate(rng, keys=3, ops=rng.randrange(1, 120), independent=independent, lie=lie)
    path = write(tmp_path / f"h{seed}.jsonl", rows)
    agree(path, get_model("cas-register"), independent, jobs)


def test_ranges_read_and_stitched_give_the_calls_history_calls_gives(tmp_path: Path) -> None:
    rng = random.Random(7)
    rows = simulate(rng, keys=4, ops=400, independent=True, lie=0.0)
    path = write(tmp_path / "h.jsonl", rows)
    offsets, at = [], 0
    for line in path.read_bytes().split(b"\n")[:-1]:
        offsets.append(at)
        at += len(line) + 1
    line_of = {off: i for i, off in enumerate(offsets)}
    want = sorted(
        (
            c.key,
            c.process,
            c.f,
            json.dumps(c.input),
            repr(c.output),
            c.call,
            c.ret,
            c.invoke_index,
            c.complete_index,
        )
        for c in load(path).calls(independent=True)
    )
    for parts in (1, 2, 5, 13):
        ranges = split_ranges(str(path), os.path.getsize(path), parts)
        assert ranges[0][0] == 0 and ranges[-1][1] == os.path.getsize(path)
        assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:], strict=False))
        read = [
            read_range(str(path), a, b, independent=True, observed_failures=frozenset())
            for a, b in ranges
        ]
        got_rows = [r for rc in read for r in rc.calls] + stitch(read, True, frozenset())
        got = sorted(
            (k, p, f, json.dumps(i), repr(o), line_of[c], line_of.get(r, r), ii, ci)
            for k, p, f, i, o, c, r, ii, ci in got_rows
        )
        assert got == want, parts
        assert sum(rc.ops for rc in read) == len(rows)


PLAIN = [
    {"index": 0, "process": 0, "type": "invoke", "f": "write", "value": [1, 5]},
    {"index": 1, "process": 0, "type": "ok", "f": "write", "value": [1, 5]},
    {"index": 2, "process": 1, "type": "invoke", "f": "read", "value": [1, None]},
    {"index": 3, "process": 1, "type": "ok", "f": "read", "value": [1, 5]},
]


@pytest.mark.parametrize(
    "text",
    [
        "\n".join(json.dumps(r) for r in PLAIN[:2]) + "\n{not json}\n",
        json.dumps(PLAIN[0]) + "\n" + json.dumps({**PLAIN[1], "type": "done"}) + "\n",
        json.dumps(PLAIN[1]) + "\n",  # a lone ok
        json.dumps(PLAIN[0]) + "\n" + json.dumps(PLAIN[0]) + "\n",  # torn
        json.dumps({**PLAIN[0], "value": [1, 2**70]})
        + "\n"
        + json.dumps({**PLAIN[1], "value": [1, 2**70]})
        + "\n",
        json.dumps({**PLAIN[0], "value": [1, 2**70 + 1]})
        + "\n"
        + json.dumps({**PLAIN[1], "value": [1, 2**70]})
        + "\n",
        '{"process": 0, "type": "invoke", "f": "write", "value": [1, NaN]}\n',
        json.dumps({**PLAIN[0], "value": 5}) + "\n",  # not [key, value]
        json.dumps({**PLAIN[0], "deep": [[[[[[1]]]]]] * 1 + [json.loads("[" * 150 + "]" * 150)]})
        + "\n",
        json.dumps({**PLAIN[0], "unknown": "yes"}) + "\n",
        json.dumps({**PLAIN[0], "process": True}) + "\n",
        json.dumps({**PLAIN[0], "f": 3}) + "\n",
        '["process", 0]\n',
        json.dumps(PLAIN[0])
        + "\n"
        + json.dumps({**PLAIN[1], "f": "cas", "value": [1, "x"]})
        + "\n",
    ],
)
def test_input_that_is_not_plain_goes_the_ordinary_way(tmp_path: Path, text: str) -> None:
    path = tmp_path / "h.jsonl"
    path.write_text(text)
    want = ordinary(path, get_model("cas-register"), True)
    for jobs in (1, 2):
        got = bulk(path, get_model("cas-register"), True, jobs)
        assert got is None or (want != "error" and got == want), (want, got)


def test_a_big_integer_is_never_rounded_into_a_match(tmp_path: Path) -> None:
    """A float reader would take 2**70 and 2**70 + 1 for the same number: the bulk path must not
    call the read of one a read of the other."""
    rows = [
        {"process": 0, "type": "invoke", "f": "write", "value": [1, 2**70]},
        {"process": 0, "type": "ok", "f": "write", "value": [1, 2**70]},
        {"process": 1, "type": "invoke", "f": "read", "value": [1, None]},
        {"process": 1, "type": "ok", "f": "read", "value": [1, 2**70 + 1]},
    ]
    path = write(tmp_path / "h.jsonl", rows)
    assert ordinary(path, get_model("cas-register"), True)[0] is False
    assert bulk(path, get_model("cas-register"), True, 1) is None


def test_blank_lines_bom_crlf_and_nemesis_ops_are_plain(tmp_path: Path) -> None:
    rows = [
        *PLAIN[:2],
        {"process": "nemesis", "type": "info", "f": "start", "value": None},
        *PLAIN[2:],
    ]
    path = tmp_path / "h.jsonl"
    path.write_bytes(
        b"\xef\xbb\xbf" + "\r\n\r\n".join(json.dumps(r) for r in rows).encode() + b"\r\n"
    )
    got = bulk(path, get_model("cas-register"), True, 2)
    assert got == ordinary(path, get_model("cas-register"), True) == (True, 5, {"1": 2})


def test_observed_failures_and_unknown_reads_as_the_history_defines_them(tmp_path: Path) -> None:
    """etcd-register: a failed cas saw another value (an observation); a read
    marked unknown constrains nothing."""
    rows = [
        {"process": 0, "type": "invoke", "f": "write", "value": 1},
        {"process": 0, "type": "ok", "f": "write", "value": 1},
        {"process": 1, "type": "invoke", "f": "cas", "value": [0, 2]},
        {"process": 1, "type": "fail", "f": "cas", "value": [0, 2]},
        {"process": 2, "type": "invoke", "f": "read", "value": None},
        {"process": 2, "type": "ok", "f": "read", "value": 7, "unknown": True},
    ]
    path = write(tmp_path / "h.jsonl", rows)
    model = get_model("etcd-register")
    assert bulk(path, model, False, 2) == ordinary(path, model, False) == (True, 6, {"all": 3})


def test_seam_check_prints_the_same_verdict_line_by_either_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import harness.commands.check as check

    rows = simulate(random.Random(3), keys=3, ops=200, independent=True, lie=0.0)
    path = write(tmp_path / "h.jsonl", rows)
    args = ["check", "--independent", "-j", "2", "--verbose", str(path)]
    normal = CliRunner().invoke(cli, args, catch_exceptions=False)
    monkeypatch.setattr(check, "BULK_BYTES", 0)
    fast = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert normal.exit_code == fast.exit_code == 0

    def shape(out: str) -> str:  # the times differ
        return re.sub(r"[0-9.e-]+ s\b", "T s", out)

    assert shape(fast.output) == shape(normal.output)
    assert fast.output.splitlines()[0].split("(")[1].split()[0] == str(len(rows))


def test_seam_check_explains_a_failure_found_on_the_bulk_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import harness.commands.check as check

    monkeypatch.setattr(check, "BULK_BYTES", 0)
    rows = [
        *PLAIN[:2],
        {"index": 2, "process": 1, "type": "invoke", "f": "read", "value": [1, None]},
        {"index": 3, "process": 1, "type": "ok", "f": "read", "value": [1, 9]},
    ]
    path = write(tmp_path / "h.jsonl", rows)
    got = CliRunner().invoke(cli, ["check", "--independent", str(path)], catch_exceptions=False)
    assert got.exit_code == 1
    assert "NOT linearizable" in got.output and "read" in got.output


def test_not_plain_is_raised_by_the_range_reader(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    path.write_text(json.dumps(PLAIN[1]) + "\n" + json.dumps(PLAIN[1]) + "\n")
    with pytest.raises(NotPlain):
        read_range(
            str(path), 0, os.path.getsize(path), independent=True, observed_failures=frozenset()
        )


def test_brackets_inside_strings_are_not_nesting(tmp_path: Path) -> None:
    """A long line with many brackets in a string is looked at closely, and is plain."""
    rows = [{**r, "error": "[{" * 200} for r in PLAIN]
    path = write(tmp_path / "h.jsonl", rows)
    got = bulk(path, get_model("cas-register"), True, 1)
    assert got == ordinary(path, get_model("cas-register"), True) == (True, 4, {"1": 2})


def stale_and_hard(stale: int, hard: int) -> list[dict[str, Any]]:
    """Key ``stale`` is a stale read (found at once); key ``hard`` is 24
    concurrent writes and two reads no order explains (a search far beyond
    this test's time). An int key's worker is the key modulo the workers."""
    rows = [
        {"process": 0, "type": "invoke", "f": "write", "value": [stale, 1]},
        {"process": 0, "type": "ok", "f": "write", "value": [stale, 1]},
        {"process": 1, "type": "invoke", "f": "read", "value": [stale, None]},
        {"process": 1, "type": "ok", "f": "read", "value": [stale, 7]},
    ]
    for t in ("invoke", "ok"):
        rows += [
            {"process": 10 + p, "type": t, "f": "write", "value": [hard, p % 3]} for p in range(24)
        ]
    for p, t, v in [(99, "invoke", None), (99, "ok", 0), (98, "invoke", None), (98, "ok", 1)]:
        rows.append({"process": p, "type": t, "f": "read", "value": [hard, v]})
    return rows


@pytest.mark.parametrize(
    "stale, hard, handler",
    [
        (0, 1, True),  # worker 1 still searching, with the parent's SIGTERM handler
        (1, 0, False),  # worker 0 still searching when worker 1 settles it
    ],
)
def test_one_failing_key_ends_the_bulk_check_however_hard_the_others(
    tmp_path: Path, stale: int, hard: int, handler: bool
) -> None:
    """The first key found not linearizable settles the history: the parent
    stops waiting and ends the other worker. A worker that kept the parent's
    SIGTERM handler would never end, and waiting on workers in order would
    wait for the hard key: either way the check would hang."""
    import subprocess
    import sys
    import textwrap

    path = write(tmp_path / "h.jsonl", stale_and_hard(stale, hard))
    script = textwrap.dedent(
        f"""
        import signal
        if {handler}:
            signal.signal(signal.SIGTERM, lambda *_: print("handled", flush=True))
        from checkers.linearizable.bulk import check_file
        from checkers.linearizable.models import get_model
        got = check_file({str(path)!r}, get_model("cas-register"), independent=True, jobs=2)
        print("proven", got is not None, flush=True)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "proven False" in done.stdout and "handled" not in done.stdout


def _linearizable(tmp_path: Path) -> Path:
    rows = simulate(random.Random(7), keys=12, ops=600, independent=True, lie=0.0)
    return write(tmp_path / "h.jsonl", rows)


def test_workers_hand_rows_over_in_files_that_are_gone_afterwards(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    path = _linearizable(tmp_path)
    made: list[Path] = []
    real_mkdtemp = tempfile.mkdtemp

    def spy(**kwargs: Any) -> str:
        folder = real_mkdtemp(dir=tmp_path, **kwargs)
        made.append(Path(folder))
        return folder

    monkeypatch.setattr("tempfile.mkdtemp", spy)
    want = ordinary(path, get_model("cas-register"), True)
    assert want[0] is True
    assert bulk(path, get_model("cas-register"), True, 3) == want
    assert len(made) == 1 and made[0].name.startswith("seam-bulk-") and not made[0].exists()


def test_without_a_writable_temporary_folder_one_process_reads_it_all(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _linearizable(tmp_path)

    def no_room(*_args: Any, **_kwargs: Any) -> str:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("tempfile.mkdtemp", no_room)
    assert bulk(path, get_model("cas-register"), True, 2) == ordinary(path, get_model("cas-register"), True)


def test_a_worker_that_cannot_write_its_rows_leaves_the_file_to_the_ordinary_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import checkers.linearizable.bulk as bulk_module

    path = _linearizable(tmp_path)
    monkeypatch.setattr(bulk_module, "_rows_file", lambda *_: str(tmp_path / "missing" / "rows"))
    assert bulk(path, get_model("cas-register"), True, 2) is None
