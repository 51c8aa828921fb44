"""Why a key is not linearizable, as data first and as a short proof second.

``explain`` turns one failing ``KeyResult`` into an ``Explanation``: the
longest linearizable prefix the search found, the first call it could not
place, the model states possible just before that call, the calls that must
precede it in real time, and a shrunk failing sub-history (delta debugging),
kept as the original ops so it can be written as JSONL and replayed as a
regression case.

Everything in an ``Explanation`` is plain data (``to_json``); ``narrate``
renders it as Elle-style text, and ``checkers.report.linear`` draws it.
The real-time precedence graph (a -> b iff a returned before b was invoked)
is a networkx DiGraph, built only over the few calls near the failure: the
search itself never touches networkx.
"""

from __future__ import annotations

import bisect
import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

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
        return dataclasses.asdict(self)


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
    ``shrunk_ops`` with the same model.
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

    def cv(c: Call) -> CallView:
        return call_view(history, c, model, completions)

    prefix = [by_id[i] for i in result.linearization if i in by_id]
    stuck = [by_id[i] for i in result.stuck if i in by_id]
    failing = stuck[0] if stuck else None
    t0 = time.monotonic()
    part = _shrunk_part(calls, model, failing, shrink_budget, test_timeout, max_configs)
    shrink_seconds = time.monotonic() - t0

    window = window_calls(calls, [*part.calls, *([failing] if failing else [])], window_limit)
    reduced = _reduction(precedence_graph(window))
    must = sorted(reduced.predecessors(failing.id), key=lambda i: by_id[i].ret) if failing else []
    return Explanation(
        model=getattr(model, "name", str(model)),
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
        shrunk_edges=sorted(_reduction(precedence_graph(part.calls)).edges()),
        shrunk_real_time=part.real_time,
        failing_impossible=part.impossible,
        shrink_tests=part.tests,
        shrink_seconds=shrink_seconds,
        initial=jsonable(model.init()),
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
        budget=budget,
        test_timeout=test_timeout,
        max_configs=max_configs,
    )
    result = _search(found.calls, model, test_timeout * 4, max_configs)
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


def completion_positions(history: History) -> dict[int, int]:
    """invoke position -> position of its completion (ok, fail or info), in one pass."""
    out: dict[int, int] = {}
    open_by_process: dict[Any, int] = {}
    for pos, op in enumerate(history.ops):
        if not op.is_client:
            continue
        if op.type == "invoke":
            open_by_process[op.process] = pos
        elif op.process in open_by_process:
            out[open_by_process.pop(op.process)] = pos
    return out


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
# Real-time precedence (networkx, small graphs only)


def precedence_graph(calls: Sequence[Call]) -> Any:
    """DiGraph over call ids with a -> b iff a returned before b was invoked."""
    import networkx as nx

    g = nx.DiGraph()
    g.add_nodes_from(c.id for c in calls)
    ordered = sorted(calls, key=lambda c: c.call)
    starts = [c.call for c in ordered]
    for a in calls:
        if a.ret != INF:
            g.add_edges_from((a.id, b.id) for b in ordered[bisect.bisect_right(starts, a.ret) :])
    return g


def _reduction(graph: Any) -> Any:
    import networkx as nx

    reduced = nx.transitive_reduction(graph)
    reduced.add_nodes_from(graph.nodes)
    return reduced


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


# --------------------------------------------------------------------------
# Shrinking (delta debugging)


def _search(calls: Sequence[Call], model: Any, seconds: float, max_configs: int | None) -> Any:
    """Search a sub-history, its calls renumbered 0..n-1 so result ids index ``calls``."""
    from checkers.linearizable.search import search

    renumbered = [dataclasses.replace(c, id=i) for i, c in enumerate(calls)]
    return search(renumbered, model, deadline=time.monotonic() + seconds, max_configs=max_configs)


@dataclass
class Shrunk:
    """A failing sub-history. ``real_time``: it keeps the blamed call B and
    fails only because of *when* B happened (see ``shrink``). ``impossible``:
    the opposite, shown on the calls invoked before B returned: they have
    linearizations, but even free to take effect at any time, B's result is
    legal in none of them."""

    calls: list[Call]
    minimal: bool
    tests: int
    real_time: bool
    impossible: bool = False


def stretched(calls: Sequence[Call], target: Call) -> list[Call]:
    """The same calls with ``target`` free to take effect at any time: its
    interval made to cover the whole sub-history (still not optional)."""
    lo = min(c.call for c in calls) - 1
    hi = max([c.ret for c in calls if c.ret != INF] + [c.call for c in calls]) + 1
    ret = target.ret if target.ret == INF else hi
    return [dataclasses.replace(c, call=lo, ret=ret) if c.id == target.id else c for c in calls]


def shrink(
    calls: Sequence[Call],
    model: Any,
    *,
    failing: Call | None = None,
    budget: float = 5.0,
    test_timeout: float = 0.5,
    max_configs: int | None = None,
) -> Shrunk:
    """A failing sub-history of ``calls``, by delta debugging (ddmin).

    Plain ddmin ("still not linearizable") almost always ends at a lone
    read of a value that nothing in the sub-history wrote: true, but it
    hides the real bug. So when it can, the shrinker keeps the blamed call
    B (``failing``) and asks for more: the sub-history is not linearizable,
    *and* it becomes linearizable once B may take effect at any time. What
    remains is a real-time contradiction (B's result is legal, just not
    when B happened) and is 1-minimal for that test. When even the whole
    history fails that test (B's result is impossible whenever it
    happened), plain ddmin gives the honest lone culprit instead.

    Both modes first try the calls invoked before B returned (usually a big
    cut). The result is 1-minimal unless the budget ran out. A search that
    times out counts as "not shown": shrinking never trusts a guess.
    """
    deadline = time.monotonic() + budget
    cache: dict[tuple[int, frozenset[int]], Any] = {}
    tests = 0
    passed: list[frozenset[int]] = []

    def verdict(subset: Sequence[Call], stretch: Call | None = None) -> Any:
        nonlocal tests
        k = (-1 if stretch is None else stretch.id, frozenset(c.id for c in subset))
        if k not in cache:
            if time.monotonic() > deadline:
                raise _OutOfBudget
            tests += 1
            target = subset if stretch is None else stretched(subset, stretch)
            cache[k] = _search(target, model, test_timeout, max_configs).valid
        return cache[k]

    def fails(subset: Sequence[Call]) -> bool:
        ok = verdict(subset) is False
        if ok:
            passed.append(frozenset(c.id for c in subset))
        return ok

    def real_time_fails(subset: Sequence[Call]) -> bool:
        assert failing is not None
        ok = verdict(subset) is False and verdict(subset, failing) is True
        if ok:
            passed.append(frozenset(c.id for c in subset))
        return ok

    current = list(calls)
    real_time = impossible = False
    try:
        if failing is not None:
            cut = [c for c in current if c.call < failing.ret] if failing.ret != INF else current
            for candidate in (cut, current) if len(cut) < len(current) else (current,):
                if real_time_fails(candidate):
                    current, real_time = candidate, True
                    break
        if real_time:
            assert failing is not None
            rest = [c for c in current if c.id != failing.id]
            kept = ddmin(rest, lambda s: real_time_fails(_merge(s, failing)))
            return Shrunk(_merge(kept, failing), True, tests, True)
        if failing is not None:
            # Not timing: the calls invoked before B returned have linearizations,
            # and none of them admits B's result wherever B takes effect.
            cut = [c for c in calls if c.call < failing.ret] if failing.ret != INF else list(calls)
            others = [c for c in cut if c.id != failing.id]
            impossible = verdict(cut, failing) is False and verdict(others) is True
        passed.clear()
        if failing is not None and failing.ret != INF:
            cut = [c for c in current if c.call < failing.ret]
            if len(cut) < len(current) and fails(cut):
                current = cut
        if failing is not None and any(c.id == failing.id for c in current):
            rest = [c for c in current if c.id != failing.id]
            current = _merge(ddmin(rest, lambda s: fails(_merge(s, failing))), failing)
        current = ddmin(current, fails)
        return Shrunk(current, True, tests, False, impossible)
    except _OutOfBudget:
        best = min(passed, key=len, default=None)
        if best is not None:
            current = [c for c in calls if c.id in best]
        return Shrunk(current, False, tests, real_time, impossible)


class _OutOfBudget(Exception):
    pass


def _merge(calls: Sequence[Call], extra: Call) -> list[Call]:
    return sorted([*calls, extra], key=lambda c: c.call)


def ddmin(items: list[Any], fails: Callable[[list[Any]], bool]) -> list[Any]:
    """Zeller's ddmin: a 1-minimal sublist of ``items`` for which ``fails`` holds.

    Assumes ``fails(items)``. Order is preserved. On return, removing any
    single element makes ``fails`` false (1-minimality).
    """
    n = 2
    while len(items) >= 2:
        chunks = _split(items, n)
        for chunk in chunks:
            if fails(chunk):
                items, n = chunk, 2
                break
        else:
            for i in range(len(chunks)):
                complement = [x for j, ch in enumerate(chunks) if j != i for x in ch]
                if fails(complement):
                    items, n = complement, max(n - 1, 2)
                    break
            else:
                if n >= len(items):
                    break
                n = min(len(items), 2 * n)
    if len(items) == 1 and fails([]):
        return []
    return items


def _split(items: list[Any], n: int) -> list[list[Any]]:
    size, extra = divmod(len(items), n)
    out, start = [], 0
    for i in range(n):
        end = start + size + (1 if i < extra else 0)
        out.append(items[start:end])
        start = end
    return [c for c in out if c]


# --------------------------------------------------------------------------
# Narrative


def narrate(explanation: Explanation | dict[str, Any], model: Any = None) -> str:
    """A short proof, Elle-style: "Let A = ... A completed before B began ... However ...: a contradiction."

    Two paragraphs: where the search got stuck in the full history, then the
    shrunk sub-history's own proof (skipped when shrinking removed nothing
    the first paragraph does not already show). Reads only explanation data
    (descriptions were taken from the model when the explanation was built),
    so a stored ``results.json`` can be narrated again; ``model`` only
    supplies a name when the data lacks one.
    """
    e = explanation.to_json() if isinstance(explanation, Explanation) else explanation
    name = e.get("model") or getattr(model, "name", "model")
    where = "" if e.get("key") is None else f"On key {e['key']!r}: "
    total = e.get("calls_total", 0)
    failing = e.get("failing")
    if failing is None:
        return f"{where}the history has no linearization under the {name} model, but the search named no call to blame."
    preds = e.get("must_precede", [])[-3:]
    shrunk, s_failing = e.get("shrunk") or [], e.get("shrunk_failing")
    letters = _letters([*preds, failing], shrunk, [failing, *([s_failing] if s_failing else [])])
    known: set[int] = set()
    story = _story(
        letters,
        known,
        [*preds, failing],
        failing,
        [[p["id"], failing["id"]] for p in preds],
        len(e.get("prefix", [])),
        f"the longest linearizable prefix ({len(e.get('prefix', []))} of {total} calls)",
        e.get("states", []),
        e.get("states_total", 0),
    )
    text = where + story
    if e.get("failing_impossible"):
        b = letters[failing["id"]]
        text += (
            f" Nor is it a matter of timing: the calls invoked before {b} returned have"
            f" linearizations, but even free to take effect at any time, {b}'s result is legal"
            " in none of them."
        )
    shown = {p["id"] for p in preds} | {failing["id"]}
    if s_failing is not None and {c["id"] for c in shrunk} != shown:
        minimal = (
            "" if e.get("shrunk_minimal") else " (shrinking ran out of time: it may not be minimal)"
        )
        have = "has" if len(shrunk) == 1 else "have"
        s_prefix = e.get("shrunk_prefix", [])
        why = (
            f", though {letters[failing['id']]}'s result would be legal if it took effect at another time"
            if e.get("shrunk_real_time") and failing["id"] in letters
            else ""
        )
        text += (
            f"\nShrunk: {len(shrunk)} of the {total} calls alone {have} no linearization{why}{minimal}. "
            + _story(
                letters,
                known,
                shrunk,
                s_failing,
                e.get("shrunk_edges", []),
                len(s_prefix),
                None,
                e.get("shrunk_states", []),
                e.get("shrunk_states_total", 0),
                prefix=s_prefix,
            )
        )
    return text


def _story(
    letters: dict[int, str],
    known: set[int],
    calls: list[dict[str, Any]],
    failing: dict[str, Any],
    edges: list[list[int]] | list[tuple[int, int]],
    placed: int,
    placed_phrase: str | None,
    states: list[str],
    states_total: int,
    prefix: list[dict[str, Any]] | None = None,
) -> str:
    named = [c for c in _unique(calls) if c["id"] in letters]
    b = letters[failing["id"]]
    fresh = [c for c in named if c["id"] not in known]
    parts = []
    if placed_phrase is None:  # a sub-history: say which calls it keeps
        parts.append(
            "Consider "
            + _join(sorted(letters[c["id"]] for c in named))
            + (" alone." if len(named) == 1 else " only.")
        )
    if fresh:
        parts.append("Let " + _join([f"{letters[c['id']]} = {_who(c)}" for c in fresh]) + ".")
    known.update(c["id"] for c in named)
    before = [letters[a] for a, x in edges if x == failing["id"] and a in letters]
    if before:
        they = "it takes" if len(before) == 1 else "they take"
        parts.append(f"{_join(before)} completed before {b} began, so {they} effect before {b}.")
    other = [
        f"{letters[a]} completed before {letters[x]} began"
        for a, x in edges
        if x != failing["id"] and a in letters and x in letters
    ]
    if other:
        parts.append(_join(other) + ".")
    crashed = [letters[c["id"]] for c in named if c["crashed"]]
    if crashed:
        verb = "crashed: it" if len(crashed) == 1 else "crashed: each"
        parts.append(
            f"{_join(crashed)} {verb} may take effect at any point after it began, or never."
        )
    if placed_phrase is not None:
        lead = f"After {placed_phrase}" if placed else "At the start"
    else:
        done = [letters[c["id"]] for c in (prefix or []) if c["id"] in letters]
        lead = (
            f"After {_join(done)} (the longest order the model accepts)" if done else "At the start"
        )
    parts.append(f"{lead}, {_states_phrase(states, states_total)}.")
    there = "there" if states_total == 1 else "in any of them"
    parts.append(
        f"However, {b} ({failing['description']}) is not legal {there}, and no other order gets further: a contradiction."
    )
    return " ".join(parts)


def _unique(views: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen, out = set(), []
    for v in views:
        if v["id"] not in seen:
            seen.add(v["id"])
            out.append(v)
    return sorted(out, key=lambda v: v["call"])


def _letters(
    first: list[dict[str, Any]], then: list[dict[str, Any]], must: list[dict[str, Any]]
) -> dict[int, str]:
    """A, B, C... in the order the narrative introduces calls (``first``, then
    the new ones of ``then``), each group in invoke order; at most 12 calls
    get a letter, the ``must`` ones always."""
    ids = {c["id"] for c in first}
    ordered = _unique(first) + [c for c in _unique(then) if c["id"] not in ids]
    if len(ordered) > 12:
        keep = {c["id"] for c in must} | {c["id"] for c in ordered[: 12 - len(must)]}
        ordered = [c for c in ordered if c["id"] in keep]
    return {c["id"]: chr(ord("A") + i) for i, c in enumerate(ordered)}


def _who(c: dict[str, Any]) -> str:
    return (
        f"process {c['process']}'s {c['description']} ({ops_label(c['invoke'], c.get('complete'))})"
    )


def ops_label(invoke: int, complete: int | None) -> str:
    """ "ops 12–15" (invoke and completion), or "op 12, never completed"."""
    return f"op {invoke}, never completed" if complete is None else f"ops {invoke}–{complete}"


def _states_phrase(states: list[str], total: int) -> str:
    if total <= 0 or not states:
        return "no state is possible"
    if total == 1:
        return f"the only possible state is {states[0]}"
    more = f" and {total - len(states)} more" if total > len(states) else ""
    return f"the possible states are {_join(states)}{more}"


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
