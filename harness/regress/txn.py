"""Regression cases of transactional anomalies (``checkers.txn``): the keys they are about.

A transactional anomaly rests on ops alone, but not on its own ops: a cycle's
``ww`` edge comes from a third transaction's read that orders two appends,
and a re-check of the cycle's transactions alone would call every element
they read whose writer is missing ``garbage``. What the checker inferred
about a key, though, depends only on the micro-ops on that key. So a case
keeps every transaction that touches a key the anomaly names, *projected*
onto those keys (micro-ops on other keys dropped), invoke and completion in
their history order:

* every version order, read and write of those keys is the run's, so the
  anomaly's edges and non-cycle findings on them come back;
* every edge of the projection is an edge of the run (realtime and process
  order are kept by the ops' order), so no anomaly appears that the run did
  not have.

An anomaly that names no key (an empty graph, a search that timed out) keeps
every op. The case's header carries the checker's options (``test.txn``:
workload, consistency models, anomalies, key flags, as the anomaly recorded
them), so a case from ``seam check FILE --out`` re-checks without a run's
test.json, with the model that found it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from harness.core.op import History, Op
from harness.core.verdict import Anomaly
from harness.formats.case import CaseHeader

#: The checker's name in results and case headers.
CHECKER = "txn"


def keys_of(anomaly: Anomaly) -> set[Any] | None:
    """The keys an anomaly is about (a non-cycle case's ``key``, every data step's of a cycle)."""
    d = anomaly.details
    keys: set[Any] = set()
    if "key" in d:
        keys.add(_hashable(d["key"]))
    for step in d.get("steps") or ():
        if isinstance(step, dict) and "key" in step:
            keys.add(_hashable(step["key"]))
    return keys or None


def project(history: History, keys: set[Any]) -> list[dict[str, Any]]:
    """The calls that touch ``keys``, each op's micro-ops cut down to those keys (module)."""
    keep: dict[int, list[Any]] = {}
    for pair in history.pairs():
        ops = [pair.invoke] if pair.completion is None else [pair.invoke, pair.completion]
        if pair.invoke.f != "txn" or not any(_touches(op, keys) for op in ops):
            continue
        for op in ops:
            keep[id(op)] = _only(op.value, keys)
    return [{**op.to_json(), "value": keep[id(op)]} for op in history if id(op) in keep]


def case_parts(history: History, anomaly: Anomaly, header: CaseHeader, *,
               verify: Callable[[Any], str | None], deadline: float) -> Any:
    """The case of one transactional anomaly (``capture.CaseParts``): its keys' calls, or
    every op when it names no key or a re-check of the keys alone misses it."""
    from harness.regress.capture import CaseParts

    options = anomaly.details.get("txn_options")
    if isinstance(options, dict):
        header.test = {**header.test, "txn": options}
    keys = keys_of(anomaly)
    whole = [op.to_json() for op in history]
    if keys is None:
        header.evidence = "whole"
        return CaseParts(header, whole)
    header.evidence = "keys"
    parts = CaseParts(header, project(history, keys))
    if time.monotonic() > deadline or not isinstance(options, dict):
        return parts
    verdict = verify(parts)
    if verdict is None:
        header.evidence = "whole"
        parts = CaseParts(header, whole)
        verdict = verify(parts)
    header.verified = verdict is not None
    if verdict is not None:
        header.verdict = verdict
    return parts


def checker(options: dict[str, Any]) -> Any:
    """The TxnChecker a case's ``test.txn`` options describe."""
    from checkers.txn import TxnChecker, TxnOptions
    from harness.core.errors import InputError

    known = ("workload", "consistency_models", "anomalies", "linearizable_keys", "sequential_keys", "wfr_keys")
    given = {k: options[k] for k in known if k in options}
    for name in ("consistency_models", "anomalies"):
        if isinstance(given.get(name), list):
            given[name] = tuple(given[name])
    try:
        return TxnChecker(TxnOptions(**given))
    except (TypeError, ValueError, KeyError) as e:
        raise InputError(f"a txn case's test.txn options {options!r} do not make a checker: {e}; "
                         "fix the header or rewrite the case with `seam check --out`") from None


def _touches(op: Op, keys: set[Any]) -> bool:
    return any(_hashable(m[1]) in keys for m in _mops(op.value))


def _only(value: Any, keys: set[Any]) -> Any:
    return [m for m in _mops(value) if _hashable(m[1]) in keys] if isinstance(value, list) else value


def _mops(value: Any) -> list[Any]:
    if not isinstance(value, list):
        return []
    return [m for m in value if isinstance(m, (list, tuple)) and len(m) >= 2]


def _hashable(x: Any) -> Any:
    if isinstance(x, list):
        return tuple(_hashable(e) for e in x)
    return x
