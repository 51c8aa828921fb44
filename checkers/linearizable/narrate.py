"""An explanation as text: a short proof, Elle-style.

``narrate`` reads only explanation data (an ``Explanation`` or its
``to_json()``, e.g. a ``nonlinearizable`` anomaly's ``details`` from a stored
``results.json``), never a history or a model, so a stored result can be
narrated again. ``letters`` and ``ops_label`` are shared with the drawings
in ``checkers.report.linear``, so the bars carry the letters the text uses.
"""

from __future__ import annotations

from typing import Any

#: How many calls get a letter (the failing ones always do).
LETTERS = 12


def narrate(explanation: Any, model: Any = None) -> str:
    """A short proof, Elle-style: "Let A = ... A completed before B began ... a contradiction."

    Two paragraphs. The first is about the full history: when the
    explanation has a ``witness``, the call that rules the failing call out
    and why nothing could undo it (every claim checkable against the full
    history); otherwise where the search got stuck. The second is the
    shrunk sub-history's own proof, framed as those calls taken alone
    (skipped when it names no call the first did not). Reads only
    explanation data, so a stored ``results.json`` can be narrated again;
    ``model`` only supplies a name when the data lacks one.
    """
    e = _data(explanation)
    name = e.get("model") or getattr(model, "name", "model")
    where = "" if e.get("key") is None else f"On key {e['key']!r}: "
    failing = e.get("failing")
    if failing is None:
        return f"{where}the history has no linearization under the {name} model, but the search named no call to blame."
    letter = letters(e)
    known: set[int] = set()
    w = e.get("witness")
    if w is not None:
        text = where + _witness_story(letter, known, w, e)
        shown = {c["id"] for c in _witness_named(w)}
    else:
        text = where + _search_story(letter, known, e)
        shown = {p["id"] for p in _preds(e)} | {failing["id"]}
    shrunk, s_failing = e.get("shrunk") or [], e.get("shrunk_failing")
    if s_failing is None or not shrunk:
        return text
    total = e.get("calls_total", 0)
    minimal = (
        "" if e.get("shrunk_minimal") else " (shrinking ran out of time: it may not be minimal)"
    )
    if {c["id"] for c in shrunk} <= shown:
        if len(shrunk) == total:
            return text
        names = _join(sorted(letter[c["id"]] for c in shrunk if c["id"] in letter))
        return (
            text
            + f"\nShrunk: {names} alone ({len(shrunk)} of {total} calls) "
            + ("has" if len(shrunk) == 1 else "have") + " no linearization"
            + f" either, by the same argument{minimal}."
        )
    why = (
        f", though {letter[failing['id']]}'s result would be legal if it took effect at another time"
        if e.get("shrunk_real_time") and failing["id"] in letter
        else ""
    )
    named = _join(sorted(letter[c["id"]] for c in shrunk if c["id"] in letter))
    have = "has" if len(shrunk) == 1 else "have"
    return (
        text
        + f"\nShrunk: taken alone, without the other {total - len(shrunk)} calls, {named}"
        + f" ({len(shrunk)} of {total}) {have} no linearization{why}{minimal}. "
        + _story(
            letter,
            known,
            shrunk,
            s_failing,
            e.get("shrunk_edges", []),
            e.get("shrunk_states", []),
            e.get("shrunk_states_total", 0),
            prefix=e.get("shrunk_prefix", []),
        )
    )


def _data(explanation: Any) -> dict[str, Any]:
    return explanation.to_json() if hasattr(explanation, "to_json") else dict(explanation)


def letters(explanation: Any) -> dict[int, str]:
    """Call id -> the letter the narrative uses for it (A, B, ...), from explanation data.

    Calls are lettered in the order the narrative introduces them: those of
    the first paragraph (the witness, or the failing call's immediate
    predecessors), then the new ones of the shrunk sub-history; each group
    in invoke order. At most ``LETTERS`` calls get one, the failing calls
    and the witness's blocker always.
    """
    e = _data(explanation)
    failing = e.get("failing")
    if failing is None:
        return {}
    w = e.get("witness")
    first = _witness_named(w) if w is not None else [*_preds(e), failing]
    must = [failing, *([e["shrunk_failing"]] if e.get("shrunk_failing") else [])]
    if w is not None:
        must.append(w["blocker"])
    ids = {c["id"] for c in first}
    ordered = _unique(first) + [c for c in _unique(e.get("shrunk") or []) if c["id"] not in ids]
    if len(ordered) > LETTERS:
        must_ids = {c["id"] for c in must}
        room = LETTERS - len(must_ids)
        keep = must_ids | {c["id"] for c in [c for c in ordered if c["id"] not in must_ids][:room]}
        ordered = [c for c in ordered if c["id"] in keep]
    return {c["id"]: chr(ord("A") + i) for i, c in enumerate(ordered)}


def _preds(e: dict[str, Any]) -> list[dict[str, Any]]:
    return list(e.get("must_precede", [])[-3:])


def _witness_named(w: dict[str, Any]) -> list[dict[str, Any]]:
    """The calls the witness paragraph names: the last enabler, the blocker, the stranded, the failing."""
    last = w["enablers"][-1:] if w.get("enablers") else []
    return [*last, w["blocker"], *(s["call"] for s in w.get("stranded", [])), w["failing"]]


def _witness_story(
    letter: dict[int, str], known: set[int], w: dict[str, Any], e: dict[str, Any]
) -> str:
    named = [c for c in _unique(_witness_named(w)) if c["id"] in letter]
    known.update(c["id"] for c in named)
    fail, block = w["failing"], w["blocker"]
    b, x = letter[fail["id"]], letter[block["id"]]
    parts = ["Let " + _join([f"{letter[c['id']]} = {_who(c)}" for c in named]) + "."]
    parts.append(_stuck_sentence(b, e))
    parts.append(
        f"Here is why no order does better. {x} completed before {b} began, so {x} takes effect before {b}"
    )
    left, what = w.get("left"), f"{b} ({fail['description']})"
    state = "a state" if left is None else f"the state {left},"
    verb = ", leaving" if w.get("blocker_writes") else "; it found"
    parts[-1] += f"{verb} {state} where {what} is not legal."
    parts.append(_enablers_sentence(letter, w, b, x))
    parts.append(f"Hence {b} is legal at no point where it could take effect: a contradiction.")
    return " ".join(parts)


def _stuck_sentence(b: str, e: dict[str, Any]) -> str:
    placed, total = len(e.get("prefix", [])), e.get("calls_total", 0)
    return (
        f"The search's longest linearizable prefix has {placed} of the {total} calls; it got stuck at {b},"
        f" where {_states_phrase(e.get('states', []), e.get('states_total', 0))}."
    )


def _enablers_sentence(letter: dict[int, str], w: dict[str, Any], b: str, x: str) -> str:
    """Why nothing undoes the blocker: every call that could make the failing one legal, by when it ran."""
    before, late, stranded = (
        w.get("enablers_total", 0),
        w.get("late_total", 0),
        w.get("stranded", []),
    )
    n = before + late + len(stranded)
    if n == 0:
        if w.get("initial_legal"):
            return f"Only the initial state {w.get('initial')} makes {b} legal, and no call could bring it back."
        return f"No call could make {b} legal."
    last = _name(letter, w["enablers"][-1]) if before else ""
    if n == 1:
        if before:
            text = f"The one call that could make {b} legal, {last}, completed before {x} began"
        elif late:
            text = f"The one call that could make {b} legal began only after {b} returned"
        else:
            text = f"The one call that could make {b} legal, {_name(letter, stranded[0]['call'])}, could take effect between {x} and {b}"
    else:
        groups = []
        if before:
            groups.append(
                f"{last} completed before {x} began"
                if before == 1
                else f"{before} completed before {x} began (the last to complete, {last})"
            )
        if late:
            groups.append(f"{late} began only after {b} returned")
        if stranded:
            names = _join([_name(letter, s["call"]) for s in stranded])
            groups.append(f"{names} could take effect between {x} and {b}")
        text = f"Of the {n} calls that could make {b} legal, {_join(groups)}"
    if not stranded:
        return text + f", so none takes effect between {x} and {b}."
    left = w.get("left")
    whence = f"from {left}" if left is not None else f"from what {x} leaves"
    needs = "; ".join(
        f"{_name(letter, s['call'])} makes {b} legal only from {_join(s['needs'])}"
        for s in stranded
    )
    return (
        text
        + f"; but {needs}, and nothing that can take effect between {x} and {b} leads there {whence}."
    )


def _search_story(letter: dict[int, str], known: set[int], e: dict[str, Any]) -> str:
    """The search's stuck point, when no single call rules the failing one out."""
    failing = e["failing"]
    preds = _preds(e)
    total = e.get("calls_total", 0)
    placed = len(e.get("prefix", []))
    text = _story(
        letter,
        known,
        [*preds, failing],
        failing,
        [[p["id"], failing["id"]] for p in preds],
        e.get("states", []),
        e.get("states_total", 0),
        lead=(
            f"After the longest linearizable prefix ({placed} of {total} calls)"
            if placed
            else "At the start"
        ),
    )
    if e.get("failing_impossible"):
        b = letter[failing["id"]]
        text += (
            f" Nor is it a matter of timing: the calls invoked before {b} returned have"
            f" linearizations, but even free to take effect at any time, {b}'s result is legal"
            " in none of them."
        )
    return text


def _story(
    letter: dict[int, str],
    known: set[int],
    calls: list[dict[str, Any]],
    failing: dict[str, Any],
    edges: list[list[int]] | list[tuple[int, int]],
    states: list[str],
    states_total: int,
    *,
    lead: str | None = None,
    prefix: list[dict[str, Any]] | None = None,
) -> str:
    """Let ...; who completed before whom; the states the longest order reaches; the contradiction.

    ``lead`` names the point the states belong to; without it the story is
    about a sub-history taken alone and ``prefix`` is its longest order.
    """
    named = [c for c in _unique(calls) if c["id"] in letter]
    b = letter[failing["id"]]
    fresh = [c for c in named if c["id"] not in known]
    parts = []
    if fresh:
        parts.append("Let " + _join([f"{letter[c['id']]} = {_who(c)}" for c in fresh]) + ".")
    known.update(c["id"] for c in named)
    before = [letter[a] for a, x in edges if x == failing["id"] and a in letter]
    if before:
        they = "it takes" if len(before) == 1 else "they take"
        parts.append(f"{_join(before)} completed before {b} began, so {they} effect before {b}.")
    other = [
        f"{letter[a]} completed before {letter[x]} began"
        for a, x in edges
        if x != failing["id"] and a in letter and x in letter
    ]
    if other:
        parts.append(_join(other) + ".")
    crashed = [letter[c["id"]] for c in named if c["crashed"]]
    if crashed:
        verb = "crashed: it" if len(crashed) == 1 else "crashed: each"
        parts.append(
            f"{_join(crashed)} {verb} may take effect at any point after it began, or never."
        )
    if lead is None:
        done = [letter[c["id"]] for c in (prefix or []) if c["id"] in letter]
        lead = (
            f"Among these calls alone, after {_join(done)} (the longest order the model accepts)"
            if done
            else "Among these calls alone, at the start"
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


def _name(letter: dict[int, str], c: dict[str, Any]) -> str:
    return letter.get(c["id"]) or _who(c)


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
