"""Ops read from a file share one read-only empty ``extra`` (harness.formats._build.NO_EXTRA)."""

from __future__ import annotations

import copy
import json
import pickle
from pathlib import Path

import pytest

from harness.formats import load, write_jsonl
from harness.formats._build import NO_EXTRA

ROWS = [
    {"process": 0, "type": "invoke", "f": "write", "value": 1},
    {"process": 0, "type": "ok", "f": "write", "value": 1, "node": "n1"},
    {"process": 1, "type": "invoke", "f": "read", "value": None},
    {"process": 1, "type": "ok", "f": "read", "value": 1},
]


@pytest.fixture
def history(tmp_path: Path):  # type: ignore[no-untyped-def]
    path = tmp_path / "h.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    return load(path)


def test_ops_without_extra_fields_share_one_empty_extra(history) -> None:  # type: ignore[no-untyped-def]
    plain = [op for op in history if not op.extra]
    assert len(plain) == 3 and all(op.extra is NO_EXTRA for op in plain)
    assert history[1].extra == {"node": "n1"} and history[1].extra is not NO_EXTRA
    assert NO_EXTRA == {} and dict(NO_EXTRA) == {} and {**NO_EXTRA, "error": "x"} == {"error": "x"}


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.__setitem__("error", "x"),
        lambda d: d.update(error="x"),
        lambda d: d.setdefault("error", "x"),
        lambda d: d.pop("error", None),
        lambda d: d.clear(),
    ],
)
def test_the_shared_extra_refuses_changes(history, change) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TypeError, match="copy it"):
        change(history[0].extra)
    assert NO_EXTRA == {}


def test_ops_survive_pickle_copy_and_writing(history, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    again = pickle.loads(pickle.dumps(history.ops))
    assert again == history.ops and again[0].extra is NO_EXTRA
    assert copy.deepcopy(history[0]).extra is NO_EXTRA
    out = tmp_path / "out.jsonl"
    write_jsonl(history, out)
    assert [op.to_json() for op in load(out)] == [op.to_json() for op in history]
