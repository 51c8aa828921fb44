"""The plainest proof that a blamed call is illegal: one earlier call rules it out.

The search says *where* it got stuck (the longest linearizable prefix and
the calls it could not place), but the calls placed there are one order
among many, so a story told from them ("A, B and C took effect before D")
can blame innocent reads and stay silent about the write that matters.
``find_witness`` looks for a proof a reader can check against the full
history by eye:

    D read 0, but B's write 2 completed before D began, and every call
    that could make the value 0 again completed before B began.

Formally, for the blamed call F and a call X that completed before F
began: call the calls that may take effect between X and F (they did not
complete before X began, nor begin after F returned) the *between* calls,
and the states from which some sequence of between calls reaches a state
where F is legal the *hopeful* states. If X can only leave a state that is
not hopeful, then in every linearization the state from X up to F is one
where F is illegal: a contradiction, whatever the other calls did. Usually
no between call can make F legal at all ("nothing wrote 0 after it"); when
one could (a crashed cas 3→4 for a read of 4), it is *stranded*: it needs
a state (3) that nothing between X and F can produce from X's.

"States" here are every state reachable from the initial one by the key's
calls in any order (``reachable_states``), so the proof holds for every
model that keeps that set small (registers, cas and etcd registers, the
mutex, kv with puts only); for the rest (kv appends, multi-register maps)
the set outgrows ``STATE_LIMIT`` and there is no witness: the explanation
then tells the search's own story. Only ``Model.init``/``step`` are used,
and ``compile`` where a model has it (the same step, compiled once per call:
a witness takes tens of thousands of steps).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from checkers.linearizable.models import ILLEGAL
from harness.core.op import INF, Call

#: Reachable-state sets larger than this give up (no witness) rather than guess.
STATE_LIMIT = 256
#: Model steps allowed while closing the state set and classifying calls.
STEP_LIMIT = 400_000
#: Candidate blockers tried, best first (each costs a pass over the key's calls).
BLOCKER_LIMIT = 64


@dataclass
class Witness:
    """Why ``failing`` is illegal, shown by one earlier call, ``blocker``.

    ``blocker`` completed before ``failing`` began and leaves the model in a
    state where ``failing`` is illegal (``left``: the only such state it can
    leave, or None when it depends on the state before it). ``enablers``
    are the calls that could make ``failing`` legal and completed before
    ``blocker`` began, in the order they completed; ``late_enablers`` those that began after
    ``failing`` returned. ``source`` is the
    enabler that completed last before ``blocker`` began (None when the
    initial state already makes ``failing`` legal), the call a shrunk
    story starts from. ``blocker_writes``: ``blocker`` changes the state
    (a write or a cas), rather than only observing it (a read).
    """

    failing: Call
    blocker: Call
    left: Hashable | None
    blocker_writes: bool
    enablers: list[Call] = field(default_factory=list)
    late_enablers: list[Call] = field(default_factory=list)
    stranded: list[tuple[Call, list[Any]]] = field(default_factory=list)
    source: Call | None = None
    initial_legal: bool = False


class _TooBig(Exception):
    pass


def reachable_states(
    calls: Sequence[Call], model: Any, limit: int = STATE_LIMIT
) -> set[Any] | None:
    """Every state some order of (some of) ``calls`` reaches from ``model.init()``.

    A superset of what any linearization can reach, which is what makes the
    witness sound. None when the set exceeds ``limit`` or the steps exceed
    ``STEP_LIMIT``.
    """
    step = _Steps(model)
    writers = [c for c in calls if not _observes_only(model, c)]
    seen = {model.init()}
    frontier = list(seen)
    try:
        while frontier:
            nxt = []
            for s in frontier:
                for c in writers:
                    ok, r = step(s, c)
                    if ok and r not in seen:
                        seen.add(r)
                        nxt.append(r)
                        if len(seen) > limit:
                            return None
            frontier = nxt
    except _TooBig:
        return None
    return seen


def _observes_only(model: Any, c: Call) -> bool:
    read_only = getattr(model, "read_only", None)
    return bool(read_only(c)) if read_only is not None else False


class _Steps:
    """``model.step`` within a budget of ``STEP_LIMIT`` steps, each call compiled
    once when the model can compile (the same result, without building the
    step again for every state)."""

    def __init__(self, model: Any):
        self.model = model
        self.left = STEP_LIMIT
        self.compile = getattr(model, "compile", None)
        self.compiled: dict[int, Any] = {}  # id(call) -> step; the calls outlive it

    def __call__(self, s: Any, c: Call) -> tuple[bool, Any]:
        self.left -= 1
        if self.left < 0:
            raise _TooBig
        if self.compile is None:
            return self.model.step(s, c)
        fn = self.compiled.get(id(c))
        if fn is None:
            fn = self.compiled[id(c)] = self.compile(c)
        r = fn(s)
        return (False, s) if r is ILLEGAL else (True, r)


def find_witness(
    calls: Sequence[Call], model: Any, failing: Call, *, limit: int = STATE_LIMIT
) -> Witness | None:
    """A ``Witness`` for ``failing`` among ``calls`` (one key's calls), or None.

    Of the calls that qualify as ``blocker``, a write beats a read, then the
    one that completed last before ``failing`` began: the write "just
    before" the failing call, which is what a reader looks for. None when
    ``failing`` crashed, is legal in no reachable state (its result is
    impossible whenever it happened: a different story), or no call
    qualifies (the contradiction needs several calls together).
    """
    if failing.ret == INF:
        return None
    states = reachable_states(calls, model, limit)
    if states is None:
        return None
    step = _Steps(model)
    try:
        legal = {s for s in states if step(s, failing)[0]}
        if not legal:
            return None
        outcomes = {
            c.id: [(s, r) for s in states for ok, r in [step(s, c)] if ok]
            for c in calls
            if c.id != failing.id
        }
    except _TooBig:
        return None

    def writes(c: Call) -> bool:
        return any(s != r for s, r in outcomes[c.id])

    blockers = [c for c in calls if c.ret < failing.call and c.id != failing.id and outcomes[c.id]]
    blockers.sort(key=lambda c: (writes(c), c.ret), reverse=True)
    initial_legal = model.init() in legal
    for x in blockers[:BLOCKER_LIMIT]:
        between = [
            w
            for w in calls
            if w.id not in (x.id, failing.id) and not w.ret < x.call and not failing.ret < w.call
        ]
        hopeful = _hopeful_states(legal, [outcomes[w.id] for w in between])
        left = {r for _, r in outcomes[x.id]}
        if left & hopeful:
            continue
        enablers = [w for w in calls if w.id != failing.id and _moves_into(outcomes[w.id], legal)]
        before = [w for w in enablers if w.ret < x.call]
        return Witness(
            failing=failing,
            blocker=x,
            left=next(iter(left)) if len(left) == 1 else None,
            blocker_writes=writes(x),
            enablers=sorted(before, key=lambda c: c.ret),
            late_enablers=[w for w in enablers if failing.ret < w.call],
            stranded=[
                (
                    w,
                    sorted(
                        {s for s, r in outcomes[w.id] if r in legal and s not in legal}, key=repr
                    ),
                )
                for w in between
                if _moves_into(outcomes[w.id], legal)
            ],
            source=None if initial_legal else max(before, key=lambda c: c.ret, default=None),
            initial_legal=initial_legal,
        )
    return None


def _moves_into(outcomes: list[tuple[Any, Any]], target: set[Any]) -> bool:
    return any(s not in target and r in target for s, r in outcomes)


def _hopeful_states(legal: set[Any], outcomes: list[list[tuple[Any, Any]]]) -> set[Any]:
    """The states from which some sequence of these calls reaches a state in ``legal``.

    A backward closure that lets each call act any number of times: an
    over-approximation, so a state outside it is hopeless for certain.
    """
    hopeful = set(legal)
    grew = True
    while grew:
        grew = False
        for pairs in outcomes:
            for s, r in pairs:
                if r in hopeful and s not in hopeful:
                    hopeful.add(s)
                    grew = True
    return hopeful
