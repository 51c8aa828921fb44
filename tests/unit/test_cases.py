"""The regression case file (harness/formats/case.py): header, ops, artifact rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.core.errors import HistoryError
from harness.formats.case import (
    ArtifactRow,
    CaseHeader,
    is_case,
    is_case_text,
    read_case,
    write_case,
)

OPS = [
    {"index": 0, "time": 0, "process": 0, "type": "invoke", "f": "write", "value": 1},
    {"index": 1, "time": 1, "process": 0, "type": "ok", "f": "write", "value": 1},
    {"index": 2, "time": 2, "process": 1, "type": "invoke", "f": "read", "value": None},
    {"index": 3, "time": 3, "process": 1, "type": "ok", "f": "read", "value": 0},
]


def header(**kw: object) -> CaseHeader:
    base: dict[str, object] = dict(kind="nonlinearizable", checker="linearizable",
                                   fingerprint="nonlinearizable/cas-register", model="cas-register",
                                   initial=0, source={"file": "h.jsonl", "anomaly": 1})
    base.update(kw)
    return CaseHeader(**base)  # type: ignore[arg-type]


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_a_case_reads_back_as_written(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    rows = [ArtifactRow("nodes/n1/payment.ledger.jsonl", row={"key": "charge:o-1", "seq": 1}),
            ArtifactRow("nodes/n1/node.json", whole={"retry": {"budget": 0.1}})]
    write_case(path, header(), OPS, rows)
    first = lines(path)[0]
    assert first["seam_case"] == 1 and first["initial"] == 0 and first["verdict"] == "invalid"
    case = read_case(path)
    assert case.header == header()
    assert [op.to_json() for op in case.history] == OPS
    assert case.artifacts == rows


def test_a_case_is_told_from_a_history(tmp_path: Path) -> None:
    case, plain = tmp_path / "c.jsonl", tmp_path / "h.jsonl"
    write_case(case, header(), OPS)
    plain.write_text("".join(json.dumps(op) + "\n" for op in OPS))
    assert is_case(case) and not is_case(plain)
    assert not is_case(tmp_path / "missing.jsonl")
    assert not is_case_text('[{:type :invoke, :f :read}]') and not is_case_text('{"seam_case": ')


def test_a_bad_op_line_is_named_by_its_line_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    write_case(path, header(), OPS)
    text = path.read_text().splitlines()
    text[2] = '{"process": 0, "type": "ok", "f": 7}'
    path.write_text("\n".join(text) + "\n")
    with pytest.raises(HistoryError, match=r"c\.jsonl:3"):
        read_case(path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"fingerprint": ""}, "no 'fingerprint'"),
        ({"verdict": "maybe"}, "verdict 'maybe'"),
        ({"seam_case": 99}, "upgrade Seam"),
        ({"test": [1]}, "'test' must be an object"),
    ],
)
def test_a_bad_header_says_what_is_wrong(tmp_path: Path, change: dict[str, object], message: str) -> None:
    path = tmp_path / "c.jsonl"
    write_case(path, header(), OPS)
    rows = lines(path)
    rows[0].update(change)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(HistoryError, match=message) as e:
        read_case(path)
    assert e.value.line == 1


@pytest.mark.parametrize("where", ["../x.jsonl", "/etc/passwd", "nodes/n1/../../x", "nodes/n1",
                                   "nodes/n1/sub/x.jsonl", "other/n1/x.jsonl", "nodes\\n1\\x"])
def test_an_artifact_cannot_point_outside_a_node_folder(tmp_path: Path, where: str) -> None:
    path = tmp_path / "c.jsonl"
    write_case(path, header(), OPS)
    with open(path, "a") as fh:
        fh.write(json.dumps({"artifact": where, "row": {}}) + "\n")
    with pytest.raises(HistoryError, match="nodes/<node>/<file>") as e:
        read_case(path)
    assert e.value.line == 6


def test_materialize_writes_a_run_directory_the_checkers_can_read(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    rows = [ArtifactRow("nodes/n2/saga-steps.jsonl", row={"order_id": "o-1", "seq": i}) for i in (1, 2)]
    rows.append(ArtifactRow("nodes/n2/node.json", whole={"port": 1}))
    write_case(path, header(model=None, checker="causal", test={"workload": "orders"}), [], rows)
    root = tmp_path / "run"
    read_case(path).materialize(root)
    assert [json.loads(x)["seq"] for x in (root / "nodes/n2/saga-steps.jsonl").read_text().splitlines()] == [1, 2]
    assert json.loads((root / "nodes/n2/node.json").read_text()) == {"port": 1}
    assert json.loads((root / "test.json").read_text()) == {"workload": "orders"}
