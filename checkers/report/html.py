"""report.html: the verdict first, then every anomaly in words with its ops, then graphs.

``view`` turns ``RunData`` into plain template data; ``render`` writes it
through ``templates/report.html.j2``. Only result data is read: what an
anomaly *means* comes from ``MEANINGS`` (one sentence per kind of DESIGN
section 5), what it *is* from the checker's own ``summary`` and ``details``.
A kind or a checker this module does not know is shown the same way, with
a generic sentence, so a new checker needs no change here.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from checkers import runbook
from checkers.report.model import (
    NS,
    Band,
    Pair,
    RunData,
    anomalies_of,
    checker_results,
    signal_stats,
    verdict_of,
)

__all__ = ["MEANINGS", "render", "view"]

#: What each anomaly kind means, in words a reader without the checker's source can follow.
MEANINGS = {
    "nonlinearizable": "No order of these operations that respects real time explains what the clients saw: "
    "the system is not linearizable for this key.",
    "stale-read": "A read returned an older value although a write had been acknowledged before the read began.",
    "weak-quorum-config": "R + W <= N: a read quorum need not overlap the last write quorum, "
    "so a read can miss an acknowledged write. This is wrong before anything runs.",
    "lost-effect": "A client was told something happened, but the ledgers hold no terminal outcome for it.",
    "duplicate-effect": "An effect that must happen at most once (a charge, a refund, a shipment, a restock) "
    "happened more than once for one order.",
    "conservation": "Money or stock does not balance across the ledgers "
    "(charged - refunded must equal shipped revenue; reserved - restocked must equal shipped stock).",
    "stale-fenced-write": "A resource accepted a write carrying a fencing token lower than one it had already "
    "accepted: a deposed leader's write got through.",
    "causal-inversion": "Saga steps of one order happened out of causal (HLC) order, "
    "e.g. a charge before its reservation or a compensation before the failure that caused it.",
    "retry-amplification": "Retries multiplied the traffic on a struggling downstream instead of backing off.",
    "duplicate-key-alert": "Idempotency-key replays rose above the alert threshold: clients or the "
    "orchestrator are re-sending the same request far more than expected.",
    "lost-write": "An element was acknowledged (or seen by a read), and then every read of its set from some "
    "point on, the last one included, went without it: the system threw an acknowledged write away.",
    "unexpected": "A read returned an element that no client ever added (or whose add definitely failed).",
    "duplicate": "A read of a set listed one element more than once.",
}

GRAPH_CAPTIONS = {
    "latency.png": "Latency of every completed call by operation, coloured ok / fail / info; shaded bands are faults.",
    "rate.png": "Completions per second by operation and outcome; shaded bands are faults.",
    "signals.png": "The seam signals scraped from every node once a second; dashed: the signals checker's threshold.",
    "retries.png": "Retry traffic against first attempts across the cluster, and retries per first attempt.",
    "set.png": "Every element added to a set, at the time its add began, coloured by what became of it "
    "(red: lost); below, how long after its acknowledgement each element was first seen.",
}

#: Anomalies of one fingerprint shown in full; the rest of the group are one line each.
FULL_PER_GROUP = 3
#: One-line entries listed per group at most; beyond that they are counted (all are in results.json).
LISTED_PER_GROUP = 500
#: Detail fields that are bulky explanation data, drawn elsewhere (linear.html) rather than listed.
BULKY = {
    "narrative",
    "window",
    "shrunk",
    "prefix",
    "shrunk_ops",
    "shrunk_real_time",
    "failing",
    "history",
    "witness",
    "points",
}
VALUE_CHARS = 400


def _obj(v: Any) -> dict[str, Any]:
    """``v`` if it is a JSON object, else an empty one (stored files may hold anything)."""
    return v if isinstance(v, dict) else {}


def _compact(v: Any, limit: int = VALUE_CHARS) -> str:
    text = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _headline(
    results: dict[str, Any], anomalies: list[dict[str, Any]], checkers: dict[str, dict[str, Any]]
) -> str:
    """One sentence under the verdict: what was found, or why there is no verdict."""
    verdict = verdict_of(results.get("valid"))
    run = _obj(results.get("run"))
    if not results:
        return "No results.json: the run was not checked. Run `seam check` on this directory."
    if verdict == "valid":
        warnings = Counter(a.get("kind", "?") for a in anomalies if a.get("severity") == "warning")
        if warnings:
            said = ", ".join(f"{n} {kind}" for kind, n in warnings.most_common())
            return f"No safety violation; {sum(warnings.values())} warning(s), reported below: {said}."
        return f"No anomalies: {', '.join(checkers) or 'the checkers'} found the history valid."
    if verdict == "invalid":
        kinds = Counter((a.get("kind", "?"), a.get("checker", "?")) for a in anomalies)
        if not kinds:
            return "A checker found the history invalid without naming an anomaly."
        parts = ", ".join(f"{n} {kind} ({checker})" for (kind, checker), n in kinds.most_common())
        return f"{len(anomalies)} anomal{'y' if len(anomalies) == 1 else 'ies'} found: {parts}."
    if results.get("valid") is None and run.get("failed"):
        return f"The run itself failed, so nothing was checked: {results.get('error') or 'no reason recorded'}."
    gave_up = [f"{name}: {r.get('error')}" for name, r in checkers.items() if r.get("error")]
    why = "; ".join(gave_up) or results.get("error") or "a checker could not decide"
    return f"No verdict: {why}."


def _op_row(op: dict[str, Any], named: bool) -> dict[str, Any]:
    t = op.get("time")
    return {
        "index": op.get("index"),
        "time": f"{t / NS:.3f}" if isinstance(t, (int, float)) else "",
        "process": op.get("process"),
        "type": op.get("type"),
        "f": op.get("f"),
        "value": _compact(op.get("value"), 160),
        "node": op.get("node", ""),
        "error": _compact(op.get("error", ""), 160),
        "named": named,
    }


def _ops_for(
    indices: list[Any], by_index: dict[int, dict[str, Any]], pair_of: dict[int, Pair]
) -> list[dict[str, Any]]:
    """The named ops with their partners (invoke + completion), in history order."""
    named = {i for i in indices if isinstance(i, int)}
    wanted: set[int] = set()
    for i in named:
        wanted.add(i)
        if i in pair_of:
            wanted.update(pair_of[i].indices)
    return [_op_row(by_index[i], i in named) for i in sorted(wanted) if i in by_index]


def _anomaly(
    a: dict[str, Any], by_index: dict[int, dict[str, Any]], pair_of: dict[int, Pair]
) -> dict[str, Any]:
    details = _obj(a.get("details"))
    kind = str(a.get("kind", "anomaly"))
    checker = str(a.get("checker", "?"))
    ops = [i for i in a.get("ops") or [] if isinstance(i, int) and not isinstance(i, bool)]
    narrative = details.get("narrative")
    return {
        "kind": kind,
        "checker": checker,
        "summary": a.get("summary") or f"{kind} reported by {checker}",
        "narrative": [p for p in narrative.split("\n") if p.strip()]
        if isinstance(narrative, str)
        else [],
        "details": [(k, _compact(v)) for k, v in details.items() if k not in BULKY],
        "ops": _ops_for(ops, by_index, pair_of),
        "ops_named": ops,
        "missing_ops": [i for i in ops if i not in by_index],
        "first_op": min(ops) if ops else None,
        "history": a.get("history") or details.get("history"),
        "fingerprint": a.get("fingerprint") or kind,
        "faults": _during(a.get("faults")),
    }


def _consequences(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """What a cause's group explains: a count by kind, and each consequence's summary."""
    if not rows:
        return None
    kinds = Counter(str(r.get("fingerprint") or r.get("kind")) for r in rows)
    return {"kinds": ", ".join(f"{n} {k}" for k, n in kinds.most_common()),
            "summaries": [str(r.get("summary") or r.get("kind")) for r in rows[:LISTED_PER_GROUP]],
            "unlisted": max(0, len(rows) - LISTED_PER_GROUP)}


def _causes_line(results: dict[str, Any]) -> str:
    """'1 cause (stale-fenced-write, 8 orders) and 10 consequences' (results.json's causes)."""
    causes = _obj(results.get("causes"))
    found = _obj(causes.get("causes"))
    if not found:
        return ""
    named = "; ".join(f"{kind}, {len(c.get('entities') or [])} {c.get('on') or 'entity'}"
                      f"{'' if len(c.get('entities') or []) == 1 else 's'}"
                      for kind, c in found.items() if isinstance(c, dict))
    n = int(causes.get("consequences") or 0)
    return f"{len(found)} cause{'' if len(found) == 1 else 's'} ({named}) and {n} consequence{'' if n == 1 else 's'}"


def _during_counts(results: dict[str, Any]) -> str:
    """'12 anomalies during partition, 3 with no fault active' (the writer's stats)."""
    counts = _obj(results.get("anomalies_during"))
    parts = [f"{n} {'with no fault active' if during == 'no fault active' else 'during ' + during}"
             for during, n in sorted(counts.items(), key=lambda kv: (-int(kv[1]), kv[0]))]
    return ", ".join(parts)


def _during(faults: Any) -> str | None:
    """One line on the faults active over an anomaly's ops (harness.core.faults.attribute)."""
    if not isinstance(faults, dict) or not faults.get("during"):
        return None
    active = [f for f in faults.get("active") or [] if isinstance(f, dict)]
    parts = [f"{f.get('fault')} {json.dumps(f.get('value'), default=str)} from {f.get('from')} s"
             + (f" to {f.get('to')} s" if f.get("to") is not None else " to the end") for f in active]
    since = faults.get("since_change")
    last = f"; the last fault began or ended {since} s before" if isinstance(since, (int, float)) else \
        "; no fault had begun yet"
    return f"During: {faults['during']}" + (f" ({'; '.join(parts)})" if parts else "") + last


def _groups(
    anomalies: list[dict[str, Any]],
    by_index: dict[int, dict[str, Any]],
    pair_of: dict[int, Pair],
) -> list[dict[str, Any]]:
    """Anomalies grouped by fingerprint (the same bug), in order of first appearance.

    The first few of a group are explained in full; the rest are one line
    each, so 200 instances of one bug do not bury a second, different one.
    """
    grouped: dict[str, list[dict[str, Any]]] = {}
    under: dict[str, list[dict[str, Any]]] = {}  # a cause's group key -> the consequences it explains
    keys = [f"{a.get('checker', '?')}/{a.get('fingerprint') or a.get('kind', '?')}" for a in anomalies]
    for i, (a, key) in enumerate(zip(anomalies, keys, strict=True)):
        cause = a.get("explained_by")
        if isinstance(cause, int) and not isinstance(cause, bool) and 0 <= cause < len(anomalies) and cause != i:
            under.setdefault(keys[cause], []).append(a)
            continue
        grouped.setdefault(key, []).append(a)
    groups = []
    for key, members in grouped.items():
        kind, checker = str(members[0].get("kind", "anomaly")), str(members[0].get("checker", "?"))
        full = [_anomaly(a, by_index, pair_of) for a in members[:FULL_PER_GROUP]]
        rest = [
            _anomaly(a, {}, {}) for a in members[FULL_PER_GROUP : FULL_PER_GROUP + LISTED_PER_GROUP]
        ]
        groups.append(
            {
                "kind": kind,
                "checker": checker,
                "fingerprint": full[0]["fingerprint"],
                "count": len(members),
                "meaning": MEANINGS.get(
                    kind, f"An anomaly of kind '{kind}' reported by the {checker} checker."
                ),
                "full": full,
                "rest": rest,
                "unlisted": max(0, len(members) - FULL_PER_GROUP - LISTED_PER_GROUP),
                "consequences": _consequences(under.get(key, [])),
            }
        )
    # Causes first: what explains other anomalies is read before what it explains.
    groups.sort(key=lambda g: not g["consequences"])
    return groups


def _flat_stats(
    stats: Any, prefix: str = "", out: list[tuple[str, str]] | None = None, depth: int = 0
) -> list[tuple[str, str]]:
    """Scalar stats as (dotted name, value), two levels deep, at most 16: the glance, not the dump."""
    out = [] if out is None else out
    if not isinstance(stats, dict):
        return out
    for k, v in stats.items():
        if len(out) >= 16:
            break
        name = f"{prefix}{k}"
        if isinstance(v, dict) and depth < 1:
            _flat_stats(v, name + ".", out, depth + 1)
        elif isinstance(v, (str, int, float, bool)) or v is None:
            out.append((name, _compact(v, 120)))
    return out


def _checker_rows(checkers: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for name, r in checkers.items():
        anomalies = [a for a in r.get("anomalies") or [] if isinstance(a, dict)]
        rows.append(
            {
                "name": name,
                "verdict": verdict_of(r.get("valid")),
                "anomalies": len(anomalies),
                "kinds": ", ".join(
                    f"{n} {k}"
                    for k, n in Counter(a.get("kind", "?") for a in anomalies).most_common()
                ),
                "error": r.get("error"),
                "glance": _flat_stats(r.get("stats")),
                "stats_json": json.dumps(r.get("stats"), indent=1, ensure_ascii=False, default=str)[
                    :20_000
                ],
            }
        )
    return rows


def _first_signal(fault: dict[str, Any] | None) -> str:
    """The signals checker's verdict on one fault, in words."""
    if fault is None:
        return ""
    crossed = {k: v for k, v in _obj(fault.get("crossings")).items() if isinstance(v, (int, float))}
    above = [str(s) for s in fault.get("already_above") or []]
    tail = f" (already above before it: {', '.join(above)})" if above else ""
    if not crossed:
        return "no signal crossed its threshold" + tail
    order = sorted(crossed, key=lambda k: (crossed[k], k))
    first = fault.get("first") or order[0]
    text = f"{first} first, {crossed.get(first, 0):g} s after the fault began"
    rest = [f"{k} +{crossed[k]:g} s" for k in order if k != first]
    return text + (f"; then {', '.join(rest)}" if rest else "") + tail


def _crossed(fault: dict[str, Any] | None) -> list[str]:
    """The signals that crossed during one fault, first first (each links to its runbook entry)."""
    crossed = {k: v for k, v in _obj((fault or {}).get("crossings")).items() if isinstance(v, (int, float))}
    return sorted(crossed, key=lambda k: (crossed[k], k))


def _band_row(b: Band, attributed: dict[int, dict[str, Any]]) -> dict[str, Any]:
    return {
        "kind": b.kind,
        "f": b.f,
        "start": f"{b.start:.2f}",
        "end": "end of run" if b.end is None else f"{b.end:.2f}",
        "length": "" if b.end is None else f"{b.end - b.start:.2f}",
        "value": "" if b.value is None else _compact(b.value, 160),
        "signal": _first_signal(attributed.get(b.op)) if b.op is not None else "",
        "crossed": _crossed(attributed.get(b.op)) if b.op is not None else [],
    }


def _attributed(results: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """The signals checker's faults by the index of the op that started each."""
    out: dict[int, dict[str, Any]] = {}
    for f in signal_stats(results).get("faults") or []:
        ops = f.get("ops") if isinstance(f, dict) else None
        if isinstance(ops, list) and ops and isinstance(ops[0], int):
            out[ops[0]] = f
    return out


def _caption(name: str) -> str:
    if name.startswith("linear-"):
        return "The calls around a non-linearizable key, in history order (details in linear.html)."
    if name.startswith("cycle-"):
        return "The first cycle of this kind: a transaction per circle, each arrow why one precedes the next."
    return GRAPH_CAPTIONS.get(name, "")


def _files(data: RunData, graphs: list[Path]) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """(images, links): our graphs first, then files the checkers wrote (linear.html, their PNGs)."""
    images = [
        {"src": p.as_posix(), "name": p.name, "caption": _caption(p.name)}
        for p in graphs
        if p.suffix == ".png"
    ]
    links = [{"href": p.as_posix(), "name": p.name} for p in graphs if p.suffix != ".png"]
    seen = {p.as_posix() for p in graphs}
    listed: list[str] = [f for f in data.results.get("files") or [] if isinstance(f, str)]
    for r in checker_results(data.results).values():
        listed += [f for f in r.get("files") or [] if isinstance(f, str)]
    for f in dict.fromkeys(listed):
        if f in seen or f.startswith(("/", "..")) or not (data.run_dir / f).exists():
            continue
        seen.add(f)
        if f.endswith(".png"):
            images.append({"src": f, "name": Path(f).name, "caption": "Written by a checker."})
        else:
            links.append({"href": f, "name": f})
    return images, links


def view(data: RunData, graphs: list[Path]) -> dict[str, Any]:
    """Everything the template shows, as plain data."""
    results = data.results
    checkers = checker_results(results)
    anomalies = anomalies_of(results)
    by_index = {int(o["index"]): o for o in data.ops if isinstance(o.get("index"), int)}
    pair_of = {i: p for p in data.pairs for i in p.indices}
    images, links = _files(data, graphs)
    run = _obj(results.get("run"))
    counts = Counter(p.type for p in data.pairs)
    attributed = _attributed(results)
    return {
        "title": data.test.get("name") or data.run_dir.parent.name,
        "run": data.run_dir.name,
        "run_path": "/".join(
            p.name for p in (data.run_dir.parent.parent, data.run_dir.parent, data.run_dir)
        ),
        "start": data.test.get("start", ""),
        "workload": data.test.get("workload") or "",
        "nemesis": ", ".join(map(str, _obj(data.test.get("options")).get("nemesis") or [])),
        "seconds": run.get("seconds", round(data.horizon, 1)),
        "calls": len(data.pairs),
        "counts": ", ".join(f"{n} {t}" for t, n in counts.most_common()),
        "verdict": verdict_of(results.get("valid")),
        "headline": _headline(results, anomalies, checkers),
        "error": results.get("error"),
        "checkers": _checker_rows(checkers),
        "groups": _groups(anomalies, by_index, pair_of),
        "oncall": runbook.for_results(results, list(dict.fromkeys(str(a.get("kind", "")) for a in anomalies))),
        "anomalies_during": _during_counts(results),
        "causes": _causes_line(results),
        "faults": [_band_row(b, attributed) for b in data.bands],
        "signals_known": bool(attributed),
        "images": images,
        "links": links,
        "has_timeline": any(p.name == "timeline.html" for p in graphs),
        "notes": data.notes,
        "scenario": _scenario(data, checkers),
        "replay": _replay(run),
        "by_node": _by_node(checkers),
        "extra_top": {
            k: _compact(v, 200)
            for k, v in results.items()
            if k not in {"valid", "anomalies", "checkers", "files", "error", "run", "history"}
        },
    }


def _replay(run: dict[str, Any]) -> dict[str, Any] | None:
    """How close a replay's faults came to the stored run's (``run.replay``, from ``seam test --replay``):
    a replay that drifted may not have reproduced the anomaly for the reason it first appeared."""
    replay = run.get("replay")
    if not isinstance(replay, dict) or not isinstance(replay.get("faults"), list):
        return None
    matched, missing = int(replay.get("matched") or 0), int(replay.get("missing") or 0)
    tolerance = replay.get("tolerance", 1.0)
    worst = float(replay.get("max_difference") or 0.0)
    summary = (f"{matched} of {matched + missing} stored faults started again; the largest offset "
               f"difference is {worst:.3f} s, {'within' if replay.get('within') else 'NOT within'} "
               f"the {tolerance:g} s tolerance")
    if replay.get("extra"):
        summary += f"; {replay['extra']} faults the stored run did not have"
    rows = [{k: ("-" if f.get(k) is None else f.get(k)) for k in ("fault", "f", "original", "replay", "difference")}
            for f in replay["faults"] if isinstance(f, dict)]
    return {"of": str(replay.get("of") or ""), "summary": summary, "within": bool(replay.get("within")),
            "faults": rows}


def _scenario(data: RunData, checkers: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The scenario the run played (test.json) and the artefacts that prove its point:
    the fences' rejections, each service operation's calls against the rows it wrote,
    retries against first attempts. Shown whatever the verdict, so a VALID run shows
    the mechanism holding and an INVALID one shows it failing."""
    scenario = _obj(data.test.get("scenario"))
    if not scenario:
        return None
    evidence: list[str] = []
    fencing = _obj(_obj(checkers.get("fencing")).get("stats"))
    rejected = [r for r in fencing.get("rejected") or [] if isinstance(r, dict)]
    if "rejected" in fencing:
        evidence.append(f"{len(rejected)} stale fencing token(s) rejected"
                        + (":" if rejected else " (no stale write reached a fence)"))
        evidence += [f"{r.get('node')} {r.get('ledger')}: rejected token {r.get('token')} < {r.get('highest')} "
                     f"for {r.get('key')}" for r in rejected[:5]]
    evidence += _calls_and_rows(data)
    for r in checkers.values():  # what a checker itself offers as evidence (the set checker, failover)
        evidence += [str(e) for e in _obj(r.get("stats")).get("evidence") or [] if isinstance(e, str)]
    retries = _final_counters(data, "gauges")
    if retries.get("retry_first_attempts"):
        evidence.append(f"retries {retries.get('retry_retries', 0):g} for {retries['retry_first_attempts']:g} first "
                        f"attempts, {retries.get('retry_shed_retries', 0):g} shed by the budget (graph: retries)")
    return {**scenario, "evidence": evidence}


def _by_node(checkers: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Calls completed per node, by type, from the stats of the checker that counted them
    (``perf``'s ``by_node``): is the load fair, and which node refused or timed out?"""
    for r in checkers.values():
        counts = _obj(_obj(r.get("stats")).get("by_node"))
        if counts:
            return [{"node": n, "total": sum(_obj(c).values()), **_obj(c)} for n, c in sorted(counts.items())]
    return []


def _final_counters(data: RunData, kind: str) -> dict[str, float]:
    """Each node's last known metrics (``Artifacts.final_metrics``: collected metrics.json,
    else the last scrape), summed over nodes (``counters`` or ``gauges``)."""
    from checkers.pipeline.artifacts import ArtifactError, Artifacts

    arts = Artifacts.open(data.run_dir)
    total: dict[str, float] = {}
    for node in arts.nodes():
        try:
            snap = arts.final_metrics(node) or {}
        except ArtifactError:
            continue  # an unreadable snapshot shows nothing here; the signals checker says why
        for k, v in _obj(snap.get(kind)).items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                total[k] = total.get(k, 0.0) + v
    return total


def _calls_and_rows(data: RunData) -> list[str]:
    """"payment/refund: 14 calls received, 7 rows written": a lost response that was
    retried shows as more calls than rows, the idempotency key holding."""
    import re

    from checkers.pipeline.artifacts import ArtifactError, Artifacts

    try:
        rows = Counter((r.service, r.op) for r in Artifacts.open(data.run_dir).ledger())
    except ArtifactError:
        return []
    out = []
    for key, n in sorted(_final_counters(data, "counters").items()):
        m = re.fullmatch(r'service_calls\{op="([^"]+)",service="([^"]+)"\}', key)
        written = rows.get((m.group(2), m.group(1)), 0) if m else 0
        if m and 0 < written < n:
            out.append(f"{m.group(2)}/{m.group(1)}: {n:g} calls received, {written} rows written")
    return out


def render(data: RunData, graphs: list[Path], path: Path) -> Path:
    """Write report.html; ``graphs`` are paths relative to the run directory."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    path.write_text(
        env.get_template("report.html.j2").render(**view(data, graphs)), encoding="utf-8"
    )
    return path
