"""Wing and Gong's linearizability search with Lowe's memoization.

The search walks configurations (set of linearized calls, model state) depth
first. A call may be linearized next iff it was invoked before the earliest
return of any call not yet linearized. Completed calls live in a doubly
linked list of call and return entries ordered by history position (as in
Lowe's and Porcupine's implementations): the candidates are the call entries
before the first return entry; linearizing a call lifts its two entries out
of the list, backtracking puts them back. The linearized set is a Python
int used as a bitset relative to the first call not yet linearized (so a
step costs the width of the window of open calls, not the history's
length); an explicit stack replaces recursion.

Crashed calls (``ret == INF``) may take effect at any instant after their
invoke, or never; the search succeeds once every *completed* call is
linearized. Three rules keep them cheap, each an exact reduction:

* Crashed calls with the same function and values are interchangeable once
  invoked, so they form one class and the search only ever applies the
  earliest-invoked unapplied member of a class (a swap argument: the earlier
  member is available whenever the later one is, and candidates only grow
  over time for calls that never return).
* A crashed call whose effect leaves the state unchanged is never applied:
  leaving it out is at least as good.
* Memoization with dominance: configurations are cached by (completed calls
  linearized, state) with the crashed calls applied (a count per class); a
  configuration that applied at least as many of every class as a cached one
  for the same key can reach nothing the cached one could not, so it is
  skipped.

One more exact reduction concerns reads. If a completed read-only call
(one that never changes the state, e.g. a read, or an observed failed cas)
can be linearized next and is legal in the current state, some successful
order (if any exists) linearizes it right now: moving it to the front of a
successful order breaks no real-time constraint (everything that returned
before its invoke is already linearized) and changes no state. So such a
read is the only move tried at that configuration.

A read can also be hopeless: a read of ``v`` when the register does not
hold ``v`` and every call that could still write ``v`` before the read
returns is already linearized (models say which calls help which reads:
``hopeless`` and ``helps``; for kv, appends only extend the string, so only a
put helps a get that does not extend the current value). A configuration
with a hopeless candidate is a dead end. A read that is hopeless from the
start, with nothing that could help invoked before it returns (a read of a
value nobody wrote), refutes the whole history at once (``_refute``). The
same test applies to a read not yet invoked, since it too must be linearized
later: the search checks the earliest-invoked read not yet linearized at every
configuration (``_future_read_hopeless``), which for kv cuts the orders of a
run of concurrent appends that only a later get tells apart.

Before all that, crashed calls that no call can see are left out
(``prune.py``): they are most of the crashed calls in a history of unique
values, and each one kept can double the configurations.

Completed calls are tried before crashed ones (an ordering heuristic only).
"""

from __future__ import annotations

import gc
import time
from bisect import bisect_left
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field, replace
from operator import attrgetter
from typing import Any, Literal

from checkers.linearizable.models import ILLEGAL, Model, freeze
from checkers.linearizable.prune import seen_crashed
from harness.core.op import INF, UNKNOWN, Call

__all__ = ["SearchResult", "SearchTask", "search", "start"]

_AT = attrgetter("call")  # a call's invoke position
#: Iterations per slice: a search pauses this often so its driver can look at the clock.
_SLICE = 2048
_FRESH, _LIST, _CRASHED, _BACKTRACK = range(4)
#: The search sets up its hopeless-read tests (cost: O(calls)) after this many
#: dead ends plus one per _HOPELESS_PER_CALLS completed calls.
_HOPELESS_AFTER = 50
_HOPELESS_PER_CALLS = 2
#: At most this many states are reported for the deepest point.
_MAX_STATES = 32


@dataclass
class SearchResult:
    """The outcome for one set of calls.

    ``linearization``: call ids in linearization order (crashed calls that
    took effect included); the whole history when valid, else the longest
    linearizable prefix found. ``stuck``: when invalid, the calls that could
    be linearized next at that deepest point, none of which can be, the
    earliest-returning (the one to blame) first. ``states``: the model states
    reachable at that point. ``explored``: configurations visited.
    """

    valid: bool | Literal["unknown"]
    reason: str | None = None
    linearization: list[int] = field(default_factory=list)
    stuck: list[int] = field(default_factory=list)
    states: list[Any] = field(default_factory=list)
    explored: int = 0


class _Stop(Exception):
    def __init__(self, reason: str):
        self.reason = reason


#: Compiled steps shared by searches over sub-histories of the same calls
#: (shrinking runs thousands): (f, id(input), id(output)) -> (step, input, output).
#: A step depends on nothing else; holding input and output keeps their ids unique.
Compiled = dict[tuple[str, int, int], tuple[Any, Any, Any]]


def _compile(model: Model, call: Call, compiled: Compiled | None = None) -> Any:
    if compiled is not None:
        key = (call.f, id(call.input), id(call.output))
        hit = compiled.get(key)
        if hit is None:
            hit = compiled[key] = (_compile(model, call), call.input, call.output)
        return hit[0]
    compile_ = getattr(model, "compile", None)
    if compile_ is not None:
        return compile_(call)

    def step(state: Any) -> Any:
        ok, nxt = model.step(state, call)
        return nxt if ok else ILLEGAL

    return step


def _class_key(call: Call) -> Any:
    try:
        key = (call.f, freeze(call.input), freeze(call.output))
        hash(key)
        return key
    except TypeError:
        return ("unhashable", call.id)


def search(
    calls: Sequence[Call],
    model: Model,
    *,
    deadline: float | None = None,
    max_configs: int | None = None,
    compiled: Compiled | None = None,
) -> SearchResult:
    """Is there a linearization of ``calls`` under ``model``?

    ``deadline`` is a ``time.monotonic()`` instant and ``max_configs`` a
    bound on cached configurations; passing either ends the search with
    ``valid="unknown"`` and the reason, never a guess. ``compiled``: a dict
    to share compiled steps with other searches over the same call objects
    (or copies of them that share their inputs and outputs).
    """
    return _build(calls, model, compiled).run(deadline, max_configs)


def start(calls: Sequence[Call], model: Model, *, max_configs: int | None = None) -> SearchTask:
    """A search that runs a slice at a time (``advance``), so a driver can interleave keys."""
    return SearchTask(_build(calls, model), max_configs)


def _build(calls: Sequence[Call], model: Model, compiled: Compiled | None = None) -> _Search:
    """The search's tables, built with the cyclic collector off: they are
    acyclic, and on a long history its scans of everything else cost more
    than the building itself."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _Search(calls, model, compiled)
    finally:
        if collecting:
            gc.enable()


class SearchTask:
    """A paused search. ``advance()`` runs one slice and returns the result once there is one.

    ``seconds`` counts only the time spent inside ``advance``, so a per-key
    time budget is fair when several keys share one process.
    """

    def __init__(self, search: _Search, max_configs: int | None):
        self._search = search
        self._gen = search.iterate(max_configs)
        self.seconds = 0.0
        self.result: SearchResult | None = None

    @property
    def explored(self) -> int:
        return self._search.explored

    def advance(self) -> SearchResult | None:
        if self.result is not None:
            return self.result
        t0 = time.monotonic()
        # The search allocates only acyclic tuples, lists and ints, which
        # reference counting frees; the cyclic collector would just rescan the
        # ever-growing cache (about a fifth of the time on long histories).
        collecting = gc.isenabled()
        gc.disable()
        try:
            next(self._gen)
        except StopIteration as stop:
            self.result = stop.value
        except _Stop as stop:
            self.result = self.give_up(stop.reason)
        finally:
            if collecting:
                gc.enable()
            self.seconds += time.monotonic() - t0
        return self.result

    def give_up(self, reason: str) -> SearchResult:
        """End the search as ``unknown`` with ``reason``, keeping the longest prefix found."""
        self._gen.close()
        s = self._search
        self.result = SearchResult("unknown", reason, s.best_path(), [], [], s.explored)
        return self.result


class _Search:
    """The search's tables for one set of calls (see the module docstring).

    ``done`` are the completed calls, indexed 0..n-1 in invoke order;
    ``kind``/``pos``/``match``/``nxt``/``prv`` the entry list; ``fn`` and
    ``ro`` each completed call's compiled step and read-only flag; ``cls_*``
    the crashed classes.
    """

    def __init__(self, calls: Sequence[Call], model: Model, compiled: Compiled | None = None):
        self.model = model
        self.compiled = compiled
        # In invoke order: the relative bitset and the helper lists rely on it.
        self.done = sorted((c for c in calls if c.ret != INF), key=_AT)
        self._build_list()
        compile_ = getattr(model, "compile", None)
        if compile_ is not None and compiled is None:  # the common case, without a call per call
            self.fn = [compile_(c) for c in self.done]
        else:
            self.fn = [_compile(model, c, compiled) for c in self.done]
        read_only = getattr(model, "read_only", None)
        self.ro = [bool(read_only(c)) for c in self.done] if read_only else [False] * len(self.done)
        # A crashed read-only call never changes the state: applying it never
        # helps; nor does one that no call can see (prune.py).
        crashed = [c for c in calls if c.ret == INF and not (read_only and read_only(c))]
        crashed = seen_crashed(model, self.done, crashed)
        self.calls = [*self.done, *crashed] if len(crashed) + len(self.done) < len(calls) else calls
        self._build_classes(crashed)
        self.path: list[int] = []
        self.explored = 0
        self.best: list[int] = []
        self.best_saved = True

    def _build_list(self) -> None:
        """Entries: 0 is the head sentinel, 1..2n the call and return entries in
        position order, 2n+1 the tail sentinel. ``kind[e] >= 0``: the call entry
        of ``done[kind[e]]``; ``kind[e] < 0``: the return entry of ``done[-kind[e]-1]``.
        A call and a return at the same position count as concurrent."""
        n = len(self.done)
        # done is in invoke order; merge its calls with its returns in return
        # order (a stable sort: equal returns keep invoke order), a call first
        # where a call and a return share a position.
        calls = [c.call for c in self.done]
        rets = [c.ret for c in self.done]
        by_ret = sorted(range(n), key=rets.__getitem__)
        kind = self.kind = [0] * (2 * n + 2)
        pos = self.pos = [0] * (2 * n + 2)
        match = self.match = [0] * (2 * n + 2)
        call_entry = [0] * n
        i = 0
        e = 1
        for k in by_ret:
            r = rets[k]
            while i < n and calls[i] <= r:
                pos[e] = calls[i]
                kind[e] = i
                call_entry[i] = e
                i += 1
                e += 1
            pos[e] = r
            kind[e] = -k - 1
            match[call_entry[k]] = e
            e += 1
        self.end = 2 * n + 1
        self.pos[self.end] = 1 << 63
        self.nxt = list(range(1, 2 * n + 2)) + [self.end]
        self.prv = [0] + list(range(0, 2 * n + 1))

    def _build_classes(self, crashed: list[Call]) -> None:
        """Group crashed calls by (function, input, output), members by invoke position.

        Since each class is applied in member order, the crashed calls applied
        are a count per class, packed into one int: a field of ``width`` bits
        per class, whose top bit is a guard that stays clear. Then "A applied
        no more than B in every class" is one subtraction (``_within``).
        """
        classes: dict[Any, list[Call]] = {}
        for c in sorted(crashed, key=_AT):
            classes.setdefault(_class_key(c), []).append(c)
        self.cls_members = list(classes.values())
        self.cls_fn = [_compile(self.model, m[0], self.compiled) for m in self.cls_members]
        self.cls_calls = [[m.call for m in ms] for ms in self.cls_members]
        width = max((len(ms) for ms in self.cls_members), default=0).bit_length() + 1
        self.cls_unit = [1 << (ci * width) for ci in range(len(self.cls_members))]
        self.guards = sum(unit << (width - 1) for unit in self.cls_unit)

    def _hopeless_checks(
        self, calls: Sequence[Call], model: Model
    ) -> tuple[list[Any], list[tuple[list[int], int]], Call | None]:
        """Per completed read-only call: a test for states from which it can never
        become legal, and the completed calls that could help, which must all be
        linearized before the test applies. Also the earliest-returning
        *impossible* read: hopeless from the initial state with no helper
        invoked before it returns (a read of a value nobody wrote).

        Only for models with ``hopeless``/``helps`` hooks. A read whose helper
        crashed (invoked before the read returns) is never tested: that helper
        may still take effect.
        """
        n = len(self.done)
        hopeless_hook = getattr(model, "hopeless", None)
        helps_hook = getattr(model, "helps", None)
        no_helpers: tuple[list[int], int] = ([], 0)
        if hopeless_hook is None or helps_hook is None:
            return [None] * n, [no_helpers] * n, None
        initial = model.init()
        impossible: Call | None = None
        # need -> (call positions of its completed helpers, their indices), in call order
        helpers: dict[Any, tuple[list[int], list[int]]] = {}
        for k, c in enumerate(self.done):
            for need in helps_hook(c):
                positions, indices = helpers.setdefault(need, ([], []))
                positions.append(c.call)
                indices.append(k)
        first_crashed: dict[Any, int] = {}
        for c in calls:
            if c.ret == INF:
                for need in helps_hook(c):
                    first_crashed[need] = min(first_crashed.get(need, c.call), c.call)
        tests: list[Any] = [None] * n
        helpers_of = [no_helpers] * n
        for k, c in enumerate(self.done):
            if not self.ro[k]:
                continue
            hook = hopeless_hook(c)
            if hook is None:
                continue
            test, need = hook
            if first_crashed.get(need, 1 << 63) < c.ret:
                continue
            positions, indices = helpers.get(need, ([], []))
            i = bisect_left(positions, c.ret)  # helpers invoked before the read returns
            tests[k] = test
            helpers_of[k] = (indices, i)
            if i == 0 and test(initial) and (impossible is None or c.ret < impossible.ret):
                impossible = c
        return tests, helpers_of, impossible

    def _refute(self, read: Call, max_configs: int | None) -> Generator[None, None, SearchResult]:
        """The history is not linearizable: ``read`` can never be legal. Explain
        it with the prefix before ``read``'s invoke (calls still open there
        count as crashed): if that prefix fails, its own failure comes first;
        else its linearization is the prefix and ``read`` is stuck after it.

        Sound because a linearizable history has linearizable prefixes: the
        calls completed before the cut precede every call invoked after it.
        """
        cut = read.call
        prefix = [
            c if c.ret < cut else replace(c, ret=INF, output=UNKNOWN, complete_index=None)
            for c in self.calls
            if c.call < cut
        ]
        inner = _Search(prefix, self.model, self.compiled)
        result = yield from inner.iterate(max_configs)
        self.explored += inner.explored
        if result.valid is not True:
            result.explored = self.explored
            return result
        # The prefix counts calls still open at the cut as crashed, so its order may let one
        # take effect that in fact completed without it (a cas whose compare failed). The
        # witness is the longest part of that order that is legal with the real calls.
        by_id = {c.id: c for c in self.calls}
        state = self.model.init()
        witness = []
        for i in result.linearization:
            ok, after = self.model.step(state, by_id[i])
            if not ok:
                break
            witness.append(i)
            state = after
        self.best, self.best_saved = witness, True
        return SearchResult(False, None, witness, [read.id], [state], self.explored)

    def run(self, deadline: float | None, max_configs: int | None) -> SearchResult:
        task = SearchTask(self, max_configs)
        while True:
            result = task.advance()
            if result is not None:
                return result
            if deadline is not None and time.monotonic() > deadline:
                return task.give_up(f"timeout after {task.seconds:.1f} s")

    def best_path(self) -> list[int]:
        if not self.best_saved:
            self.best = list(self.path)
            self.best_saved = True
        return self.best

    def iterate(self, max_configs: int | None) -> Generator[None, None, SearchResult]:
        """The search, pausing (yielding) every few thousand steps so a driver can stop it.

        At each configuration: (1) if a read-only candidate is legal, take it
        and nothing else; if one is hopeless, give up on the configuration (see
        the module docstring); (2) else try the other completed candidates in
        list order; (3) then one member of each crashed class; (4) at a dead
        end, undo the last move and resume where it left off.

        This is one long function on purpose: the hot loop keeps all its
        tables in local variables, which is what makes it fast in CPython.
        """
        kind, pos, match, nxt, prv, fn, ro = (
            self.kind,
            self.pos,
            self.match,
            self.nxt,
            self.prv,
            self.fn,
            self.ro,
        )
        # The hopeless-read tests cost O(n) to set up and only pay off when the
        # search backtracks a lot, so they wait for enough dead ends.
        hopeless: list[Any] = [None] * len(self.done)
        helpers_of: list[tuple[list[int], int]] = []
        tested: list[int] = []  # the completed calls with a hopeless test, in invoke order
        dead_ends = 0
        hopeless_after = _HOPELESS_AFTER + len(self.done) // _HOPELESS_PER_CALLS
        end = self.end
        cls_fn, cls_calls, cls_unit, cls_members, guards = (
            self.cls_fn,
            self.cls_calls,
            self.cls_unit,
            self.cls_members,
            self.guards,
        )
        ncls = len(cls_fn)
        applied = [0] * ncls  # members of each crashed class applied so far
        ids = [c.id for c in self.done]

        state = self.model.init()
        # The completed calls linearized, as a bitset relative to base: calls
        # 0..base-1 are all linearized, bit j of rel is call base+j (bit 0 is
        # always clear). Long histories thus cost the width of the window of
        # open calls per step, not their length.
        base = rel = 0
        crashed = 0  # crashed calls applied: packed counts per class (see _build_classes)
        depth = 0
        cache: dict[tuple[int, int, Any], list[int]] = {(0, 0, state): [0]}
        # Frames: (move, previous state, aux, previous base, previous rel).
        # move > 0: a list entry, aux 1 if it was a forced read; move < 0:
        # crashed class -move-1, aux the frontier entry at that configuration.
        stack: list[tuple[int, Any, int, int, int]] = []
        path = self.path
        self.explored = 1
        self.best, self.best_saved = [], True
        best_depth, best_lin, best_states = 0, (0, 0), {state}
        budget = max_configs if max_configs is not None else 1 << 62
        tick = 0

        phase = _FRESH
        entry = 0
        cls_start = 0
        while True:
            if phase == _FRESH:
                if nxt[0] == end:
                    self.best, self.best_saved = path, True
                    return SearchResult(True, None, list(path), [], [], self.explored)
                tick += 1
                if tick >= _SLICE:
                    tick = 0
                    yield
                if tested and _future_read_hopeless(tested, hopeless, helpers_of, base, rel, state):
                    phase = _BACKTRACK
                    continue
                # (1) A legal read-only candidate is the only move needed; a
                # hopeless one means this configuration is a dead end.
                entry = nxt[0]
                forced = 0
                k = kind[entry]
                while k >= 0:
                    if ro[k]:
                        if fn[k](state) is not ILLEGAL:
                            forced = entry
                            break
                        test = hopeless[k]
                        if test is not None and test(state):
                            indices, count = helpers_of[k]
                            j = bisect_left(indices, base, 0, count)
                            while j < count and (rel >> (indices[j] - base)) & 1:
                                j += 1
                            if j == count:  # every helper is linearized: hopeless
                                break
                    entry = nxt[entry]
                    k = kind[entry]
                if k >= 0 and not forced:
                    phase = _BACKTRACK
                    continue
                if forced:
                    nrel = rel | (1 << (k - base))
                    nbase = base
                    if k == base:
                        shift = (~nrel & (nrel + 1)).bit_length() - 1
                        nrel >>= shift
                        nbase += shift
                    seen = cache.get((nbase, nrel, state))
                    if seen is not None and _dominated(seen, crashed, guards):
                        phase = _BACKTRACK
                        continue
                    nstate = state
                    entry = forced
                else:
                    entry = nxt[0]
                    phase = _LIST
            if phase == _LIST:
                # (2) Completed candidates: call entries before the first return entry.
                k = kind[entry]
                while k >= 0:
                    if not ro[k]:
                        nstate = fn[k](state)
                        if nstate is not ILLEGAL:
                            nrel = rel | (1 << (k - base))
                            nbase = base
                            if k == base:
                                shift = (~nrel & (nrel + 1)).bit_length() - 1
                                nrel >>= shift
                                nbase += shift
                            seen = cache.get((nbase, nrel, nstate))
                            if seen is None or not _dominated(seen, crashed, guards):
                                break
                    entry = nxt[entry]
                    k = kind[entry]
                if k < 0:
                    cls_start = 0
                    phase = _CRASHED
                else:
                    forced = 0
            if phase == _FRESH or phase == _LIST:
                # Take the move to entry (call k): nbase, nrel, nstate, seen are set.
                if seen is None:
                    cache[(nbase, nrel, nstate)] = [crashed]
                else:
                    _admit(seen, crashed, guards)
                self.explored += 1
                if self.explored > budget:
                    raise _Stop(f"memory budget of {max_configs} configurations exceeded")
                stack.append((entry, state, 1 if forced else 0, base, rel))
                ret = match[entry]
                nxt[prv[entry]] = nxt[entry]
                prv[nxt[entry]] = prv[entry]
                nxt[prv[ret]] = nxt[ret]
                prv[nxt[ret]] = prv[ret]
                path.append(ids[k])
                base, rel, state = nbase, nrel, nstate
                depth += 1
                if depth > best_depth:
                    best_depth, best_lin, best_states = depth, (base, rel), {state}
                    self.best_saved = False
                elif (
                    depth == best_depth
                    and (base, rel) == best_lin
                    and len(best_states) < _MAX_STATES
                ):
                    best_states.add(state)
                phase = _FRESH
                continue
            if phase == _CRASHED:
                # (3) Crashed candidates: one per class, invoked before the first return.
                frontier = pos[entry]
                for ci in range(cls_start, ncls):
                    a = applied[ci]
                    calls_ci = cls_calls[ci]
                    if a == len(calls_ci) or calls_ci[a] >= frontier:
                        continue
                    nstate = cls_fn[ci](state)
                    if nstate is ILLEGAL or nstate == state:
                        continue
                    ncrashed = crashed + cls_unit[ci]
                    key = (base, rel, nstate)
                    seen = cache.get(key)
                    if seen is not None and _dominated(seen, ncrashed, guards):
                        continue
                    if seen is None:
                        cache[key] = [ncrashed]
                    else:
                        _admit(seen, ncrashed, guards)
                    self.explored += 1
                    if self.explored > budget:
                        raise _Stop(f"memory budget of {max_configs} configurations exceeded")
                    stack.append((-ci - 1, state, entry, base, rel))
                    applied[ci] = a + 1
                    path.append(cls_members[ci][a].id)
                    crashed, state = ncrashed, nstate
                    if (
                        depth == best_depth
                        and (base, rel) == best_lin
                        and len(best_states) < _MAX_STATES
                    ):
                        best_states.add(state)
                    phase = _FRESH
                    break
                else:
                    phase = _BACKTRACK
                if phase == _FRESH:
                    continue
            # (4) Dead end: undo moves until one has an alternative left.
            dead_ends += 1
            if dead_ends == hopeless_after:
                hopeless, helpers_of, impossible = self._hopeless_checks(self.calls, self.model)
                tested = [k for k, test in enumerate(hopeless) if test is not None]
                if impossible is not None:
                    return (yield from self._refute(impossible, max_configs))
            while True:
                if not stack:
                    return self._invalid(best_lin, best_states)
                move, state, aux, base, rel = stack.pop()
                if move > 0:
                    if not self.best_saved and depth == best_depth:
                        self.best, self.best_saved = list(path), True
                    path.pop()
                    ret = match[move]
                    nxt[prv[ret]] = ret
                    prv[nxt[ret]] = ret
                    nxt[prv[move]] = move
                    prv[nxt[move]] = move
                    depth -= 1
                    if aux:
                        continue  # a forced read: its configuration had no other move
                    entry = nxt[move]
                    phase = _LIST
                    break
                path.pop()
                ci = -move - 1
                applied[ci] -= 1
                crashed -= cls_unit[ci]
                entry = aux
                cls_start = ci + 1
                phase = _CRASHED
                break

    def _invalid(self, best_lin: tuple[int, int], best_states: set[Any]) -> SearchResult:
        base, rel = best_lin
        left = [c for k, c in enumerate(self.done) if k >= base and not (rel >> (k - base)) & 1]
        frontier = min(c.ret for c in left)
        stuck = sorted((c for c in left if c.call < frontier), key=lambda c: c.ret)
        return SearchResult(
            False,
            None,
            self.best_path(),
            [c.id for c in stuck],
            sorted(best_states, key=repr),
            self.explored,
        )


def _future_read_hopeless(
    tested: list[int],
    hopeless: list[Any],
    helpers_of: list[tuple[list[int], int]],
    base: int,
    rel: int,
    state: Any,
) -> bool:
    """Is the earliest-invoked read not yet linearized hopeless in ``state``?

    A completed read must still be linearized, after this configuration, so
    the argument for candidates holds for reads not even invoked yet: if the
    state is one the read can never come back from (for kv, not a prefix of
    what the get saw) and every call that could help it is linearized, this
    configuration is a dead end. One read is enough to cut a run of
    concurrent appends whose orders only a later get tells apart.
    """
    j = bisect_left(tested, base)
    count = len(tested)
    while j < count and (rel >> (tested[j] - base)) & 1:
        j += 1
    if j == count:
        return False
    k = tested[j]
    if not hopeless[k](state):
        return False
    indices, n = helpers_of[k]
    i = bisect_left(indices, base, 0, n)
    while i < n and (rel >> (indices[i] - base)) & 1:
        i += 1
    return i == n


def _within(small: int, big: int, guards: int) -> bool:
    """Every packed count of ``small`` is at most the same count of ``big``.

    Per field, (big | guard) - small keeps the guard bit iff big >= small, and
    never borrows from the next field, since counts stay below the guard.
    """
    return ((big | guards) - small) & guards == guards


def _admit(seen: list[int], crashed: int, guards: int) -> None:
    """Record ``crashed`` (not dominated) and drop the cached entries it now dominates."""
    seen[:] = [s for s in seen if not _within(crashed, s, guards)]
    seen.append(crashed)


def _dominated(seen: list[int], crashed: int, guards: int) -> bool:
    """True if some cached entry for the same linearized calls and state applied
    no more crashed calls of any class than ``crashed``."""
    for s in seen:
        if ((crashed | guards) - s) & guards == guards:
            return True
    return False
