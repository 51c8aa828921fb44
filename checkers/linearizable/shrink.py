"""Shrinking a non-linearizable history: delta debugging over its calls.

``shrink`` finds a failing sub-history of one key's calls, 1-minimal unless
its time budget ran out; ``explain`` calls it and keeps the result as data.
Every test is a fresh linearizability search (``search_subset``) with its own
timeout, and a search that times out counts as "not shown": shrinking never
trusts a guess.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from harness.core.op import INF, Call


def search_subset(
    calls: Sequence[Call],
    model: Any,
    seconds: float,
    max_configs: int | None,
    compiled: dict[Any, Any] | None = None,
) -> Any:
    """Search a sub-history, its calls renumbered 0..n-1 so result ids index ``calls``.

    ``compiled`` shares compiled steps between the searches of one shrink
    (``search.search``)."""
    from checkers.linearizable.search import search

    renumbered = [_moved(c, id=i) for i, c in enumerate(calls)]
    return search(
        renumbered,
        model,
        deadline=time.monotonic() + seconds,
        max_configs=max_configs,
        compiled=compiled,
    )


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
    return [_moved(c, call=lo, ret=ret) if c.id == target.id else c for c in calls]


def _moved(c: Call, *, id: int | None = None, call: int | None = None, ret: int | None = None) -> Call:
    """A copy of ``c`` with another id or interval (``dataclasses.replace``, minus
    its generic field walk: shrinking makes tens of thousands of these)."""
    return Call(
        c.id if id is None else id,
        c.process,
        c.f,
        c.input,
        c.output,
        c.call if call is None else call,
        c.ret if ret is None else ret,
        c.invoke_index,
        c.complete_index,
        c.key,
    )


def shrink(
    calls: Sequence[Call],
    model: Any,
    *,
    failing: Call | None = None,
    keep: Sequence[Call] = (),
    seed: Sequence[Call] | None = None,
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

    ``seed`` and ``keep`` let the caller steer the real-time mode towards a
    story it already told (a ``witness``): ``seed`` is a small sub-history
    tried first, ``keep`` calls that ddmin leaves in while it removes the
    others. A last ddmin pass over the kept calls too keeps the result
    1-minimal.
    """
    deadline = time.monotonic() + budget
    cache: dict[tuple[int, frozenset[int]], Any] = {}
    compiled: dict[Any, Any] = {}
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
            cache[k] = search_subset(target, model, test_timeout, max_configs, compiled).valid
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
            tries = [cut, current] if len(cut) < len(current) else [current]
            if seed:
                tries.insert(0, sorted({c.id: c for c in [*seed, failing]}.values(), key=_at))
            for candidate in tries:
                if real_time_fails(candidate):
                    current, real_time = candidate, True
                    break
        if real_time:
            assert failing is not None
            pinned = [failing, *(c for c in keep if any(c.id == x.id for x in current))]
            ids = {c.id for c in pinned}
            rest = [c for c in current if c.id not in ids]
            kept = ddmin(rest, lambda s: real_time_fails(_merge(s, *pinned)))
            others = [c for c in _merge(kept, *pinned) if c.id != failing.id]
            kept = ddmin(others, lambda s: real_time_fails(_merge(s, failing)))
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


def _at(c: Call) -> int:
    return c.call


def _merge(calls: Sequence[Call], *extra: Call) -> list[Call]:
    return sorted([*calls, *extra], key=_at)


def ddmin(items: list[Any], fails: Callable[[list[Any]], bool]) -> list[Any]:
    """Zeller's ddmin: a 1-minimal sublist of ``items`` for which ``fails`` holds.

    Assumes ``fails(items)``. Order is preserved. On return, removing any
    single element makes ``fails`` false (1-minimality).
    """
    n = 2
    while len(items) >= 2:
        chunks = _chunks(items, n)
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


def _chunks(items: list[Any], n: int) -> list[list[Any]]:
    size, extra = divmod(len(items), n)
    out, start = [], 0
    for i in range(n):
        end = start + size + (1 if i < extra else 0)
        out.append(items[start:end])
        start = end
    return [c for c in out if c]
