"""Why each anomaly is one: explanation data for every step of a cycle, and text.

A cycle is explained a step at a time, each step a reason why one
transaction must precede the next (``step``: data naming the key and the
values), then rendered as a short proof (``narrate``): "T1 < T2 because T2
read x = [1, 2], which includes T1's append of 2 (wr); T2 < T1 because ...;
a cycle, so no order of the transactions explains what they saw." Op
indices are the history's, so the narrative can be checked by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from checkers.txn.append import INIT, AppendIndex
from checkers.txn.cycles import Cycle
from checkers.txn.graph import NAMES, PROCESS, REALTIME, RW, WR, WW
from checkers.txn.register import RegisterIndex, node
from checkers.txn.txns import Txn


def step(index: AppendIndex | RegisterIndex, a: Txn, b: Txn, t: int) -> dict[str, Any]:
    """Data saying why ``a`` precedes ``b`` by a ``t`` edge."""
    data: dict[str, Any] = {"type": NAMES[t], "from": a.index, "to": b.index}
    if t == PROCESS:
        data["process"] = a.process
    elif t == REALTIME:
        data["completed"] = a.index
        data["invoked"] = b.index
    elif isinstance(index, AppendIndex):
        data.update(_append_step(index, a, b, t))
    else:
        data.update(_register_step(index, a, b, t))
    return data


def _append_step(idx: AppendIndex, a: Txn, b: Txn, t: int) -> dict[str, Any]:
    if t == WR:
        for f, k, v in b.mops:
            if f == "r" and v and idx.writer.get((k, v[-1])) == a.id:
                return {"key": k, "value": v[-1], "read": list(v)}
    for f, k, v in b.mops:
        if f != "append":
            continue
        prev = idx.prev(k, v)
        if t == WW and prev is not INIT and idx.writer.get((k, prev)) == a.id:
            return {"key": k, "value": prev, "value2": v}
        if t == RW and a.id in idx.readers.get((k, prev), ()):
            read = next((list(r or []) for g, kk, r in a.mops if g == "r" and kk == k
                         and (r[-1] if r else INIT) == prev), [])
            return {"key": k, "read": read, "value2": v}
    return {}


def _register_step(idx: RegisterIndex, a: Txn, b: Txn, t: int) -> dict[str, Any]:
    sources = list(idx.sources)
    if t == WR:
        for k, v in idx.writes[a.id].items():
            if k in idx.reads[b.id] and idx.reads[b.id][k] == v:
                return {"key": k, "value": v}
    mine = idx.writes[a.id] if t == WW else idx.reads[a.id]
    for k, v1 in mine.items():
        g = idx.versions.get(k)
        v2 = idx.writes[b.id].get(k, _NONE)
        if g is not None and v2 is not _NONE and g.has_edge(node(v1), node(v2)):
            return {"key": k, "value": v1, "value2": v2, "sources": sources}
    return {}


_NONE = object()


def render_step(d: dict[str, Any], names: dict[int, str]) -> str:
    """One step as a sentence; ``names`` maps op indices to T1, T2, ..."""
    a, b, t = names[d["from"]], names[d["to"]], d["type"]
    k = d.get("key")
    if t == "process":
        return f"{a} < {b} because process {d['process']} ran {a} and then {b} (process)"
    if t == "realtime":
        return f"{a} < {b} because {a} completed (op {d['completed']}) before {b} was invoked (realtime)"
    if t == "wr" and "read" in d:
        return (f"{a} < {b} because {b} read {k} = {d['read']}, which includes {a}'s append "
                f"of {d['value']!r} (wr)")
    if t == "wr":
        return f"{a} < {b} because {b} read {k} = {d['value']!r}, which {a} wrote (wr)"
    if t == "ww" and "sources" in d:
        return (f"{a} < {b} because {a} set {k} to {d['value']!r} and {b} set it to "
                f"{d['value2']!r}, a later version ({', '.join(d['sources'])}) (ww)")
    if t == "ww":
        return (f"{a} < {b} because {b} appended {d['value2']!r} to {k} right after {a}'s "
                f"append of {d['value']!r} (ww)")
    if "sources" in d:
        return (f"{a} < {b} because {a} read {k} = {d['value']!r} and {b} set it to "
                f"{d['value2']!r}, a later version, so {b}'s write came after {a}'s read (rw)")
    seen = f"{k} = {d.get('read', [])}" + (" (empty)" if not d.get("read") else "")
    return (f"{a} < {b} because {a} read {seen} and {b} appended {d.get('value2')!r} to {k} "
            f"right after that state, so {b}'s write came after {a}'s read (rw)")


def explain_cycle(index: AppendIndex | RegisterIndex, txns: Sequence[Txn], cycle: Cycle) -> dict[str, Any]:
    """The explanation data of a cycle: its transactions and a step per edge."""
    members = [txns[i] for i in cycle.nodes]
    n = len(members)
    steps = [step(index, members[i], members[(i + 1) % n], cycle.types[i]) for i in range(n)]
    return {
        "cycle": [t.index for t in members],
        "txns": [{"op": t.index, "process": t.process, "type": t.type, "value": t.mops} for t in members],
        "steps": steps,
    }


def narrate(kind: str, data: dict[str, Any]) -> str:
    """A cycle's explanation as a short proof."""
    names = {op: f"T{i + 1}" for i, op in enumerate(data["cycle"])}
    lines = [f"{kind}: a cycle of {len(names)} transactions"]
    lines += [f"  {names[t['op']]} = op {t['op']} (process {t['process']}, {t['type']}): {t['value']}"
              for t in data["txns"]]
    lines += [f"  - {render_step(s, names)};" for s in data["steps"]]
    lines.append("  a cycle, so no order of these transactions explains what they observed.")
    return "\n".join(lines)


def summarize(case: dict[str, Any]) -> str:
    """One line for a non-cycle anomaly."""
    kind, k = case["kind"], case.get("key")
    ops = ", ".join(map(str, case.get("ops", [])))
    texts = {
        "G1a": lambda: f"op {ops.split(', ')[-1]} read {k} holding {case['element']!r}, "
                       f"appended or written by op {case.get('writer')}, which failed",
        "G1b": lambda: f"op {ops.split(', ')[-1]} read {k} = {case['element']!r}, an intermediate "
                       f"write of op {case.get('writer')} (it wrote {k} again later)",
        "garbage": lambda: f"op {ops} read {k} = {case.get('read')!r}: "
                           + (case["why"] if "why" in case else
                              f"no transaction ever wrote {case.get('element')!r}"),
        "dirty-update": lambda: f"{k}: committed op {ops.split(', ')[-1]} appended on top of "
                                f"values {case['values']} from an aborted op (ops {ops})",
        "duplicate-elements": lambda: f"op {ops} read {k} = {case['read']} with "
                                      f"duplicates {case['duplicates']}",
        "incompatible-order": lambda: f"{k}: reads {case['values'][0]} and {case['values'][1]} "
                                      f"(ops {ops}) cannot both be prefixes of one order",
        "internal": lambda: f"op {ops} read {k} = {case['read']!r} but its own earlier "
                            f"reads and writes say {case['expected']!r}",
        "future-read": lambda: f"op {ops} read {k} holding {case['element']!r} before "
                               "appending it itself",
        "lost-update": lambda: f"ops {ops} all read {k} = {case['value']!r} and then wrote {k}",
        "cyclic-versions": lambda: f"{k}: versions {case['scc']} are ordered in a cycle by "
                                   f"{', '.join(case['sources'])}",
        "empty-transaction-graph": lambda: "no transaction depends on another: nothing to check",
        "cycle-search-timeout": lambda: f"gave up looking for {case.get('searched')} in a "
                                        f"component of {case.get('size')} transactions",
    }
    make = texts.get(kind)
    return make() if make else f"{kind} (ops {ops})"
