"""Simulated databases for property tests: list-append transactions run under a
chosen isolation level, recorded as a Seam history (invoke, then ok or fail).

A schedule is a sequence of transaction ids: the first time an id comes up
its transaction starts (invoke), each later time runs its next micro-op,
and the time after its last micro-op it commits (completion). Isolation:

* ``serializable``: the whole transaction runs atomically at its commit, so
  commit order is a serial order inside every transaction's interval (the
  history is strict serializable);
* ``si``: reads see the snapshot taken at start plus the transaction's own
  appends; commit fails if another transaction committed an append to one
  of its keys since its snapshot (first committer wins);
* ``rc``: reads see the latest committed state plus the transaction's own
  appends; a commit fails only if another transaction committed an append to
  a key since this one first appended to it (a write lock, as real databases
  hold one: without it a transaction's read of its own append would not be
  of the version it installs). Read skew and lost updates remain.
"""

from __future__ import annotations

from typing import Any

from harness.core.op import History, Op

Mop = tuple[str, Any]  # ("r", key) or ("append", key)


def run(txns: list[list[Mop]], schedule: list[int], isolation: str) -> History:
    """The history of ``txns`` run by ``schedule`` (see module) under ``isolation``."""
    committed: dict[Any, list[tuple[int, list[int]]]] = {}  # key -> [(commit time, list)]
    clock = 0
    counter = 0
    ops: list[Op] = []
    step = [0] * len(txns)
    snap = [0] * len(txns)
    done: list[list[list[Any]]] = [[] for _ in txns]
    buffer: list[dict[Any, list[int]]] = [{} for _ in txns]
    locked: list[dict[Any, int]] = [{} for _ in txns]  # rc: key -> clock at first append
    values: list[list[int]] = []
    for mops in txns:
        vals = []
        for f, _k in mops:
            counter += 1
            vals.append(counter if f == "append" else 0)
        values.append(vals)

    def latest(k: Any, at: int) -> list[int]:
        versions = [v for ts, v in committed.get(k, []) if ts <= at]
        return list(versions[-1]) if versions else []

    for t in schedule:
        mops = txns[t]
        i = step[t]
        step[t] += 1
        if i == 0:
            clock += 1
            snap[t] = clock
            invoke = [[f, k, values[t][j] if f == "append" else None] for j, (f, k) in enumerate(mops)]
            ops.append(Op(len(ops), 0, t, "invoke", "txn", invoke))
        elif i <= len(mops) and isolation != "serializable":
            f, k = mops[i - 1]
            if f == "append":
                locked[t].setdefault(k, clock)
                buffer[t].setdefault(k, []).append(values[t][i - 1])
                done[t].append([f, k, values[t][i - 1]])
            else:
                base = latest(k, snap[t] if isolation == "si" else clock)
                done[t].append([f, k, base + buffer[t].get(k, [])])
        elif i == len(mops) + 1:
            clock += 1
            if isolation == "serializable":
                done[t] = _atomic(mops, values[t], committed, clock)
                ops.append(Op(len(ops), 0, t, "ok", "txn", done[t]))
            elif any(
                ts > (snap[t] if isolation == "si" else locked[t][k])
                for k in buffer[t]
                for ts, _ in committed.get(k, [])
            ):
                ops.append(Op(len(ops), 0, t, "fail", "txn", ops_invoke(ops, t)))
            else:
                for k, vs in buffer[t].items():
                    committed.setdefault(k, []).append((clock, latest(k, clock) + vs))
                ops.append(Op(len(ops), 0, t, "ok", "txn", done[t]))
    return History(ops)


def ops_invoke(ops: list[Op], t: int) -> Any:
    return next(op.value for op in reversed(ops) if op.process == t and op.type == "invoke")


def _atomic(mops: list[Mop], vals: list[int], committed: dict, clock: int) -> list[list[Any]]:
    out: list[list[Any]] = []
    for (f, k), v in zip(mops, vals, strict=True):
        current = list(committed[k][-1][1]) if committed.get(k) else []
        if f == "append":
            committed.setdefault(k, []).append((clock, [*current, v]))
            out.append([f, k, v])
        else:
            out.append([f, k, current])
    return out


def schedule_for(txns: list[list[Mop]], order: list[int]) -> list[int]:
    """A schedule from an order of slots: each txn takes len(mops) + 2 steps, in
    the order its slots come up in ``order`` (a permutation of the slots)."""
    slots = [t for t, mops in enumerate(txns) for _ in range(len(mops) + 2)]
    return [slots[i] for i in order]
