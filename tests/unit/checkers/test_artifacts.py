"""checkers/pipeline/artifacts.py: reading collected node files and normalising the test description."""

from __future__ import annotations

import json

import pytest

from checkers.pipeline.artifacts import (
    ArtifactError,
    Artifacts,
    clean,
    order_of_key,
    read_jsonl,
)


def test_rows_carry_their_source_and_a_torn_last_line_is_skipped(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_text('{"a": 1}\n\n{"a": 2}\n{"a": ')
    rows = read_jsonl(p, label="nodes/n1/x.jsonl")
    assert [r["a"] for r in rows] == [1, 2]
    assert [r["_src"] for r in rows] == ["nodes/n1/x.jsonl:1", "nodes/n1/x.jsonl:3"]
    assert clean(rows[1]) == {"a": 2, "source": "nodes/n1/x.jsonl:3"}


def test_a_corrupt_line_in_the_middle_names_file_and_line(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_text('{"a": 1}\n{oops\n{"a": 2}\n')
    with pytest.raises(ArtifactError, match=r"nodes/n2/x.jsonl:2: not valid JSON"):
        read_jsonl(p, label="nodes/n2/x.jsonl")
    p.write_text("[1, 2]\n")
    with pytest.raises(ArtifactError, match="expected a JSON object, got list"):
        read_jsonl(p)


def test_missing_file_is_empty_and_missing_run_is_not_present(tmp_path):
    assert read_jsonl(tmp_path / "nope.jsonl") == []
    assert not Artifacts(None).present and Artifacts(None).nodes() == []
    assert not Artifacts(tmp_path).present


def test_metrics_lines_in_both_shapes_sorted_by_time_failed_scrapes_skipped(tmp_path):
    d = tmp_path / "nodes" / "n1"
    d.mkdir(parents=True)
    lines = [
        {"time": 2.0, "counters": {"c": 2}, "gauges": {}, "histograms": {}},
        {"time": 1.0, "metrics": {"counters": {"c": 1}, "gauges": {"g": 5}}},
        {"time": 3.0, "error": "timed out"},
        {"counters": {"c": 9}},  # no time: unusable
    ]
    (d / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    arts = Artifacts(tmp_path)
    got = arts.metrics("n1")
    assert [(s["time"], s["counters"]["c"]) for s in got] == [(1.0, 1), (2.0, 2)]
    assert got[0]["gauges"] == {"g": 5} and got[0]["histograms"] == {}
    assert arts.final_metrics("n1")["counters"] == {"c": 2}
    (d / "metrics.json").write_text(json.dumps({"counters": {"c": 7}}))
    assert arts.final_metrics("n1") == {"counters": {"c": 7}}


def test_order_of_key_handles_the_bug_keys():
    assert order_of_key("refund:order-42") == "order-42"
    assert order_of_key("refund:order-42:call-abc") == "order-42"
    assert order_of_key("weird") is None


def test_chunk_boundaries_keep_line_numbers_and_a_bad_chunk_finds_its_line(tmp_path, monkeypatch):
    from checkers.pipeline import artifacts

    monkeypatch.setattr(artifacts, "CHUNK", 2)
    p = tmp_path / "x.jsonl"
    p.write_text("".join(f'{{"i": {i}}}\n' for i in range(5)) + "\n" + '{"i": 5}\n')
    assert [(n, r["i"]) for n, r in artifacts.iter_jsonl(p)] == [
        (1, 0),
        (2, 1),
        (3, 2),
        (4, 3),
        (5, 4),
        (7, 5),
    ]
    # "1, 2" parses inside a JSON array but is no object: the chunk falls back to line by line
    p.write_text('{"i": 0}\n{"i": 1}\n{"i": 2}\n1, 2\n')
    with pytest.raises(ArtifactError, match=r"x.jsonl:4: not valid JSON"):
        list(artifacts.iter_jsonl(p, label="x.jsonl"))


def test_open_reuses_the_parsed_run_until_a_file_changes(tmp_path):
    d = tmp_path / "nodes" / "n1"
    d.mkdir(parents=True)
    (d / "payment.ledger.jsonl").write_text(
        '{"seq": 0, "key": "charge:o", "op": "charge", "token": 1}\n'
    )
    first = Artifacts.open(tmp_path)
    assert len(first.ledger()) == 1 and Artifacts.open(tmp_path) is first
    with open(d / "payment.ledger.jsonl", "a") as fh:
        fh.write('{"seq": 1, "key": "refund:o", "op": "refund", "token": 1}\n')
    second = Artifacts.open(tmp_path)
    assert second is not first and [r.op for r in second.ledger()] == ["charge", "refund"]
    assert (
        second.ledger_row("payment", "n1", "refund:o").source == "nodes/n1/payment.ledger.jsonl:2"
    )
