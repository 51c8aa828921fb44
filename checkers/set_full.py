"""The set checker (Jepsen's set-full): what became of every element added to a set.

Reads a history of ``add`` and ``read`` ops on ``[key, v]`` (the set
workload, ``harness.workloads.set``) and follows each element of each set:

* it is **known** present from the moment its add was acknowledged, or the
  moment a read that saw it completed (an ``info`` add that shows up later
  is known from then on: it happened, it is not lost);
* every read that *began* after that moment must contain it. Reads are put
  in the order they began; the element is **lost** when the latest read of
  its set (the final read, after heal and recovery, when there is one) does
  not contain it: it was there, and from some read on no read saw it again.
  That is a ``lost-write`` (error);
* a read that began after the element was known and missed it, when a later
  read saw it again, is a **stale read** (a warning: a replica or an
  isolated primary answered from an old copy);
* an element read that no add ever attempted on that set, or whose add
  definitely failed, is ``unexpected`` (error); an element listed twice in
  one read is a ``duplicate`` (error).

Why "began after": a read concurrent with the add may or may not see it,
and nothing is wrong either way; only a read that started once the element
was certainly in must see it. Why the latest read and not the final one
only: a set retired early is read again only at the end, and a run whose
final read failed still has its last view of the set.

Also measured (``stats``): how long after its acknowledgement each element
was first seen (the latency-to-visibility distribution), and per element its
times and outcome (``points``), which the report draws. Only the history is
read, so ``seam check RUN_DIR`` gives the same verdict again.
"""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.core.op import History, Op
from harness.core.protocols import Test
from harness.core.verdict import Anomaly, CheckResult

NAME = "set"
NS = 1e9
#: Elements named in an anomaly's ``ops`` (their adds), so a report lists a sample, not thousands.
OPS_PER_ANOMALY = 10
#: Per-element points kept for the report's drawing; past this every lost element and a sample of the rest.
MAX_POINTS = 20_000
QUANTILES = (50, 90, 99)

# Outcomes of one element.
STABLE, STALE, LOST, NEVER_READ, UNSEEN, FAILED, RECOVERED = (
    "stable", "stale", "lost", "never-read", "unseen", "failed", "recovered")


@dataclass
class Add:
    element: Any
    invoke: Op
    done: Op | None  # None: open (crashed)

    @property
    def acked(self) -> bool:
        return self.done is not None and self.done.type == "ok"

    @property
    def failed(self) -> bool:
        return self.done is not None and self.done.type == "fail"


@dataclass
class Read:
    invoke: Op
    done: Op
    elements: frozenset[Any]
    final: bool


@dataclass
class Fate:
    """What the reads say about one element."""

    element: Any
    add: Add | None
    known: int | None = None  # ns: acknowledged, or first seen by a completed read
    first_seen: int | None = None  # ns: completion of the earliest read that saw it
    stale_reads: list[Read] = field(default_factory=list)  # began after known, missed it, seen later
    lost_since: Read | None = None  # the first read of the all-missing suffix
    outcome: str = UNSEEN


def _key_and_value(op: Op) -> tuple[str, Any] | None:
    v = op.value
    if isinstance(v, (list, tuple)) and len(v) == 2:
        return str(v[0]), v[1]
    return None


def _hashable(e: Any) -> Any:
    return tuple(e) if isinstance(e, list) else e


def collect(history: History) -> tuple[dict[str, dict[Any, Add]], dict[str, list[Read]], list[tuple[str, Read, list[Any]]]]:
    """(adds by key and element, ok reads by key in invoke order, reads listing an element twice)."""
    adds: dict[str, dict[Any, Add]] = {}
    reads: dict[str, list[Read]] = {}
    duplicates: list[tuple[str, Read, list[Any]]] = []
    for inv, done, _, _ in history.pairs():
        if not inv.is_client or inv.f not in ("add", "read"):
            continue
        kv = _key_and_value(inv)
        if kv is None:
            continue
        key, v = kv
        if inv.f == "add":
            adds.setdefault(key, {})[_hashable(v)] = Add(_hashable(v), inv, done)
            continue
        if done is None or done.type != "ok":
            continue
        got = _key_and_value(done)
        listed = got[1] if got is not None and isinstance(got[1], (list, tuple)) else []
        elements = [_hashable(e) for e in listed]
        read = Read(inv, done, frozenset(elements), bool(inv.extra.get("final") or done.extra.get("final")))
        reads.setdefault(key, []).append(read)
        twice = [e for e, n in Counter(elements).items() if n > 1]
        if twice:
            duplicates.append((key, read, sorted(twice, key=repr)))
    for rs in reads.values():
        rs.sort(key=lambda r: (r.invoke.time, r.done.time))
    return adds, reads, duplicates


def fate(element: Any, add: Add | None, reads: list[Read], starts: list[int]) -> Fate:
    """Follow one element through its set's reads (``starts``: their invoke times, sorted)."""
    f = Fate(element, add)
    seen = [r for r in reads if element in r.elements]
    if add is not None and add.failed:
        f.outcome = FAILED
    if seen:
        f.first_seen = min(r.done.time for r in seen)
    ack = add.done.time if add is not None and add.acked and add.done is not None else None
    candidates = [t for t in (ack, f.first_seen) if t is not None]
    if not candidates:
        if add is not None and not add.failed:
            f.outcome = UNSEEN  # info or open, never read: it may or may not have happened
        return f
    f.known = min(candidates)
    after = reads[bisect.bisect_right(starts, f.known):]
    if not after:
        f.outcome = NEVER_READ
        return f
    missing = [element not in r.elements for r in after]
    if missing[-1]:
        first = len(missing)
        while first > 0 and missing[first - 1]:
            first -= 1
        f.lost_since = after[first]
        f.stale_reads = [r for r, m in zip(after[:first], missing[:first], strict=True) if m]
        f.outcome = LOST
        return f
    f.stale_reads = [r for r, m in zip(after, missing, strict=True) if m]
    if add is not None and add.failed:
        f.outcome = FAILED
    elif ack is None:
        f.outcome = RECOVERED  # an add whose outcome was unknown, seen afterwards
    else:
        f.outcome = STALE if f.stale_reads else STABLE
    return f


class SetFullChecker:
    """Jepsen's set-full over a history of adds and reads; see the module docstring."""

    name = NAME

    def check(self, test: Test | None, history: History, artifacts: Path | None) -> CheckResult:
        adds, reads, duplicates = collect(history)
        anomalies: list[Anomaly] = []
        fates: list[tuple[str, Fate]] = []
        for key in sorted(set(adds) | set(reads), key=_set_order):
            key_adds, key_reads = adds.get(key, {}), reads.get(key, [])
            starts = [r.invoke.time for r in key_reads]
            key_fates = [fate(e, a, key_reads, starts) for e, a in key_adds.items()]
            fates += [(key, f) for f in key_fates]
            anomalies += _lost(key, key_fates, key_reads) + _stale(key, key_fates)
            anomalies += _unexpected(key, key_adds, key_reads)
        anomalies += [_duplicate(key, read, twice) for key, read, twice in duplicates]
        stats = _stats(fates, reads)
        valid = not any(a.severity == "error" for a in anomalies)
        return CheckResult(valid=valid, anomalies=anomalies, stats=stats)


def _set_order(key: str) -> tuple[int, str]:
    digits = key.lstrip("s")
    return (int(digits), key) if digits.isdigit() else (1 << 30, key)


def _sample_ops(fates: list[Fate]) -> list[int]:
    ops: list[int] = []
    for f in fates[:OPS_PER_ANOMALY]:
        if f.add is not None:
            ops.append(f.add.invoke.index)
    return ops


def _lost(key: str, fates: list[Fate], reads: list[Read]) -> list[Anomaly]:
    lost = sorted((f for f in fates if f.outcome == LOST), key=lambda f: f.known or 0)
    if not lost:
        return []
    acked = [f for f in lost if f.add is not None and f.add.acked]
    final = next((r for r in reversed(reads) if r.final), None)
    last = reads[-1]
    since = min(f.lost_since.invoke.time for f in lost if f.lost_since is not None)
    all_acked = sum(1 for f in fates if f.add is not None and f.add.acked)
    elements = [f.element for f in lost]
    summary = (f"set {key}: {len(lost)} element(s) lost ({len(acked)} of {all_acked} acknowledged adds), "
               f"e.g. {', '.join(map(str, elements[:5]))}: known present, then missing from every read "
               f"from {since / NS:.2f} s on" + (", including the final read" if last.final else
                                                  " (no final read of this set succeeded)"))
    ops = _sample_ops(lost) + [last.invoke.index]
    return [Anomaly(NAME, "lost-write", summary, ops=ops, fingerprint="lost-write", details={
        "key": key, "lost": len(lost), "acknowledged_lost": len(acked), "acknowledged": all_acked,
        "elements": elements, "missing_since_s": round(since / NS, 3),
        "final_read": None if final is None else final.invoke.index,
        "last_read": last.invoke.index,
        "known_range_s": [round((lost[0].known or 0) / NS, 3), round((lost[-1].known or 0) / NS, 3)],
    })]


def _stale(key: str, fates: list[Fate]) -> list[Anomaly]:
    stale = [f for f in fates if f.stale_reads and f.outcome != LOST]
    if not stale:
        return []
    lag = {f.element: max(r.invoke.time for r in f.stale_reads) - (f.known or 0) for f in stale}
    worst = max(stale, key=lambda f: lag[f.element])
    summary = (f"set {key}: {len(stale)} element(s) missed by a read that began after they were known "
               f"present, and seen by a later read; the worst, {worst.element}, was missed "
               f"{lag[worst.element] / NS:.2f} s after it was known")
    reads = sorted({r.invoke.index for f in stale for r in f.stale_reads})
    return [Anomaly(NAME, "stale-read", summary, ops=_sample_ops(stale) + reads[:OPS_PER_ANOMALY],
                    fingerprint="stale-read/set", severity="warning",
                    details={"key": key, "elements": len(stale), "stale_reads": len(reads),
                             "worst_lag_s": round(lag[worst.element] / NS, 3)})]


def _unexpected(key: str, adds: dict[Any, Add], reads: list[Read]) -> list[Anomaly]:
    seen: dict[Any, Read] = {}
    for r in reads:
        for e in r.elements:
            seen.setdefault(e, r)
    never = sorted((e for e in seen if e not in adds), key=repr)
    failed = sorted((e for e in seen if e in adds and adds[e].failed), key=repr)
    out = []
    for elements, why, fp in ((never, "no add of them was ever attempted", "unexpected"),
                              (failed, "their adds definitely failed", "unexpected/failed-add")):
        if not elements:
            continue
        ops = sorted({seen[e].invoke.index for e in elements})[:OPS_PER_ANOMALY]
        ops += [adds[e].invoke.index for e in elements[:OPS_PER_ANOMALY] if e in adds]
        out.append(Anomaly(NAME, "unexpected", f"set {key}: {len(elements)} element(s) read although {why}: "
                           f"{', '.join(map(str, elements[:5]))}", ops=ops, fingerprint=fp,
                           details={"key": key, "elements": elements}))
    return out


def _duplicate(key: str, read: Read, twice: list[Any]) -> Anomaly:
    return Anomaly(NAME, "duplicate", f"set {key}: one read lists {len(twice)} element(s) more than once: "
                   f"{', '.join(map(str, twice[:5]))}", ops=[read.invoke.index], fingerprint="duplicate",
                   details={"key": key, "elements": twice})


def _stats(fates: list[tuple[str, Fate]], reads: dict[str, list[Read]]) -> dict[str, Any]:
    import numpy as np

    outcomes = Counter(f.outcome for _, f in fates)
    adds = [f.add for _, f in fates if f.add is not None]
    acked = sum(1 for a in adds if a.acked)
    lost_acked = sum(1 for _, f in fates if f.outcome == LOST and f.add is not None and f.add.acked)
    latencies = [max(0, f.first_seen - f.add.done.time) / NS for _, f in fates
                 if f.add is not None and f.add.acked and f.add.done is not None and f.first_seen is not None]
    visibility: dict[str, Any] = {"count": len(latencies)}
    if latencies:
        pct = np.percentile(np.asarray(latencies), QUANTILES)
        visibility.update({f"p{q}_s": round(float(v), 4) for q, v in zip(QUANTILES, pct, strict=True)})
        visibility["max_s"] = round(max(latencies), 4)
    finals = sum(1 for rs in reads.values() for r in rs if r.final)
    evidence = [f"{acked} adds acknowledged, {lost_acked} of them lost"
                + (f" ({100.0 * lost_acked / acked:.1f}%)" if acked else "")
                + f"; {outcomes.get(RECOVERED, 0)} adds of unknown outcome were seen later (not lost)"]
    return {
        "attempted": len(adds),
        "acknowledged": acked,
        "info": sum(1 for a in adds if not a.acked and not a.failed),
        "failed": sum(1 for a in adds if a.failed),
        "lost": outcomes.get(LOST, 0),
        "lost_acknowledged": lost_acked,
        "stale": outcomes.get(STALE, 0),
        "recovered": outcomes.get(RECOVERED, 0),
        "never_read": outcomes.get(NEVER_READ, 0),
        "outcomes": dict(outcomes),
        "reads": sum(len(rs) for rs in reads.values()),
        "final_reads": finals,
        "visibility": visibility,
        "evidence": evidence,
        "points": _points(fates),
    }


def _points(fates: list[tuple[str, Fate]]) -> dict[str, Any]:
    """Per element: [element, add invoked s, add completed s or None, first seen s or None,
    missing since s or None, outcome], for the report's drawing; lost ones always kept."""
    def s(t: int | None) -> float | None:
        return None if t is None else round(t / NS, 3)

    rows = []
    for _, f in fates:
        if f.add is None:
            continue
        done = f.add.done.time if f.add.done is not None else None
        since = f.lost_since.invoke.time if f.lost_since is not None else None
        rows.append([f.element, s(f.add.invoke.time), s(done), s(f.first_seen), s(since), f.outcome])
    if len(rows) > MAX_POINTS:
        lost = [r for r in rows if r[5] == LOST]
        rest = [r for r in rows if r[5] != LOST]
        step = max(1, len(rest) // max(1, MAX_POINTS - len(lost)))
        rows = lost + rest[::step]
    return {"columns": ["element", "invoked_s", "completed_s", "first_seen_s", "missing_since_s", "outcome"],
            "rows": rows}


# --- on call: the runbook entries of this checker's kinds (checkers/runbook.py renders docs/oncall.md) ---
# stale-read has one entry for every checker that reports it, in checkers/stale_read.py.
from checkers.runbook import Runbook  # noqa: E402  (kept beside the entries, at the end)

_SET_LOOK = (
    "`jq '.checkers.set.anomalies[] | {kind, summary, details}' RUN/results.json` and `RUN/graphs/set.png` "
    "(every element by what became of it; lost in red).",
    "`jq -c 'select(.index == N)' RUN/history.jsonl` for the add and the reads the anomaly names.",
    "`jq '.checkers.failover' RUN/results.json` (which node was primary when) and the partitions: "
    "`jq -c 'select(.process == \"nemesis\")' RUN/history.jsonl`.",
)

RUNBOOK = (
    Runbook(
        name="lost-write",
        what="Each element added to a set against every later read: acknowledged (or seen), then missing "
        "from every read of its set from some point on, the final read included.",
        fires="Any such element. Severity error.",
        cause="Acknowledged before it was replicated, then thrown away when a replica was promoted over the "
        "old primary: asynchronous replication behind a failover (seed 002, a delivery guarantee that "
        "is not a business guarantee; Redis Sentinel under a partition).",
        look=_SET_LOOK,
        verify="`seam test --target redis --scenario primary-isolated --cluster netns --seed 7` finds it; "
        "`--target-opt wait=2 --target-opt min-replicas-to-write=1` narrows the window and "
        "`--target-opt failover=none --target-opt appendfsync=always --nemesis pause,kill` loses "
        "nothing (docs/redis.md); no `seam regress` case yet (`seam regress --promote RUN` adds one).",
    ),
    Runbook(
        name="unexpected",
        what="Elements a read returned that no client ever added, or whose add definitely failed.",
        fires="Any such element. Severity error.",
        cause="A definite failure that was not definite: a timed-out add reported as `fail` instead of "
        "`info`, which then landed (seed 002: a call that timed out may have succeeded).",
        look=_SET_LOOK,
        verify="`seam test --target redis --scenario primary-isolated --cluster netns --seed 7` has none; "
        "no `seam regress` case yet (`seam regress --promote RUN` adds one).",
    ),
    Runbook(
        name="duplicate",
        what="Reads of a set that list one element more than once.",
        fires="Any such read. Severity error.",
        cause="An add applied twice where the structure should have deduplicated it: at-least-once "
        "delivery without an idempotent receiver (seed 002, 'exactly-once is at-least-once plus "
        "idempotency').",
        look=_SET_LOOK,
        verify="`seam test --target redis --scenario primary-isolated --cluster netns --seed 7` has none; "
        "no `seam regress` case yet (`seam regress --promote RUN` adds one).",
    ),
)
