"""linear.html draws what the narrative says: its letters on the bars, every label whole,
linearization points with the states around them, and a page that opens at the failure."""

from __future__ import annotations

import random
import re
from html import unescape
from pathlib import Path
from typing import Any

import pytest

from checkers.linearizable.checker import LinearizableChecker
from checkers.linearizable.models import get_model
from checkers.linearizable.narrate import letters
from checkers.report.linear import columns, label_px, layout, render_html
from harness.core.op import History, Op
from harness.formats import load

BAR = re.compile(
    r'<g class="bar (?P<cls>[^"]*)"(?: id="(?P<anchor>[^"]+)")? data-call="(?P<id>\d+)"'
    r'(?: data-letter="(?P<letter>[A-Z])")?>\s*<title>(?P<title>[^<]*)</title>\s*'
    r'<rect x="(?P<x>[\d.]+)" y="(?P<y>[\d.]+)" width="(?P<w>[\d.]+)"[^>]*/>\s*'
    r"<text[^>]*>(?P<text>.*?)</text>",
    re.S,
)
POINT = re.compile(
    r'<g class="point" data-call="(?P<id>\d+)" data-order="(?P<order>\d+)">\s*'
    r"<title>(?P<title>[^<]*)</title>\s*<line x1=\"(?P<x>[\d.]+)\"",
    re.S,
)


def _details(h: History, model: Any) -> dict[str, Any]:
    result = LinearizableChecker(model).check(None, h, None)
    assert result.valid is False
    return result.anomalies[0].details


def _oracle(oracle_dir: Path, name: str) -> tuple[dict[str, Any], Any]:
    model = get_model("cas-register", 0) if name.endswith(".edn") else get_model("etcd-register")
    return _details(load(oracle_dir / name), model), model


def _bars(html: str) -> list[dict[str, Any]]:
    return [m.groupdict() for m in BAR.finditer(html)]


@pytest.mark.parametrize(
    "name", ["knossos/cas-register/bad/cas-failure.edn", "porcupine/jepsen/etcd_000.log"]
)
def test_page_has_the_letters_the_points_and_opens_at_the_failure(
    oracle_dir: Path, name: str, tmp_path: Path
) -> None:
    details, model = _oracle(oracle_dir, name)
    html = render_html([details], tmp_path / "linear.html").read_text()
    bars = _bars(html)
    assert len(bars) == len(details["window"]), "every call of the window is drawn"

    # The narrative's letters are on the bars of the very calls it names.
    named = dict(re.findall(r"\b([A-L]) = process (\S+)'s", details["narrative"]))
    letter = letters(details)
    assert set(named) == set(letter.values()) and len(named) >= 3
    by_letter = {b["letter"]: b for b in bars if b["letter"]}
    assert set(by_letter) == set(named)
    for call_id, tag in letter.items():
        assert int(by_letter[tag]["id"]) == call_id
        assert unescape(by_letter[tag]["text"]).startswith(f'<tspan class="letter">{tag}: </tspan>')
        assert f"process {named[tag]}:" in by_letter[tag]["title"]

    # The failing bar is the anchor the page scrolls to on load.
    (failing,) = [b for b in bars if "failing" in b["cls"]]
    assert failing["anchor"] == "fail-1" and int(failing["id"]) == details["failing"]["id"]
    assert 'data-failure="fail-1"' in html and "openAtFailure" in html
    assert 'href="#fail-1"' in html
    assert "cannot be linearized: possible states just before it" in failing["title"]

    # No label is clipped: each bar is as wide as its whole label needs.
    for b in bars:
        label = re.sub(r"<[^>]+>", "", unescape(b["text"]))
        assert float(b["w"]) >= label_px(label), f"{label!r} does not fit in {b['w']} px"
    assert details["failing"]["description"] in unescape(failing["text"])

    # Linearization points: one per drawn call of the prefix, inside its bar,
    # with the states before and after replayed here from the model.
    points = [m.groupdict() for m in POINT.finditer(html)]
    window = {c["id"] for c in details["window"]}
    prefix = details["prefix"]
    assert len(points) == sum(1 for c in prefix if c["id"] in window) > 0
    by_id = {int(b["id"]): b for b in bars}
    replay = _replay(prefix, model, details)
    for p in points:
        bar = by_id[int(p["id"])]
        assert float(bar["x"]) < float(p["x"]) < float(bar["x"]) + float(bar["w"])
        before, after = replay[int(p["order"])]
        assert p["title"].endswith(f"state {before} → {after}"), p["title"]


def _replay(prefix: list[dict[str, Any]], model: Any, details: dict[str, Any]) -> dict[int, Any]:
    """order -> (state before, state after), replaying the prefix's calls from the raw history."""
    from harness.formats import load as load_history

    h = load_history(details["source"])
    calls = {c.id: c for c in h.calls(observed_failures=model.observed_failures)}
    out, state = {}, model.init()
    for n, view in enumerate(prefix, start=1):
        ok, nxt = model.step(state, calls[view["id"]])
        assert ok, "the prefix is not a linearization"
        out[n] = (model.describe_state(state), model.describe_state(nxt))
        state = nxt
    return out


def _generated(rng: random.Random) -> History:
    out: list[Op] = []
    pending: dict[int, tuple[str, Any]] = {}
    started = 0
    while started < 14 or pending:
        p = rng.randrange(4)
        if p in pending:
            f, v = pending.pop(p)
            out.append(Op(len(out), 0, p, "ok", f, rng.randint(0, 3) if f == "read" else v))
        elif started < 14:
            f = rng.choice(["read", "write", "cas"])
            v = {
                "read": None,
                "write": rng.randint(0, 3),
                "cas": [rng.randint(0, 3), rng.randint(0, 3)],
            }[f]
            out.append(Op(len(out), 0, p, "invoke", f, v))
            pending[p] = (f, v)
            started += 1
    return History(out, source="generated.jsonl")


def test_columns_fit_every_label_and_keep_points_inside_their_bars() -> None:
    rng = random.Random(5)
    model = get_model("cas-register", 0)
    drawn = 0
    for _ in range(200):
        h = _generated(rng)
        result = LinearizableChecker(model, shrink_budget=1.0).check(None, h, None)
        if result.valid is not False:
            continue
        lay = layout(result.anomalies[0].details)
        xs = columns(lay)
        assert all(a < b for a, b in zip(xs, xs[1:], strict=False)), "columns go left to right"
        for b in lay.bars:
            right = xs[-1] if b.crashed else xs[b.end]
            assert right - xs[b.start] >= label_px(b.label), b.label
        bars = {b.id: b for b in lay.bars}
        for p in lay.points:
            bar = bars[p.id]
            x = xs[p.rank] + (xs[p.rank + 1] - xs[p.rank]) * (p.slot + 1) / (p.slots + 1)
            end = xs[-1] if bar.crashed else xs[bar.end]
            assert xs[bar.start] < x < end, "a linearization point outside its call"
        drawn += 1
    assert drawn >= 20
