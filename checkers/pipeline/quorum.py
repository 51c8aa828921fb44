"""The quorum store: its configuration, stale reads, and linearizability per key.

Three checks, from the cheapest to the most expensive:

1. **Config lint** (no history needed): with N replicas, writes waiting for
   W acks and reads asking R replicas, a read quorum must meet every write
   quorum: R + W > N. R + W <= N is a ``weak-quorum-config`` anomaly. The
   ``weak-quorum`` bug flag makes the store use W = R = 1 whatever the
   configuration says, so the effective sizes are linted.
2. **Stale reads** (register workload, values ``[key, v]``): a read that
   returned v although a write W of the same key was acknowledged before the
   read began, and every write that could have produced v had finished
   before W was even invoked (so v was overwritten by W, for certain, before
   the read started). Writes that may have happened later (``info``, or
   concurrent with W) keep a read from being called stale: this check has no
   false positives even when values repeat. A read of ``null`` (never
   written) after any acknowledged write is stale likewise.
3. **Linearizability** per key (``LinearizableChecker``, model
   cas-register, independent), imported lazily.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from checkers.pipeline.artifacts import RunInfo, run_info
from harness.core.op import INF, History, Op
from harness.core.verdict import Anomaly, CheckResult, Valid, merge_valid

NAME = "quorum"
REGISTER_FS = ("read", "write", "cas")
#: how many stale reads get an anomaly each; the rest are counted in stats
STALE_LISTED = 50


def effective_replication(info: RunInfo) -> tuple[int, int, int] | None:
    if info.replication is None:
        return None
    n, w, r = info.replication
    if "weak-quorum" in info.bugs:
        return n, 1, 1
    return n, w, r


def lint(info: RunInfo) -> list[Anomaly]:
    eff = effective_replication(info)
    if eff is None:
        return []
    n, w, r = eff
    if r + w > n:
        return []
    why = " (the weak-quorum bug forces W=1, R=1)" if "weak-quorum" in info.bugs else ""
    return [
        Anomaly(
            checker=NAME,
            kind="weak-quorum-config",
            summary=f"R + W = {r + w} <= N = {n}: a read quorum can miss an acknowledged write{why}",
            details={
                "n": n,
                "w": w,
                "r": r,
                "configured": list(info.replication or ()),
                "bugs": list(info.bugs),
                "rule": "R + W > N",
            },
            fingerprint="weak-quorum-config",
        )
    ]


# ---------------------------------------------------------------------------
# stale reads


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


def register_calls(history: History) -> dict[Any, list[RCall]]:
    """Per key, the register calls that happened or may have (``fail`` dropped)."""
    by_key: dict[Any, list[RCall]] = defaultdict(list)
    for inv, done, call, done_pos in history.pairs():
        if inv.f not in REGISTER_FS or not _kv(inv.value):
            continue
        if done is not None and done.type == "fail":
            continue
        key = _hashable(inv.value[0])
        ok = done is not None and done.type == "ok"
        ret = done_pos if ok and done_pos is not None else INF
        if inv.f == "read":
            if not ok or done is None or done.unknown or not _kv(done.value):
                continue
            value = done.value[1]
        elif inv.f == "cas":
            if not isinstance(inv.value[1], (list, tuple)) or len(inv.value[1]) != 2:
                continue
            value = inv.value[1][1]
        else:
            value = inv.value[1]
        by_key[key].append(RCall(inv.f, key, value, call, ret, inv, done))
    return by_key


def stale_reads(calls: list[RCall]) -> list[tuple[RCall, RCall]]:
    """(read, the acknowledged write it missed) for one key; see the module docstring."""
    writes = [c for c in calls if c.f != "read"]
    acked = sorted((w for w in writes if w.ret != INF), key=lambda w: w.ret)
    out = []
    for read in (c for c in calls if c.f == "read"):
        before = [w for w in acked if w.ret < read.inv]
        if not before:
            continue
        sources = [w for w in writes if w.inv < read.ret and _same(w.value, read.value)]
        # the newest acknowledged write that every possible source of the value precedes
        for w in reversed(before):
            if _same(w.value, read.value):
                break  # the read may have seen this very write
            if all(s.ret < w.inv for s in sources):
                out.append((read, w))
                break
    return out


def _same(a: Any, b: Any) -> bool:
    return a == b


def _kv(v: Any) -> bool:
    return isinstance(v, (list, tuple)) and len(v) == 2


def _hashable(k: Any) -> Any:
    return tuple(k) if isinstance(k, list) else k


def _stale_anomaly(read: RCall, write: RCall) -> Anomaly:
    def node(op: Op | None) -> Any:
        return None if op is None else op.extra.get("node")

    replicas = {
        "read_node": node(read.done) or node(read.invoke),
        "write_node": node(write.done) or node(write.invoke),
    }
    for name, op in (("read_replicas", read.done), ("write_replicas", write.done)):
        if op is not None and "replicas" in op.extra:
            replicas[name] = op.extra["replicas"]
    ops = sorted(
        i
        for i in (write.invoke.index, _idx(write.done), read.invoke.index, _idx(read.done))
        if i is not None
    )
    return Anomaly(
        checker=NAME,
        kind="stale-read",
        summary=f"key {json.dumps(read.key, default=str)}: read {json.dumps(read.value, default=str)} after a "
        f"{write.f} of {json.dumps(write.value, default=str)} was acknowledged",
        ops=ops,
        details={
            "key": read.key,
            "read": read.done.to_json() if read.done else read.invoke.to_json(),
            "read_value": read.value,
            "missed_write": write.done.to_json() if write.done else None,
            "missed_value": write.value,
            **replicas,
        },
        fingerprint="stale-read",
    )


def _idx(op: Op | None) -> int | None:
    return None if op is None else op.index


def register_history(history: History) -> History | None:
    """The register ops of a history (whole invoke/completion pairs), or None if there are none."""
    keep: set[int] = set()
    for inv, done, _, _ in history.pairs():
        if inv.f in REGISTER_FS and _kv(inv.value):
            keep.add(id(inv))
            if done is not None:
                keep.add(id(done))
    if not keep:
        return None
    if len(keep) == len(history.client_ops):
        return history
    return History(
        [op for op in history.ops if id(op) in keep or not op.is_client], source=history.source
    )


class QuorumChecker:
    """Config lint + stale reads + (optionally) linearizability per key."""

    name = NAME

    def __init__(self, *, linearizable: bool = True, timeout: float | None = 60.0):
        self.linearizable = linearizable
        self.timeout = timeout

    def check(self, test: Any, history: History, artifacts: Path | None) -> CheckResult:
        info = run_info(test, artifacts)
        anomalies = lint(info)
        eff = effective_replication(info)
        stats: dict[str, Any] = {
            "replication": None if eff is None else dict(zip("nwr", eff, strict=True)),
            "configured": None if info.replication is None else list(info.replication),
        }
        regs = register_history(history)
        verdicts: list[Valid] = [not anomalies]
        error = None
        if regs is not None:
            stale = [pair for calls in register_calls(regs).values() for pair in stale_reads(calls)]
            stale.sort(key=lambda p: p[0].inv)
            anomalies += [_stale_anomaly(r, w) for r, w in stale[:STALE_LISTED]]
            stats["stale_reads"] = len(stale)
            verdicts.append(not stale)
            if self.linearizable:
                lin = self._linearizable(test, regs)
                anomalies += lin.anomalies
                stats["linearizable"] = {"valid": lin.valid, **lin.stats}
                verdicts.append(lin.valid)
                error = lin.error
        else:
            stats["stale_reads"] = None
        return CheckResult(
            valid=merge_valid(verdicts), anomalies=anomalies, stats=stats, error=error
        )

    def _linearizable(self, test: Any, history: History) -> CheckResult:
        from checkers.linearizable.checker import LinearizableChecker

        return LinearizableChecker("cas-register", independent=True, timeout=self.timeout).check(
            test, history, None
        )
