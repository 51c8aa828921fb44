"""checkers.report.cycles: one picture per cycle kind, drawn from a real cycle's explanation
data, and the report shows it (with its caption) beside the run's other graphs."""

from __future__ import annotations

from pathlib import Path

from checkers.report import cycles
from checkers.txn import TxnChecker, TxnOptions
from harness.core.op import Op


def write_skew() -> list[Op]:
    """x = [1], y = [2]; then two transactions each read both and append to one: G2-item."""
    mops = [
        (0, "invoke", [["append", "x", 1], ["append", "y", 2]]),
        (0, "ok", [["append", "x", 1], ["append", "y", 2]]),
        (1, "invoke", [["r", "x", None], ["r", "y", None], ["append", "x", 3]]),
        (2, "invoke", [["r", "x", None], ["r", "y", None], ["append", "y", 4]]),
        (1, "ok", [["r", "x", [1]], ["r", "y", [2]], ["append", "x", 3]]),
        (2, "ok", [["r", "x", [1]], ["r", "y", [2]], ["append", "y", 4]]),
        (3, "invoke", [["r", "x", None], ["r", "y", None]]),
        (3, "ok", [["r", "x", [1, 3]], ["r", "y", [2, 4]]]),
    ]
    return [Op(index=i, time=i, process=p, type=t, f="txn", value=v) for i, (p, t, v) in enumerate(mops)]


def anomalies() -> list[dict]:
    result = TxnChecker(TxnOptions(consistency_models=("serializable",))).check(None, write_skew(), None)
    assert result.valid is False
    return [a.to_json() for a in result.anomalies]


def test_one_picture_per_cycle_kind_from_the_checkers_own_data(tmp_path: Path) -> None:
    found = anomalies()
    kinds = {a["kind"] for a in found}
    assert "G2-item" in kinds
    made = cycles.render_all(found + found, tmp_path)  # the same kinds twice: still one picture each
    assert sorted(p.name for p in made) == sorted(cycles.picture_name(k) for k in kinds)
    for p in made:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 2000


def test_the_picture_is_the_cycle_vertices_in_order_and_labelled_edges() -> None:
    (kind, details), = cycles.cycle_cases([a for a in anomalies() if a["kind"] == "G2-item"][:1])
    ops, pos = cycles.layout(details)
    assert ops == details["cycle"] and len(ops) == 2
    assert pos[ops[0]][1] > pos[ops[1]][1]  # T1 at the top
    assert [cycles.edge_label(s) for s in details["steps"]] == ["rw y", "rw x"] or \
        [cycles.edge_label(s) for s in details["steps"]] == ["rw x", "rw y"]
    assert cycles.edge_label({"type": "realtime", "from": 1, "to": 2}) == "realtime"


def test_no_cycle_no_picture(tmp_path: Path) -> None:
    assert cycles.render_all([{"kind": "G1a", "details": {"key": "x"}}], tmp_path / "g") == []
    assert not (tmp_path / "g").exists()
    assert cycles.picture_name("G-single-item/realtime") == "cycle-G-single-item_realtime.png"


def test_the_report_embeds_the_pictures(tmp_path: Path) -> None:
    import json

    from checkers.report.render import render_run

    (tmp_path / "results.json").write_text(json.dumps({"valid": False, "anomalies": anomalies()}))
    (tmp_path / "history.jsonl").write_text("".join(json.dumps(o.to_json()) + "\n" for o in write_skew()))
    report = render_run(tmp_path).read_text()
    assert 'src="graphs/cycle-G2-item.png"' in report and "The first cycle of this kind" in report
    assert (tmp_path / "graphs" / "cycle-G2-item.png").exists()
