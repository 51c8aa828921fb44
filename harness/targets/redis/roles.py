"""Who is primary, as time goes: an observer beside the clients, and a checker that reads it.

The observer asks every node twice a second, on the history's clock, what
its server says it is (``ROLE``) and where its Sentinel says the primary is,
and appends one line per node to ``nodes/<node>/roles.jsonl``. The checker
(``RolesChecker``, no verdict of its own) reads those lines after the run and
names each failover: which node was primary, which one a majority of the
Sentinels named instead, and when; when the old primary stopped calling
itself one (Sentinel demoted it after the partition healed); and how long
two servers both said they were primary (the window in which a write could
be acknowledged by the one whose data was about to be thrown away).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from harness.core.op import History
from harness.core.placement import NodeAddr
from harness.core.protocols import Test
from harness.core.verdict import CheckResult

FILE = "roles.jsonl"
PERIOD = 0.5


def _node_at(addrs: Mapping[str, NodeAddr], host: Any, port: Any) -> str | None:
    return next((n for n, a in addrs.items() if a.address == host and str(a.port) == str(port)), None)


def observe_once(addrs: Mapping[str, NodeAddr], node: str, sentinel_offset: int | None) -> dict[str, Any]:
    """One node's view now: its server's role (and whom it replicates), its Sentinel's primary."""
    from harness.targets.redis.client import ask_role, ask_sentinel

    a = addrs[node]
    role = ask_role(a.address, a.port, timeout=0.4)
    row: dict[str, Any] = {"role": None if role is None else role[0]}
    if role is not None and role[0] == "slave":
        row["replicates"] = _node_at(addrs, role[1], role[2])
    if sentinel_offset is not None:
        found = ask_sentinel(a.address, a.port + sentinel_offset, timeout=0.4)
        row["sentinel"] = None if found is None else _node_at(addrs, *found)
    return row


@contextmanager
def observe(addrs: Mapping[str, NodeAddr], run_dir: Path, start: float,
            sentinel_offset: int | None) -> Iterator[None]:
    """Poll every node every PERIOD s (one thread per node: a paused node delays only itself)."""
    stop = threading.Event()

    def poll(node: str) -> None:
        path = Path(run_dir) / "nodes" / node / FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as out:
            while not stop.is_set():
                t = time.monotonic() - start
                row = {"time": round(t, 3), **observe_once(addrs, node, sentinel_offset)}
                out.write(json.dumps(row) + "\n")
                out.flush()
                stop.wait(PERIOD)

    threads = [threading.Thread(target=poll, args=(n,), name=f"roles-{n}", daemon=True) for n in addrs]
    for t in threads:
        t.start()
    try:
        yield None
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=5.0)


def load(artifacts: Path | None) -> dict[str, list[dict[str, Any]]]:
    """Every node's observed rows, by node (none when the run has no such files)."""
    rows: dict[str, list[dict[str, Any]]] = {}
    if artifacts is None:
        return rows
    for path in sorted(Path(artifacts).glob(f"nodes/*/{FILE}")):
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        rows[path.parent.name] = [r for r in (_row(x) for x in lines) if r is not None]
    return rows


def _row(line: str) -> dict[str, Any] | None:
    try:
        row = json.loads(line)
    except ValueError:
        return None
    return row if isinstance(row, dict) and isinstance(row.get("time"), (int, float)) else None


def failovers(rows: Mapping[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Each change of the primary a majority of Sentinels names: old, new, when, and when the
    old one stopped saying it was primary (None: it never did, within the run)."""
    samples = sorted((r["time"], node, r.get("sentinel")) for node, rs in rows.items() for r in rs)
    view: dict[str, str | None] = {}
    majority = len(rows) // 2 + 1
    current: str | None = None
    out: list[dict[str, Any]] = []
    for t, node, named in samples:
        view[node] = named
        votes: dict[str, int] = {}
        for n in view.values():
            if n:
                votes[n] = votes.get(n, 0) + 1
        leader = next((n for n, v in votes.items() if v >= majority), None)
        if leader is None or leader == current:
            continue
        if current is not None:
            out.append({"old": current, "new": leader, "at_s": t, "old_demoted_at_s": _demoted(rows, current, t)})
        current = leader
    return out


def _demoted(rows: Mapping[str, list[dict[str, Any]]], node: str, after: float) -> float | None:
    for r in rows.get(node, []):
        if r["time"] >= after and r.get("role") == "slave":
            return float(r["time"])
    return None


def two_primaries(rows: Mapping[str, list[dict[str, Any]]]) -> float:
    """Seconds during which two or more servers said they were primary (by PERIOD-long samples)."""
    by_tick: dict[int, set[str]] = {}
    for node, rs in rows.items():
        for r in rs:
            if r.get("role") == "master":
                by_tick.setdefault(int(r["time"] / PERIOD), set()).add(node)
    return round(sum(PERIOD for nodes in by_tick.values() if len(nodes) > 1), 1)


def describe(f: Mapping[str, Any]) -> str:
    demoted = f.get("old_demoted_at_s")
    tail = (f"; {f['old']} stopped acting as primary at {demoted:.1f} s" if demoted is not None
            else f"; {f['old']} still said it was primary at the end of the run")
    return f"failover: {f['old']} -> {f['new']} at {f['at_s']:.1f} s (a majority of Sentinels named {f['new']}){tail}"


class RolesChecker:
    """Names the failovers of a run from ``roles.jsonl``; always valid (it reports, it does not judge)."""

    name = "failover"

    def check(self, test: Test | None, history: History, artifacts: Path | None) -> CheckResult:
        rows = load(artifacts)
        if not rows:
            return CheckResult(valid=True, stats={"note": f"no nodes/*/{FILE}: who was primary was not observed"})
        found = failovers(rows)
        both = two_primaries(rows)
        evidence = [describe(f) for f in found] or ["no failover: a majority of Sentinels named one primary "
                                                    "throughout"]
        if both:
            evidence.append(f"two servers said they were primary for about {both:g} s in all")
        return CheckResult(valid=True, stats={
            "failovers": len(found),
            "first": describe(found[0]) if found else "none",
            "two_primaries_s": both,
            "events": found,
            "evidence": evidence,
        })
