"""A real paused-leader run's report links its stale-fenced-write to the on-call entry, in Chromium.

The run is the one tests/integration/test_scenarios.py makes for
``--scenario paused-leader --bug fence-after-write`` (one run serves both, to
keep the suite short); the report is opened from the run directory alone
(file://, no server), the link beside the stale-fenced-write group is
clicked, and the page must land on a copy of that kind's runbook entry. The
entry is checked against checkers/runbook.py, so a report that links to
nothing, or to another kind's entry, fails.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.test_report_browser import WRITE_PROBE, chromium, probe_output

REPO = Path(__file__).resolve().parents[2]

PROBE = """<!doctype html><html><body>
<iframe id="f" src="REPORT" width="1200" height="900"></iframe>
<script>
""" + WRITE_PROBE + """document.getElementById("f").onload = () => {
  const w = document.getElementById("f").contentWindow;
  const d = w.document;
  const group = [...d.querySelectorAll("section.group")].find(g => g.querySelector(".kind").innerText === "stale-fenced-write");
  const link = group && group.querySelector("a.runbook");
  const out = {group: !!group, href: link && link.getAttribute("href")};
  if (link) link.click();
  setTimeout(() => {
    const target = out.href && d.querySelector(out.href);
    out.hash = w.location.hash;
    out.entry = target ? target.innerText : null;
    out.top = target ? target.getBoundingClientRect().top : null;
    writeProbe(out);
  }, 300);
};
</script></body></html>"""


def assert_links_to_runbook(run: Path, tmp_path: Path, kind: str = "stale-fenced-write") -> None:
    """Open the run's report from its directory alone, click the link beside ``kind``'s group,
    and land on a copy of that kind's runbook entry (checked against checkers/runbook.py)."""
    from checkers import runbook

    (run.parent / "probe.html").write_text(PROBE.replace("REPORT", f"{run.name}/report.html")
                                           .replace('"stale-fenced-write"', json.dumps(kind)))

    p = chromium(tmp_path / "profile", "--allow-file-access-from-files", "--virtual-time-budget=10000",
                 "--dump-dom", (run.parent / "probe.html").as_uri())

    seen = probe_output(p)
    entry = runbook.by_kind()[kind]
    assert seen["group"], f"no {kind} group in the report"
    assert seen["href"] == f"#{entry.anchor}", seen
    assert seen["hash"] == f"#{entry.anchor}", "clicking the link did not navigate to the entry"
    assert seen["entry"] is not None, "the link points at no element of the report"
    assert kind in seen["entry"] and entry.verify.split("`")[1] in seen["entry"], seen["entry"]
    # In the 900 px frame (sub-pixel: -0.03 was seen): at its top, or lower when the page ends first.
    assert -1 < seen["top"] < 900, f"the entry was not scrolled into view (top {seen['top']})"
