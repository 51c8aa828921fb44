"""Wing and Gong's linearizability search with Lowe's memoization.

The search walks configurations (set of linearized calls, model state) depth
first. A call may be linearized next iff it was invoked before the earliest
return of any call not yet linearized. Completed calls live in a doubly
linked list of call and return entries ordered by history position (as in
Lowe's and Porcupine's implementations): the candidates are the call entries
before the first return entry; linearizing a call lifts its two entries out
of the list, backtracking puts them back. Sets are Python ints used as
bitsets; an explicit stack replaces recursion.

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
  linearized, state) with the set of crashed calls applied; a configuration
  whose applied crashed set is a superset of a cached one for the same key
  can reach nothing the cached one could not, so it is skipped.

Completed calls are tried before crashed ones (an ordering heuristic only).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from harness.core.op import Call

from checkers.linearizable.models import ILLEGAL, Model, freeze

__all__ = ["SearchResult", "search"]

#: How many iterations pass between two looks at the clock.
_CLOCK_EVERY = 2048
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


def _compile(model: Model, call: Call) -> Any:
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
) -> SearchResult:
    """Is there a linearization of ``calls`` under ``model``?

    ``deadline`` is a ``time.monotonic()`` instant and ``max_configs`` a
    bound on cached configurations; passing either ends the search with
    ``valid="unknown"`` and the reason, never a guess.
    """
    return _Search(calls, model).run(deadline, max_configs)


class _Search:
    def __init__(self, calls: Sequence[Call], model: Model):
        self.model = model
        done = [c for c in calls if not c.crashed]
        self.done = done
        n = len(done)
        # Entries: 0 is the head sentinel, 1..2n the call/return entries in
        # position order, 2n+1 the tail sentinel. kind[e] >= 0: call entry of
        # done[kind[e]]; kind[e] < 0: return entry of done[-kind[e]-1].
        events = []
        for k, c in enumerate(done):
            events.append((c.call, 0, k))
            events.append((c.ret, 1, k))
        events.sort()
        self.kind = [0] * (2 * n + 2)
        self.pos = [0] * (2 * n + 2)
        self.match = [0] * (2 * n + 2)
        call_entry = [0] * n
        for e, (p, is_ret, k) in enumerate(events, start=1):
            self.pos[e] = p
            if is_ret:
                self.kind[e] = -k - 1
                self.match[call_entry[k]] = e
            else:
                self.kind[e] = k
                call_entry[k] = e
        self.end = 2 * n + 1
        self.pos[self.end] = 1 << 63
        self.nxt = list(range(1, 2 * n + 2)) + [self.end]
        self.prv = [0] + list(range(0, 2 * n + 1))
        self.fn = [_compile(model, c) for c in done]

        # Crashed classes: members ordered by invoke position.
        classes: dict[Any, list[Call]] = {}
        for c in sorted((c for c in calls if c.crashed), key=lambda c: c.call):
            classes.setdefault(_class_key(c), []).append(c)
        self.cls_members = list(classes.values())
        self.cls_fn = [_compile(model, m[0]) for m in self.cls_members]
        self.cls_calls = [[m.call for m in ms] for ms in self.cls_members]
        bit = 0
        self.cls_bits: list[list[int]] = []
        for ms in self.cls_members:
            self.cls_bits.append([1 << (bit + i) for i in range(len(ms))])
            bit += len(ms)

    def run(self, deadline: float | None, max_configs: int | None) -> SearchResult:
        started = time.monotonic()
        try:
            return self._run(deadline, max_configs)
        except _Stop as stop:
            reason = stop.reason
            if reason == "timeout":
                reason = f"timeout after {time.monotonic() - started:.1f} s"
            return SearchResult("unknown", reason, self.best_path(), [], [], self.explored)

    def best_path(self) -> list[int]:
        if not self.best_saved:
            self.best = list(self.path)
            self.best_saved = True
        return self.best

    def _run(self, deadline: float | None, max_configs: int | None) -> SearchResult:
        done, kind, pos, match, nxt, prv, fn = (
            self.done, self.kind, self.pos, self.match, self.nxt, self.prv, self.fn,
        )
        end = self.end
        cls_fn, cls_calls, cls_bits, cls_members = self.cls_fn, self.cls_calls, self.cls_bits, self.cls_members
        ncls = len(cls_fn)
        applied = [0] * ncls  # members of each crashed class applied so far
        ids = [c.id for c in done]

        state = self.model.init()
        lin = 0  # bitset over done calls
        crashed = 0  # bitset over crashed class members
        depth = 0
        cache: dict[tuple[int, Any], list[int]] = {(0, state): [0]}
        stack: list[tuple[int, Any, int]] = []  # (move, previous state, aux)
        path: list[int] = []
        self.path = path
        self.explored = 1
        self.best, self.best_saved = [], True
        best_depth, best_lin, best_states = 0, 0, {state}
        budget = max_configs if max_configs is not None else 1 << 62
        tick = 0

        entry = nxt[0]
        cls_start = -1  # -1: scan the list first; >= 0: resume crashed classes there
        while True:
            if nxt[0] == end:
                self.best, self.best_saved = path, True
                return SearchResult(True, None, list(path), [], [], self.explored)
            tick += 1
            if tick >= _CLOCK_EVERY:
                tick = 0
                if deadline is not None and time.monotonic() > deadline:
                    raise _Stop("timeout")
            moved = False
            if cls_start < 0:
                # Completed candidates: call entries before the first return entry.
                while True:
                    k = kind[entry]
                    if k < 0:
                        break
                    nstate = fn[k](state)
                    if nstate is not ILLEGAL:
                        nlin = lin | (1 << k)
                        key = (nlin, nstate)
                        seen = cache.get(key)
                        if seen is None or not _dominated(seen, crashed):
                            if seen is None:
                                cache[key] = [crashed]
                            else:
                                seen.append(crashed)
                            self.explored += 1
                            if self.explored > budget:
                                raise _Stop(f"memory budget of {max_configs} configurations exceeded")
                            stack.append((entry, state, 0))
                            ret = match[entry]
                            nxt[prv[entry]] = nxt[entry]
                            prv[nxt[entry]] = prv[entry]
                            nxt[prv[ret]] = nxt[ret]
                            prv[nxt[ret]] = prv[ret]
                            path.append(ids[k])
                            lin, state = nlin, nstate
                            depth += 1
                            if depth > best_depth:
                                best_depth, best_lin, best_states = depth, lin, {state}
                                self.best_saved = False
                            elif lin == best_lin and len(best_states) < _MAX_STATES:
                                best_states.add(state)
                            moved = True
                            break
                    entry = nxt[entry]
                if moved:
                    entry = nxt[0]
                    continue
                cls_start = 0
            # Crashed candidates: one per class, invoked before the first return.
            frontier = pos[entry]
            for ci in range(cls_start, ncls):
                a = applied[ci]
                calls_ci = cls_calls[ci]
                if a == len(calls_ci) or calls_ci[a] >= frontier:
                    continue
                nstate = cls_fn[ci](state)
                if nstate is ILLEGAL or nstate == state:
                    continue
                ncrashed = crashed | cls_bits[ci][a]
                key = (lin, nstate)
                seen = cache.get(key)
                if seen is not None and _dominated(seen, ncrashed):
                    continue
                if seen is None:
                    cache[key] = [ncrashed]
                else:
                    seen.append(ncrashed)
                self.explored += 1
                if self.explored > budget:
                    raise _Stop(f"memory budget of {max_configs} configurations exceeded")
                stack.append((-ci - 1, state, entry))
                applied[ci] = a + 1
                path.append(cls_members[ci][a].id)
                crashed, state = ncrashed, nstate
                if lin == best_lin and depth == best_depth and len(best_states) < _MAX_STATES:
                    best_states.add(state)
                moved = True
                break
            if moved:
                entry = nxt[0]
                cls_start = -1
                continue
            # Dead end: undo the last move and try the next alternative.
            if not stack:
                return self._invalid(best_lin, best_states)
            move, state, aux = stack.pop()
            if move > 0:
                if not self.best_saved and depth == best_depth:
                    self.best, self.best_saved = list(path), True
                path.pop()
                ret = match[move]
                nxt[prv[ret]] = ret
                prv[nxt[ret]] = ret
                nxt[prv[move]] = move
                prv[nxt[move]] = move
                lin &= ~(1 << kind[move])
                depth -= 1
                entry = nxt[move]
                cls_start = -1
            else:
                path.pop()
                ci = -move - 1
                applied[ci] -= 1
                crashed &= ~cls_bits[ci][applied[ci]]
                entry = aux
                cls_start = ci + 1

    def _invalid(self, best_lin: int, best_states: set[Any]) -> SearchResult:
        left = [c for k, c in enumerate(self.done) if not (best_lin >> k) & 1]
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


def _dominated(seen: list[int], crashed: int) -> bool:
    """True if some cached crashed set is a subset of ``crashed`` (same lin and state)."""
    for s in seen:
        if s & ~crashed == 0:
            return True
    return False
