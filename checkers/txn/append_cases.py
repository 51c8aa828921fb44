"""List-append anomalies that need no cycle: each found by looking at reads.

* ``G1a`` aborted read: an ok read holds an element a failed transaction appended;
* ``G1b`` intermediate read: an ok read ends with an element its writer
  appended to the same key again later in the same transaction;
* ``dirty-update``: in a key's version order, a committed append follows an
  aborted one (with only in-doubt appends between): it was built on a dirty state;
* ``garbage``: a read holds an element no transaction ever appended;
* ``internal``: a transaction's read disagrees with its own earlier read or
  appends of that key;
* ``future-read``: a transaction reads an element it appends only later;
* ``lost-update``: two committed transactions read the same state of a key and
  both appended to it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from checkers.txn.append import INIT, AppendIndex, Case


def cases(idx: AppendIndex) -> Iterator[Case]:
    """Every case of the anomalies above, in transaction order per kind."""
    yield from aborted_and_garbage(idx)
    yield from intermediate(idx)
    yield from dirty_updates(idx)
    # Only a transaction that names a key twice can disagree with itself or
    # read-then-append: most do not, and are not looked at again.
    twice = [t for t in idx.txns if t.type == "ok" and len({m[1] for m in t.mops}) < len(t.mops)]
    for t in twice:
        yield from internal(t)
    yield from lost_updates(idx, twice)


def aborted_and_garbage(idx: AppendIndex) -> Iterator[Case]:
    """G1a and garbage: elements of reads written by a failed txn, or by none.

    Every read of a key is a prefix of the longest unless the order is
    incompatible (reported apart), so the elements of the distinct reads are
    looked at once per key, and the readers only when something is wrong.
    """
    txns, writer = idx.txns, idx.writer
    for k, order in idx.order.items():
        elements = {*order, *(e for r in idx.strays.get(k, ()) for e in r)}
        bad = {e for e in elements if (k, e) not in writer or txns[writer[(k, e)]].type == "fail"}
        if not bad:
            continue
        for (key, _), ids in idx.readers.items():
            if key != k:
                continue
            for t in ids:
                for f, kk, v in txns[t].mops:
                    if f != "r" or kk != k or not v:
                        continue
                    for e in v:
                        if e in bad:
                            w = writer.get((k, e))
                            kind = "garbage" if w is None else "G1a"
                            case = {"kind": kind, "ops": [txns[t].index], "key": k, "element": e,
                                    "read": v}
                            if w is not None:
                                case["writer"] = txns[w].index
                                case["ops"] = [txns[w].index, txns[t].index]
                            yield case


def intermediate(idx: AppendIndex) -> Iterator[Case]:
    """G1b: a read ending with an append its writer later followed on the same key."""
    txns = idx.txns
    later: dict[tuple[Any, Any], int] = {}  # (k, v) not its writer's last append to k
    for t in txns:
        last: dict[Any, Any] = {}
        for f, k, v in t.mops:
            if f == "append":
                if k in last:
                    later[(k, last[k])] = t.id
                last[k] = v
    if not later:
        return
    for (k, e), ids in idx.readers.items():
        w = later.get((k, e))
        if w is None:
            continue
        for r in ids:
            if r != w:
                yield {"kind": "G1b", "ops": [txns[w].index, txns[r].index], "key": k,
                       "element": e, "writer": txns[w].index}


def dirty_updates(idx: AppendIndex) -> Iterator[Case]:
    """A committed append after an aborted one, in-doubt appends between."""
    txns, writer = idx.txns, idx.writer
    for k, order in idx.order.items():
        last_type = "ok"
        run: list[Any] = []  # the aborted element and the in-doubt ones after it
        ids: list[int] = []
        for v in order:
            w = writer.get((k, v))
            if w is None:
                continue  # garbage, reported apart
            typ = txns[w].type
            if typ == "info":
                run.append(v)
                ids.append(w)
                continue
            if typ == "ok" and last_type == "fail":
                yield {"kind": "dirty-update", "key": k, "values": [*run, v],
                       "ops": [txns[i].index for i in (*ids, w)]}
            last_type, run, ids = typ, [v], [w]


def internal(t: Any) -> Iterator[Case]:
    """internal and future-read within one ok transaction."""
    state: dict[Any, tuple[bool, list[Any]]] = {}  # k -> (prefix known?, elements)
    seen: dict[Any, set[Any]] = {}  # k -> elements this txn has read
    for f, k, v in t.mops:
        if f == "append":
            if v in seen.get(k, ()):
                yield {"kind": "future-read", "ops": [t.index], "key": k, "element": v}
                return
            known, els = state.get(k, (False, []))
            state[k] = (known, [*els, v])
            continue
        read = list(v) if v else []
        if k in state:
            known, els = state[k]
            ok = read == els if known else len(read) >= len(els) and read[len(read) - len(els):] == els
            if not ok:
                expected = els if known else ["...", *els]
                yield {"kind": "internal", "ops": [t.index], "key": k, "read": read,
                       "expected": expected}
                return
        state[k] = (True, read)
        seen.setdefault(k, set()).update(read)


def lost_updates(idx: AppendIndex, txns: list[Any]) -> Iterator[Case]:
    """Two ok transactions (of ``txns``) that read one state of a key, then appended to it."""
    by_state: dict[tuple[Any, Any], list[int]] = {}
    for t in txns:
        first: dict[Any, Any] = {}
        wrote: set[Any] = set()
        for f, k, v in t.mops:
            if f == "r":
                first.setdefault(k, tuple(v) if v else ())
            elif k in first and k not in wrote:
                wrote.add(k)
                by_state.setdefault((k, first[k]), []).append(t.id)
    for (k, state), ids in by_state.items():
        if len(ids) > 1:
            yield {"kind": "lost-update", "key": k, "value": list(state),
                   "ops": [idx.txns[i].index for i in ids]}


__all__ = ["INIT", "cases"]
