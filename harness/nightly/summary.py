"""A night's summary: ``index.html`` (a page to read in the morning) and
``junit.xml`` (one testcase per run, for CI), both from the night's record
and the index, never from the runs' processes.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from harness.index import FingerprintRow
from harness.junit import CaseResult, case_for_run, write_junit
from harness.nightly.night import NightRecord

PAGE = "index.html"
JUNIT = "junit.xml"

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Seam night {{ n.stamp }}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; } td, th { padding: .25em .6em; border-bottom: 1px solid #ddd; text-align: left; }
.valid { color: #176f2c; } .invalid { color: #b00020; font-weight: bold; } .unknown, .failed, .incomplete { color: #a35a00; }
.skipped { color: #777; } .new { background: #b00020; color: #fff; padding: 0 .3em; border-radius: 3px; font-size: 85%; }
code { font-size: 90%; }
</style></head><body>
<h1>Seam night {{ n.stamp }}</h1>
<p>Plan <code>{{ n.plan }}</code>, budget {{ (n.budget_seconds / 60) | round(1) }} min, seed {{ n.seed }};
started {{ n.started }}, ended {{ n.ended or "(still running)" }}{% if n.stopped %}, stopped by {{ n.stopped }}{% endif %}.
<strong>{{ counts | join(", ") }}</strong>.</p>
<h2>Runs</h2>
<table><tr><th>#</th><th>test</th><th>faults</th><th>bugs</th><th>seed</th><th>verdict</th><th>exit</th><th>seconds</th><th>anomalies</th><th>files</th></tr>
{% for r in n.runs %}<tr>
<td>{{ r.number }}</td><td>{{ r.test }}</td><td>{{ r.faults or "none" }}</td><td>{{ r.bugs or "-" }}</td><td>{{ r.seed }}</td>
{% if r.status == "skipped" %}<td class="skipped" colspan="5">skipped: {{ r.reason }}</td>
{% else %}<td class="{{ r.verdict }}">{{ r.verdict }}</td><td>{{ r.exit_code }}</td><td>{{ r.wall_seconds }}</td>
<td>{% for f in r.fingerprints %}<code>{{ f }}</code>{% if f in r.new %} <span class="new">NEW</span>{% endif %}<br>{% endfor %}{{ r.summary if not r.fingerprints else "" }}</td>
<td>{% if r.id %}<a href="{{ links[r.number] }}">report</a> · {% endif %}<a href="{{ r.log }}">log</a></td>{% endif %}
</tr>{% endfor %}
</table>
<h2>Fingerprints seen this night</h2>
{% if fingerprints %}<table><tr><th></th><th>fingerprint</th><th>severity</th><th>first seen</th><th>runs ever</th></tr>
{% for f in fingerprints %}<tr><td>{% if f.new %}<span class="new">NEW</span>{% else %}known{% endif %}</td><td><code>{{ f.fingerprint }}</code></td>
<td>{{ f.severity }}</td><td>{{ f.first_seen }} ({{ f.first_run }})</td><td>{{ f.runs }}</td></tr>{% endfor %}</table>
{% else %}<p>None: every run was clean.</p>{% endif %}
<h2>Coverage: runs of each workload x fault set, all nights and runs</h2>
<table><tr><th>workload</th><th>faults</th><th>bugs</th><th>runs</th></tr>
{% for (w, f, b), c in coverage %}<tr><td>{{ w }}</td><td>{{ f or "none" }}</td><td>{{ b or "-" }}</td><td>{{ c }}</td></tr>{% endfor %}</table>
<p>Every run is in <code>seam runs</code>; <code>seam runs --fingerprints</code> lists every fingerprint ever seen.</p>
</body></html>
"""


def junit_cases(night: NightRecord, results: Path) -> list[CaseResult]:
    """One testcase per slot: a run's verdict, or skipped with the reason."""
    cases = []
    for r in night.runs:
        name = f"#{r.number} {r.test} [{r.faults or 'no faults'}{'; bugs ' + r.bugs if r.bugs else ''}] seed {r.seed}"
        classname = f"seam.nightly.{r.test}"
        if r.status == "skipped":
            cases.append(CaseResult(name, classname, "skipped", message=r.reason))
        elif r.id is None:
            cases.append(CaseResult(name, classname, "error", r.wall_seconds or 0.0,
                                    message=r.summary or "the run failed before it had a directory",
                                    details=f"log: {r.log}"))
        else:
            cases.append(case_for_run(results / r.id, name=name, classname=classname, seconds=r.wall_seconds))
    return cases


def write_summary(night: NightRecord, night_dir: Path, results: Path, fingerprints: list[FingerprintRow],
                  coverage: Counter[tuple[str, str, str]]) -> tuple[Path, Path]:
    """index.html and junit.xml in the night's directory; their paths."""
    import jinja2

    seen = {f for r in night.runs for f in r.fingerprints}
    done = Counter(r.verdict if r.status == "done" else r.status for r in night.runs)
    links = {r.number: _link(night_dir, results / r.id) for r in night.runs if r.id}
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    html = env.from_string(_TEMPLATE).render(
        n=night, links=links, counts=[f"{c} {v}" for v, c in sorted(done.items())],
        fingerprints=[f for f in fingerprints if f.fingerprint in seen], coverage=sorted(coverage.items()))
    page = night_dir / PAGE
    page.write_text(html, encoding="utf-8")
    junit = write_junit(night_dir / JUNIT, f"seam nightly {night.stamp}", junit_cases(night, results),
                        properties={"plan": night.plan, "seed": str(night.seed), "budget_seconds": str(night.budget_seconds)})
    return page, junit


def _link(night_dir: Path, run_dir: Path) -> str:
    """The run's report relative to the night's page, so results/ can be moved or served."""
    target = run_dir / "report.html"
    if not target.exists():
        target = run_dir
    return Path(os.path.relpath(target.resolve(), night_dir.resolve())).as_posix()
