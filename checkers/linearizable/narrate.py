"""An explanation as text: a short proof, Elle-style.

``narrate`` reads only explanation data (an ``Explanation`` or its
``to_json()``, e.g. a ``nonlinearizable`` anomaly's ``details`` from a stored
``results.json``), never a history or a model, so a stored result can be
narrated again. ``ops_label`` is shared with the drawings in
``checkers.report.linear``.
"""

from __future__ import annotations

from typing import Any


def narrate(explanation: Any, model: Any = None) -> str:
    """A short proof, Elle-style: "Let A = ... A completed before B began ... However ...: a contradiction."

    Two paragraphs: where the search got stuck in the full history, then the
    shrunk sub-history's own proof (skipped when shrinking removed nothing
    the first paragraph does not already show). Reads only explanation data
    (descriptions were taken from the model when the explanation was built),
    so a stored ``results.json`` can be narrated again; ``model`` only
    supplies a name when the data lacks one.
    """
    e = explanation.to_json() if hasattr(explanation, "to_json") else explanation
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
