"""Transactions out of a history: which ops are transactions, paired how.

A transaction is an op with ``"f": "txn"`` whose value is a list of micro-ops
(``["append", k, v]``, ``["r", k, [..] | null]``, ``["w", k, v]``,
``["r", k, v]``). The checker works on ``Txn``s, one per call: the
completion's micro-ops (an ``info`` keeps the invoke's, whose reads say
nothing), the completion's type, and the two history positions that
real-time edges need.

Pairing follows Seam's one rule (an invoke is completed by the next
completion of its process, ``harness.core.op.pairing``) and widens it for
the foreign histories Elle's tests hold:

* a completion with no invoke is a *completion-only* transaction: it
  happened (or failed) but nobody saw it start, so no real-time edge may lead
  into it (one may lead out: it had finished when its completion was seen);
* a process may have several invokes open at once (Elle's tests overlap
  them); a completion then pairs with the oldest open invoke of its process
  whose micro-ops name the same functions and keys, and with none (it is
  completion-only) if no open invoke looks like it;
* an invoke never completed is ``info``: it may or may not have happened.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from harness.core.op import NEMESIS

#: ``Txn.invoked`` of a completion-only transaction.
NEVER = -1


@dataclass(slots=True)
class Txn:
    """One transaction. ``id`` is its position in the list of transactions (a graph
    vertex); ``index`` the history index of the op that names it (the completion,
    or the invoke of a call never completed); ``invoked``/``completed`` are history
    positions (``NEVER`` when unknown), for real-time order only."""

    id: int
    index: int
    process: Any
    type: str
    mops: list[Any]
    invoked: int
    completed: int


class TxnFormatError(ValueError):
    """A transaction whose micro-ops the workload cannot read; the message says which."""


def _shape(value: Any) -> tuple[Any, ...] | None:
    """(function, key) of every micro-op, to match completions to invokes."""
    if value.__class__ is not list:
        return None
    try:
        return tuple((m[0], hashable(m[1])) for m in value)
    except (TypeError, IndexError, KeyError):
        return None


def hashable(x: Any) -> Any:
    """Keys and values as dict keys: lists (EDN vectors, JSON arrays) become tuples."""
    if x.__class__ is list:
        return tuple(hashable(e) for e in x)
    if x.__class__ is dict:
        return tuple(sorted((hashable(k), hashable(v)) for k, v in x.items()))
    return x


def transactions(ops: Sequence[Any]) -> list[Txn]:
    """The transactions of ``ops`` (``Op``s), in order of their completion
    (an ``info`` never completed comes at the end), per the module docstring."""
    open_: dict[Any, list[tuple[int, Any]]] = {}  # process -> [(position, invoke op)]
    found: list[tuple[int, int, Any, Any]] = []  # (completed pos, invoked pos, invoke, completion)
    for pos, op in enumerate(ops):
        if op.process == NEMESIS or op.f != "txn":
            continue
        if op.type == "invoke":
            open_.setdefault(op.process, []).append((pos, op))
            continue
        waiting = open_.get(op.process)
        match = _match(waiting, op) if waiting else None
        if match is None:
            found.append((pos, NEVER, None, op))
        else:
            found.append((pos, waiting.pop(match)[0], None, op))  # type: ignore[union-attr]
    for waiting in open_.values():
        for pos, op in waiting:
            found.append((NEVER, pos, op, None))
    found.sort(key=lambda f: (f[0] == NEVER, f[0] if f[0] != NEVER else f[1]))
    return [_txn(i, ops, *f) for i, f in enumerate(found)]


def _match(waiting: list[tuple[int, Any]], done: Any) -> int | None:
    """Which open invoke ``done`` completes: the only one (Seam's rule), else the
    oldest that names the same functions and keys, else none."""
    if len(waiting) == 1:
        return 0
    shape = _shape(done.value)
    for i, (_, inv) in enumerate(waiting):
        if _shape(inv.value) == shape:
            return i
    return None


def _txn(i: int, ops: Sequence[Any], completed: int, invoked: int, invoke: Any, done: Any) -> Txn:
    if done is None:  # never completed: in doubt
        return Txn(i, invoke.index, invoke.process, "info", _mops(invoke), invoked, NEVER)
    mops = _mops(done)
    if done.type == "info" and invoked != NEVER and not mops:
        mops = _mops(ops[invoked])
    return Txn(i, done.index, done.process, done.type, mops, invoked, completed)


def _mops(op: Any) -> list[Any]:
    value = op.value
    if value is None:
        return []
    if value.__class__ is not list:
        raise TxnFormatError(
            f"op {op.index}: a txn value must be a list of micro-ops, got {value!r:.60}"
        )
    return value


def check_mops(txns: Iterable[Txn], functions: frozenset[str]) -> None:
    """Every micro-op is ``[f, k, v]`` with ``f`` in ``functions``; TxnFormatError
    naming the first op that is not. A read written ``[r, k]`` (Elle's tests) gets
    a ``None`` value in a copy: the history's own lists are never changed."""
    for t in txns:
        short = False
        for m in t.mops:
            if m.__class__ is not list or not 2 <= len(m) <= 3 or m[0] not in functions:
                allowed = ", ".join(sorted(functions))
                raise TxnFormatError(
                    f"op {t.index}: micro-op {m!r:.60} is not [f, key, value] with f one of {allowed}"
                )
            if len(m) == 2:
                if m[0] != "r":
                    raise TxnFormatError(f"op {t.index}: micro-op {m!r:.60} has no value")
                short = True
        if short:
            t.mops = [m if len(m) == 3 else [m[0], m[1], None] for m in t.mops]
