"""linear.html in a real browser (headless Chromium): what a reader actually sees.

Chromium is the Debian package ``chromium`` and only loads file:// URLs
here. A probe script appended to a copy of the page measures, after the
page's own scripts ran: every bar label's rendered width against its bar
(nothing clipped), where the failing call is relative to the scrolled
timeline and the window (the page opens at it), and what the letters and
linearization points look like in the DOM.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from checkers.linearizable.checker import LinearizableChecker
from checkers.linearizable.models import get_model
from checkers.report.linear import render_html
from harness.formats import load
from tests.integration.test_report_browser import WRITE_PROBE, chromium, probe_output

pytestmark = pytest.mark.slow

PROBE = """<script>
""" + WRITE_PROBE + """setTimeout(() => {
  const out = {timelines: []};
  document.querySelectorAll(".scroll[data-failure]").forEach(box => {
    const bar = document.getElementById(box.dataset.failure);
    const b = bar.querySelector("rect").getBoundingClientRect();
    const c = box.getBoundingClientRect();
    const clipped = [];
    box.querySelectorAll(".bar").forEach(g => {
      const rect = g.querySelector("rect"), text = g.querySelector("text");
      const room = rect.width.baseVal.value - (text.x.baseVal[0].value - rect.x.baseVal.value);
      if (text.getComputedTextLength() > room) clipped.push(text.textContent);
    });
    out.timelines.push({
      scrollLeft: box.scrollLeft, scrollWidth: box.scrollWidth, clientWidth: box.clientWidth,
      bar: [b.left, b.right, b.top, b.bottom], box: [c.left, c.right],
      window: [window.innerWidth, window.innerHeight],
      failing: bar.textContent.trim(),
      letters: [...box.querySelectorAll(".bar[data-letter]")].map(g => g.dataset.letter),
      points: [...box.querySelectorAll(".point title")].map(t => t.textContent),
      clipped,
    });
  });
  writeProbe(out);
}, 300);
</script>"""


def _probe(page: Path, tmp_path: Path, width: int) -> dict[str, Any]:
    probe = page.with_name("probe.html")
    probe.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    p = chromium(
        tmp_path / "profile",
        f"--window-size={width},700",
        "--virtual-time-budget=5000",
        "--dump-dom",
        probe.as_uri(),
    )
    return probe_output(p)


@pytest.mark.parametrize(
    ("name", "model", "initial"),
    [
        ("porcupine/jepsen/etcd_000.log", "etcd-register", None),
        ("knossos/cas-register/bad/cas-failure.edn", "cas-register", 0),
    ],
)
def test_the_browser_opens_at_the_failure_with_whole_labels(
    oracle_dir: Path, tmp_path: Path, name: str, model: str, initial: Any
) -> None:
    m = get_model(model) if initial is None else get_model(model, initial)
    result = LinearizableChecker(m).check(None, load(oracle_dir / name), None)
    details = result.anomalies[0].details
    page = render_html([details], tmp_path / "linear.html")
    seen = _probe(page, tmp_path, width=640)
    (t,) = seen["timelines"]
    assert t["clipped"] == [], f"labels wider than their bars: {t['clipped']}"
    assert details["failing"]["description"] in t["failing"]
    # The failing bar is inside the scrolled timeline and inside the window.
    left, right, top, bottom = t["bar"]
    box_left, box_right = t["box"]
    assert box_left <= left and right <= box_right + 1, t
    assert 0 <= top and bottom <= t["window"][1], "the failing call is not on screen"
    if t["scrollWidth"] > t["clientWidth"] + 200:
        assert t["scrollLeft"] > 0, "a wide timeline did not scroll to the failure"
    assert sorted(t["letters"]) == sorted(set(re.findall(r"\b([A-L]) = ", details["narrative"])))
    assert t["points"] and all("state" in p and "→" in p for p in t["points"])
