"""Stale reads in any register history: a read older than a write acknowledged before it began.

Works on any target whose workload reads and writes registers (``read``,
``write``, ``cas``; with ``independent`` every value is ``[key, v]``, as
Jepsen's independent registers and ``harness.workloads.register`` write
them). It needs nothing but the history, so any target can declare it next
to the linearizability checker: it is cheaper, and its anomaly names the one
read and the one acknowledged write that contradict each other, which a
reader takes in faster than a failed linearization.

The rule, per key: a read that returned v is stale when a write W of the
same key was acknowledged before the read was invoked, and every write that
could have produced v had finished before W was even invoked (so W
overwrote v, for certain, before the read started). A write that may have
happened later (``info``, or one concurrent with W) keeps a read from being
called stale, so the check has no false positives even when values repeat;
with unique values (the register kit's), every stale read is found. A read
of ``null`` (never written) after an acknowledged write is stale likewise.
Positions in the history stand for time: the history is in the order the
control node saw the ops, so "acknowledged before invoked" is "its
completion comes earlier in the history".
"""

from __future__ import annotations

import bisect
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.core.op import INF, History, Op
from harness.core.protocols import Test
from harness.core.verdict import Anomaly, CheckResult

NAME = "stale-read"
REGISTER_FS = ("read", "write", "cas")
#: how many stale reads get an anomaly each; the rest are counted in stats
STALE_LISTED = 50


@dataclass(frozen=True)
class RCall:
    """A register call: positions in the history (``ret`` INF when it may still happen)."""

    f: str
    key: Any
    value: Any  # write: v; cas: new value; read: the value read
    inv: int
    ret: int
    invoke: Op
    done: Op | None


def register_calls(history: History, *, independent: bool = True) -> dict[Any, list[RCall]]:
    """Per key, the register calls that happened or may have (``fail`` dropped, and reads
    without a definite value: they constrain nothing). Without ``independent`` the
    whole history is one register, under the key None."""
    by_key: dict[Any, list[RCall]] = defaultdict(list)
    for inv, done, call, done_pos in history.pairs():
        if inv.f not in REGISTER_FS or (done is not None and done.type == "fail"):
            continue
        split = _split(inv.value, independent)
        if split is None:
            continue
        key, arg = split
        ok = done is not None and done.type == "ok"
        if inv.f == "read":
            got = _split(done.value, independent) if ok and done is not None and not done.unknown else None
            if got is None:
                continue
            value = got[1]
        elif inv.f == "cas":
            if not isinstance(arg, (list, tuple)) or len(arg) != 2:
                continue
            value = arg[1]
        else:
            value = arg
        ret = done_pos if ok and done_pos is not None else INF
        by_key[key].append(RCall(inv.f, key, value, call, ret, inv, done))
    return by_key


def _split(value: Any, independent: bool) -> tuple[Any, Any] | None:
    """(key, v) of an op's value; None when an independent value is not ``[key, v]``."""
    if not independent:
        return None, value
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return _freeze(value[0]), value[1]
    return None


def stale_reads(calls: list[RCall]) -> list[tuple[RCall, RCall]]:
    """(read, the acknowledged write it missed) for one key's calls; see the module docstring.

    The write named is the newest acknowledged one (by completion) that every
    possible source of the value read precedes, so the explanation is the
    strongest the history supports."""
    writes = [c for c in calls if c.f != "read"]
    acked = sorted((w for w in writes if w.ret != INF), key=lambda w: w.ret)
    acked_rets = [w.ret for w in acked]
    by_value: dict[Any, list[RCall]] = defaultdict(list)
    for w in writes:
        by_value[_freeze(w.value)].append(w)
    out = []
    for read in (c for c in calls if c.f == "read"):
        before = acked[: bisect.bisect_left(acked_rets, read.inv)]
        if not before:
            continue
        frozen = _freeze(read.value)
        # the last moment a write that could have produced the value read was still running
        last_source = max((s.ret for s in by_value.get(frozen, ()) if s.inv < read.ret), default=-1)
        for w in reversed(before):
            if _freeze(w.value) == frozen:
                break  # the read may have seen this very write
            if last_source < w.inv:
                out.append((read, w))
                break
    return out


def _freeze(v: Any) -> Any:
    """A hashable stand-in equal exactly when the JSON values are equal."""
    if isinstance(v, list | tuple):
        return tuple(_freeze(x) for x in v)
    if isinstance(v, dict):
        return frozenset((k, _freeze(x)) for k, x in v.items())
    return v


def _node(op: Op | None) -> Any:
    return None if op is None else op.extra.get("node")


def stale_anomaly(read: RCall, write: RCall) -> Anomaly:
    """The anomaly for one stale read: both calls' ops, values and the nodes that served them
    (and the replicas, where a client recorded them)."""
    where = {"read_node": _node(read.done) or _node(read.invoke),
             "write_node": _node(write.done) or _node(write.invoke)}
    for name, op in (("read_replicas", read.done), ("write_replicas", write.done)):
        if op is not None and "replicas" in op.extra:
            where[name] = op.extra["replicas"]
    ops = sorted(op.index for op in (write.invoke, write.done, read.invoke, read.done) if op is not None)
    key = "" if read.key is None else f"key {json.dumps(read.key, default=str)}: "
    return Anomaly(
        checker=NAME,
        kind="stale-read",
        summary=f"{key}read {json.dumps(read.value, default=str)} after a "
        f"{write.f} of {json.dumps(write.value, default=str)} was acknowledged",
        ops=ops,
        details={
            "key": read.key,
            "read": read.done.to_json() if read.done else read.invoke.to_json(),
            "read_value": read.value,
            "missed_write": write.done.to_json() if write.done else None,
            "missed_value": write.value,
            **where,
        },
        fingerprint="stale-read",
    )


class StaleReadChecker:
    """Stale reads of a register history; valid when there are none (or no register ops)."""

    name = NAME

    def __init__(self, *, independent: bool = True, listed: int = STALE_LISTED):
        self.independent = independent
        self.listed = listed

    def check(self, test: Test | None, history: History, artifacts: Path | None) -> CheckResult:
        by_key = register_calls(history, independent=self.independent)
        stale = [pair for calls in by_key.values() for pair in stale_reads(calls)]
        stale.sort(key=lambda p: p[0].inv)
        reads = sum(1 for calls in by_key.values() for c in calls if c.f == "read")
        return CheckResult(
            valid=not stale,
            anomalies=[stale_anomaly(r, w) for r, w in stale[: self.listed]],
            stats={"stale_reads": len(stale), "reads": reads, "keys": len(by_key)},
        )


# --- on call: the runbook entry of this checker's kind (checkers/runbook.py renders docs/oncall.md) ---
from checkers.runbook import Runbook  # noqa: E402  (kept beside the entry, at the end)

RUNBOOK = (
    Runbook(
        name="stale-read",
        what="Reads that returned older state than a write acknowledged before the read began: a register "
        "read older than such a write (this checker), or a set read missing an element already "
        "acknowledged and seen (checkers/set_full.py reports the same kind).",
        fires="Any such read; no threshold. Severity error.",
        cause="A read served by one replica or a cut-off member: weak quorums (seed 003 snippet 1), etcd "
        "with `--target-opt reads=serializable` on a partitioned member, a Redis replica read after a "
        "failover. The seed's 'a read can miss an acknowledged write'.",
        look=(
            "`jq '.checkers[\"stale-read\"].anomalies[0] | {summary, ops, details}' RUN/results.json` "
            "(the read and the write it missed; `.checkers.set` for sets).",
            "`seam check RUN` re-runs the checkers and prints the explanation; `jq -c 'select(.index == N)' "
            "RUN/history.jsonl` for each op it names and the node that served it.",
            "What was wrong at that time: `jq -c 'select(.process == \"nemesis\")' RUN/history.jsonl`, and for "
            "the pipeline `grep -h 'store: replication' RUN/nodes/*/node.log`.",
        ),
        verify="`seam test --workload register --scenario slow-replica --bug weak-quorum --seed 7` is "
        "INVALID with this kind, without `--bug` VALID; `seam regress regressions/stale-read`.",
    ),
)
