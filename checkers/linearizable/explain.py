"""Why a key is not linearizable, as data (``narrate`` tells it as a short proof).

``explain`` turns one failing ``KeyResult`` into an ``Explanation``: the
longest linearizable prefix the search found, the first call it could not
place, the model states possible just before that call, the calls that must
precede it in real time, and a shrunk failing sub-history (delta debugging),
kept as the original ops so it can be written as JSONL and replayed as a
regression case.

This module is the orchestrator: shrinking is ``shrink``'s job (delta
debugging), and everything in an ``Explanation`` is plain data
(``to_json``) that ``narrate`` renders as Elle-style text and
``checkers.report.linear`` draws. The real-time precedence graph (a -> b iff
a returned before b was invoked) is built, already transitively reduced,
only over the few calls near the failure.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from checkers.linearizable.models import model_ref
from checkers.linearizable.shrink import search_subset, shrink
from checkers.linearizable.witness import Witness, find_witness
from harness.core.op import INF, UNKNOWN, Call, History, Op

#: How many calls around the failure the timeline and precedence graph show.
WINDOW_LIMIT = 160
#: How many possible states an explanation lists (the rest are counted).
STATES_LIMIT = 12


@dataclass
class CallView:
    """One call as an explanation shows it: who, what, and where in the history.

    ``invoke`` and ``complete`` are op numbers (the history's ``index``
    field, or the position when the file had none); ``complete`` is the
    ``info`` op for a crashed call that reported one, else None. ``call``
    and ``ret`` are positions in the history (``ret`` None when crashed).
    """

    id: int
    process: Any
    f: str
    input: Any
    output: Any
    output_known: bool
    crashed: bool
    invoke: int
    complete: int | None
    call: int
    ret: int | None
    description: str

    def to_json(self) -> dict[str, Any]:
        # Field by field: ``dataclasses.asdict`` deep-copies every value, and a
        # failing key's explanation holds thousands of views.
        return {
            "id": self.id,
            "process": self.process,
            "f": self.f,
            "input": self.input,
            "output": self.output,
            "output_known": self.output_known,
            "crashed": self.crashed,
            "invoke": self.invoke,
            "complete": self.complete,
            "call": self.call,
            "ret": self.ret,
            "description": self.description,
        }


@dataclass
class Explanation:
    """Why one key's calls have no linearization. Plain data; see the module docstring.

    ``prefix`` is the longest linearizable prefix (in linearization order),
    ``failing`` the call to blame at the deepest point of the search and
    ``states`` the model states possible just before it (described by the
    model). ``must_precede`` are ``failing``'s immediate real-time
    predecessors. ``window`` is the set of calls near the failure that the
    timeline draws, with ``edges`` the transitive reduction of real-time
    precedence among them. ``shrunk`` is a failing sub-history, 1-minimal
    when ``shrunk_minimal``; ``shrunk_failing``/``shrunk_prefix``/
    ``shrunk_states``/``shrunk_edges`` are the same analysis on it, which is
    what the narrative walks through. ``shrunk_real_time``: the sub-history
    keeps ``failing`` and fails only because of when it happened;
    ``failing_impossible``: ``failing``'s result is legal at no time at all
    (see ``shrink``). ``initial`` is the model's initial state, to replay
    ``shrunk_ops`` with the same model. ``witness`` is the plainest proof
    in the full history that ``failing`` is illegal, when there is one (see
    ``witness_data``); the shrunk sub-history then keeps its calls.
    ``points`` are the linearization points of the window's calls that are
    in ``prefix`` (see ``linearization_points``).
    """

    model: str
    key: Any
    source: str
    independent: bool
    calls_total: int
    valid: Any
    prefix: list[CallView]
    failing: CallView | None
    stuck: list[CallView]
    states: list[str]
    states_total: int
    must_precede: list[CallView]
    must_precede_total: int
    window: list[CallView]
    edges: list[tuple[int, int]]
    shrunk: list[CallView]
    shrunk_ops: list[Op] = field(repr=False)
    shrunk_minimal: bool
    shrunk_failing: CallView | None
    shrunk_prefix: list[CallView]
    shrunk_states: list[str]
    shrunk_states_total: int
    shrunk_edges: list[tuple[int, int]]
    shrunk_real_time: bool
    failing_impossible: bool
    shrink_tests: int
    shrink_seconds: float
    history: str | None = None
    initial: Any = None
    witness: dict[str, Any] | None = None
    points: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        def views(vs: Sequence[CallView]) -> list[dict[str, Any]]:
            return [v.to_json() for v in vs]

        def view(v: CallView | None) -> dict[str, Any] | None:
            return None if v is None else v.to_json()

        return {
            "model": self.model,
            "key": jsonable(self.key),
            "source": self.source,
            "independent": self.independent,
            "calls_total": self.calls_total,
            "valid": self.valid,
            "prefix": views(self.prefix),
            "failing": view(self.failing),
            "stuck": views(self.stuck),
            "states": list(self.states),
            "states_total": self.states_total,
            "must_precede": views(self.must_precede),
            "must_precede_total": self.must_precede_total,
            "window": views(self.window),
            "edges": [list(e) for e in self.edges],
            "shrunk": views(self.shrunk),
            "shrunk_ops": [jsonable(op.to_json()) for op in self.shrunk_ops],
            "shrunk_minimal": self.shrunk_minimal,
            "shrunk_failing": view(self.shrunk_failing),
            "shrunk_prefix": views(self.shrunk_prefix),
            "shrunk_states": list(self.shrunk_states),
            "shrunk_states_total": self.shrunk_states_total,
            "shrunk_edges": [list(e) for e in self.shrunk_edges],
            "shrunk_real_time": self.shrunk_real_time,
            "failing_impossible": self.failing_impossible,
            "shrink_tests": self.shrink_tests,
            "shrink_seconds": round(self.shrink_seconds, 6),
            "history": self.history,
            "initial": self.initial,
            "witness": self.witness,
            "points": list(self.points),
        }


def jsonable(v: Any) -> Any:
    """A JSON-safe copy: tuples and sets become lists, UNKNOWN becomes None, the rest repr."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if v is UNKNOWN:
        return None
    if isinstance(v, dict):
        return {str(k) if not isinstance(k, str) else k: jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, (set, frozenset)):
        items = [jsonable(x) for x in v]
        try:
            return sorted(items)
        except TypeError:
            return sorted(items, key=repr)
    return repr(v)


# --------------------------------------------------------------------------
# Building an explanation


def explain(
    history: History,
    key: Any,
    calls: Sequence[Call],
    result: Any,
    model: Any,
    *,
    independent: bool = False,
    shrink_budget: float = 5.0,
    test_timeout: float = 0.5,
    max_configs: int | None = None,
    window_limit: int = WINDOW_LIMIT,
    completions: dict[int, int] | None = None,
) -> Explanation:
    """Explain why ``calls`` (one key's calls, as searched) are not linearizable.

    ``result`` is that key's ``SearchResult``. Shrinking re-runs the search
    on candidate sub-histories, each with ``test_timeout`` seconds, and stops
    after ``shrink_budget`` seconds overall (the result is then still failing
    but not necessarily 1-minimal: ``shrunk_minimal`` says which). A budget
    of 0 skips shrinking: ``shrunk`` is then empty. ``completions`` is
    ``completion_positions(history)``, passed in when explaining many keys
    of one history so it is computed once.
    """
    calls = list(calls)
    by_id = {c.id: c for c in calls}
    if completions is None:
        completions = completion_positions(history)

    views: dict[int, CallView] = {}  # a call appears in several lists: describe it once

    def cv(c: Call) -> CallView:
        view = views.get(c.id)
        if view is None or view.call != c.call:
            view = views[c.id] = call_view(history, c, model, completions)
        return view

    prefix = [by_id[i] for i in result.linearization if i in by_id]
    stuck = [by_id[i] for i in result.stuck if i in by_id]
    failing = stuck[0] if stuck else None
    proof = find_witness(calls, model, failing) if failing is not None else None
    t0 = time.monotonic()
    part = _shrunk_part(calls, model, failing, proof, shrink_budget, test_timeout, max_configs)
    shrink_seconds = time.monotonic() - t0

    focus = [*part.calls, *([failing] if failing else []), *_witness_calls(proof)]
    window = window_calls(calls, focus, window_limit)
    reduced = precedence_reduction(window)
    must = sorted(reduced.predecessors(failing.id), key=lambda i: by_id[i].ret) if failing else []
    return Explanation(
        model=model_ref(model),
        key=key,
        source=history.source,
        independent=independent,
        calls_total=len(calls),
        valid=result.valid,
        prefix=[cv(c) for c in prefix],
        failing=cv(failing) if failing is not None else None,
        stuck=[cv(c) for c in stuck],
        states=[model.describe_state(s) for s in list(result.states)[:STATES_LIMIT]],
        states_total=len(result.states),
        must_precede=[cv(by_id[i]) for i in must],
        must_precede_total=sum(1 for c in calls if failing is not None and c.ret < failing.call),
        window=[cv(c) for c in window],
        edges=sorted(reduced.edges()),
        shrunk=[cv(c) for c in part.calls],
        shrunk_ops=sub_history_ops(history, part.calls, completions),
        shrunk_minimal=part.minimal,
        shrunk_failing=cv(part.failing) if part.failing is not None else None,
        shrunk_prefix=[cv(c) for c in part.prefix],
        shrunk_states=[model.describe_state(s) for s in part.states[:STATES_LIMIT]],
        shrunk_states_total=len(part.states),
        shrunk_edges=sorted(precedence_reduction(part.calls).edges()),
        shrunk_real_time=part.real_time,
        failing_impossible=part.impossible,
        shrink_tests=part.tests,
        shrink_seconds=shrink_seconds,
        initial=jsonable(model.init()),
        witness=witness_data(proof, model, cv),
        points=linearization_points(prefix, model, {c.id for c in window}),
    )


@dataclass
class _ShrunkPart:
    """The shrunk sub-history and the search's own analysis of it."""

    calls: list[Call] = field(default_factory=list)
    minimal: bool = False
    tests: int = 0
    real_time: bool = False
    impossible: bool = False
    failing: Call | None = None
    prefix: list[Call] = field(default_factory=list)
    states: list[Any] = field(default_factory=list)


def _shrunk_part(
    calls: list[Call],
    model: Any,
    failing: Call | None,
    proof: Witness | None,
    budget: float,
    test_timeout: float,
    max_configs: int | None,
) -> _ShrunkPart:
    if budget <= 0:
        return _ShrunkPart()
    found = shrink(
        calls,
        model,
        failing=failing,
        keep=[proof.blocker] if proof else (),
        seed=[c for c in (proof.source, proof.blocker, failing) if c] if proof else None,
        budget=budget,
        test_timeout=test_timeout,
        max_configs=max_configs,
    )
    result = search_subset(found.calls, model, test_timeout * 4, max_configs)
    if result.valid is not False:  # the failure could not be shown again in time: claim nothing
        return _ShrunkPart(tests=found.tests)
    sub = found.calls  # the search saw them renumbered 0..n-1
    return _ShrunkPart(
        calls=sub,
        minimal=found.minimal,
        tests=found.tests,
        real_time=found.real_time,
        impossible=found.impossible,
        failing=sub[result.stuck[0]] if result.stuck else None,
        prefix=[sub[i] for i in result.linearization],
        states=list(result.states),
    )


def _witness_calls(proof: Witness | None) -> list[Call]:
    if proof is None:
        return []
    named = [proof.blocker, *proof.enablers[-1:], *(c for c, _ in proof.stranded)]
    return named + ([proof.source] if proof.source else [])


#: How many of a witness's enablers (the calls that could have made the failing call legal) are listed.
ENABLERS_LIMIT = 6


def witness_data(proof: Witness | None, model: Any, cv: Any) -> dict[str, Any] | None:
    """A ``Witness`` as plain data: ``CallView``s and described states.

    ``enablers`` keeps the last ``ENABLERS_LIMIT`` (``enablers_total``
    counts them all), ``late_total`` counts those that began after the
    failing call returned.
    """
    if proof is None:
        return None
    return {
        "failing": cv(proof.failing).to_json(),
        "blocker": cv(proof.blocker).to_json(),
        "left": None if proof.left is None else model.describe_state(proof.left),
        "blocker_writes": proof.blocker_writes,
        "enablers": [cv(c).to_json() for c in proof.enablers[-ENABLERS_LIMIT:]],
        "enablers_total": len(proof.enablers),
        "late_total": len(proof.late_enablers),
        "stranded": [
            {"call": cv(c).to_json(), "needs": [model.describe_state(s) for s in needs]}
            for c, needs in proof.stranded
        ],
        "source": cv(proof.source).to_json() if proof.source else None,
        "initial_legal": proof.initial_legal,
        "initial": model.describe_state(model.init()),
    }


def linearization_points(
    prefix: Sequence[Call], model: Any, shown: set[int]
) -> list[dict[str, Any]]:
    """Where each call of the linearizable prefix takes effect, and the state around it.

    The point of the n-th call is the latest invoke among the first n
    (``at``, a history position): every call before it in the order has
    begun by then, and since the order respects real time (no earlier call
    began after this one returned) the point lies inside the call's own
    interval. ``before``/``after`` are the model states around it (the
    search's own order, replayed from ``model.init()``). Only calls in
    ``shown`` are kept, ``order`` counts from 1 over the whole prefix.
    """
    points: list[dict[str, Any]] = []
    state, at = model.init(), -1
    for n, c in enumerate(prefix, start=1):
        at = max(at, c.call)
        ok, after = model.step(state, c)
        if not ok:  # not a linearization after all: draw nothing rather than a wrong story
            break
        if c.id in shown:
            points.append(
                {
                    "id": c.id,
                    "order": n,
                    "at": at,
                    "before": model.describe_state(state),
                    "after": model.describe_state(after),
                }
            )
        state = after
    return points


def completion_positions(history: History) -> dict[int, int]:
    """invoke position -> position of its completion (ok, fail or info), from ``History.pairs``."""
    return {p.invoke_pos: p.completion_pos for p in history.pairs() if p.completion_pos is not None}


def _op_number(history: History, pos: int) -> int:
    index = history.ops[pos].index
    return index if isinstance(index, int) and index >= 0 else pos


def call_view(history: History, c: Call, model: Any, completions: dict[int, int]) -> CallView:
    done = completions.get(c.call)
    return CallView(
        id=c.id,
        process=c.process,
        f=c.f,
        input=jsonable(c.input),
        output=jsonable(c.output),
        output_known=c.output is not UNKNOWN,
        crashed=c.ret == INF,
        invoke=_op_number(history, c.call),
        complete=_op_number(history, done) if done is not None else None,
        call=c.call,
        ret=None if c.ret == INF else c.ret,
        description=model.describe_call(c),
    )


def sub_history_ops(
    history: History, calls: Sequence[Call], completions: dict[int, int] | None = None
) -> list[Op]:
    """The original ops (invoke and completion, in history order) of ``calls``.

    A crashed call keeps its ``info`` completion if it had one, or stays
    open, so the sub-history means exactly what the full one did.
    """
    completions = completion_positions(history) if completions is None else completions
    positions: list[int] = []
    for c in calls:
        positions.append(c.call)
        done = completions.get(c.call)
        if done is not None:
            positions.append(done)
    return [history.ops[p] for p in sorted(set(positions))]


def write_explanation_jsonl(explanation: Explanation, path_or_file: str | Path | IO[str]) -> None:
    """Write the shrunk failing sub-history as Seam JSONL: a ready regression case."""
    from harness.formats import write_jsonl

    write_jsonl(explanation.shrunk_ops, path_or_file)


# --------------------------------------------------------------------------
# Real-time precedence (small graphs: the calls near the failure)


@dataclass
class Precedence:
    """A directed graph over call ids: ``edges`` as (a, b) pairs, every call a node.

    Plain lists rather than a graph library: the graphs are small, the only
    questions asked are "which edges" and "which predecessors", and loading
    networkx cost more than the rest of explaining a small failure.
    """

    nodes: list[int]
    edge_list: list[tuple[int, int]]

    def edges(self) -> list[tuple[int, int]]:
        return list(self.edge_list)

    def predecessors(self, node: int) -> list[int]:
        return [a for a, b in self.edge_list if b == node]


def precedence_graph(calls: Sequence[Call]) -> Precedence:
    """a -> b iff a returned before b was invoked (every such pair)."""
    ordered = sorted(calls, key=lambda c: c.call)
    starts = [c.call for c in ordered]
    edges = [
        (a.id, b.id)
        for a in calls
        if a.ret != INF
        for b in ordered[bisect.bisect_right(starts, a.ret) :]
    ]
    return Precedence([c.id for c in calls], edges)


def precedence_reduction(calls: Sequence[Call]) -> Precedence:
    """The transitive reduction of ``precedence_graph(calls)``, computed directly.

    Real-time precedence is an interval order, so a -> b is implied by a
    path exactly when some c lies between them: c invoked after a returned
    and returned before b was invoked. With ``first_ret(a)`` the earliest
    return among the calls invoked after a returned, a -> b stays iff b was
    invoked no later than ``first_ret(a)`` (a tie is no precedence, as in
    ``precedence_graph``). O(n log n + edges), where the generic algorithm
    is cubic.
    """
    ordered = sorted(calls, key=lambda c: c.call)
    starts = [c.call for c in ordered]
    # earliest[i]: the smallest ret among ordered[i:]
    earliest = [INF] * (len(ordered) + 1)
    for i in range(len(ordered) - 1, -1, -1):
        earliest[i] = min(earliest[i + 1], ordered[i].ret)
    edges: list[tuple[int, int]] = []
    for a in calls:
        if a.ret == INF:
            continue
        lo = bisect.bisect_right(starts, a.ret)
        hi = bisect.bisect_right(starts, earliest[lo]) if earliest[lo] != INF else len(ordered)
        edges.extend((a.id, b.id) for b in ordered[lo : max(lo, hi)])
    return Precedence([c.id for c in calls], edges)


def window_calls(
    calls: Sequence[Call], focus: Sequence[Call], limit: int = WINDOW_LIMIT
) -> list[Call]:
    """The calls a timeline of the failure should show, in invoke order.

    Every focus call, plus each call overlapping the span from the earliest
    focus invoke (or the latest invoke that completed before the last focus
    call began, so the immediate predecessors are in) to the last focus
    return; at most ``limit``, the focus first and then the nearest.
    """
    if not focus:
        return list(calls)[:limit]
    focus_ids = {c.id for c in focus}
    last = max(focus, key=lambda c: c.call)
    preds = [c.call for c in calls if c.ret < last.call]
    lo = min([min(c.call for c in focus)] + ([max(preds)] if preds else []))
    finite = [c.ret for c in focus if c.ret != INF] + [c.call for c in focus]
    hi = max(finite)
    near = [c for c in calls if c.id not in focus_ids and c.call <= hi and c.ret >= lo]
    near.sort(key=lambda c: abs(c.call - last.call))
    chosen = [c for c in calls if c.id in focus_ids] + near[: max(0, limit - len(focus_ids))]
    return sorted(chosen, key=lambda c: c.call)
