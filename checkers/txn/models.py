"""Consistency models and anomalies as data: what each model forbids.

Three tables, all plain dicts, so the CLI, the docs and the tests read the
same facts:

* ``IMPLIES``: finding anomaly A proves anomaly B too (a G0 cycle is also a
  G1c cycle, a G-single-item cycle is also G-nonadjacent-item, ...). Asking
  for B (``--anomalies B``) therefore also reports every A that implies B.
* ``STRONGER``: a history that satisfies model M also satisfies each model
  listed under M (strict-serializable -> serializable -> repeatable-read ...).
* ``FORBIDS``: the anomalies each model rules out *beyond* those of the
  weaker models it implies; the full set is the union down ``STRONGER``.

The facts follow the literature Elle cites (Adya; Adya, Liskov and O'Neil;
Bailis et al.; Cerone et al.; Daudjee and Salem) and use Elle's names, so a
verdict reads the same as Elle's: ``not`` is the weakest models the history
violates (everything stronger fails too), ``satisfies`` the strongest models
it may still hold. ``SEVERITY`` orders anomalies for the cycle search only
(a G0 is worse than a G-single, though neither implies the other).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

#: Anomaly -> anomalies it proves as well. Process and realtime variants: a
#: cycle without such edges is trivially one with them allowed.
IMPLIES: dict[str, tuple[str, ...]] = {
    "G0": ("G1c", "G0-process"),
    "G0-process": ("G1c-process", "G0-realtime"),
    "G0-realtime": ("G1c-realtime",),
    "G1a": ("G1",),
    "G1b": ("G1",),
    "G1c": ("G1", "G1c-process"),
    "G1c-process": ("G1c-realtime", "G1-process"),
    "G1c-realtime": ("G1-realtime",),
    "G1": ("G1-process",),
    "G1-process": ("G1-realtime",),
    "G-single-item": ("G-single", "G-single-item-process", "G-nonadjacent-item"),
    "G-single-item-process": (
        "G-single-process",
        "G-single-item-realtime",
        "G-nonadjacent-item-process",
    ),
    "G-single-item-realtime": ("G-single-realtime", "G-nonadjacent-item-realtime"),
    "G-single": ("G-nonadjacent", "GSIb", "G-single-process"),
    "G-single-process": ("G-nonadjacent-process", "G-single-realtime"),
    "G-single-realtime": ("G-nonadjacent-realtime",),
    "G-nonadjacent-item": ("G-nonadjacent", "G2-item", "G-nonadjacent-item-process"),
    "G-nonadjacent-item-process": (
        "G-nonadjacent-process",
        "G2-item-process",
        "G-nonadjacent-item-realtime",
    ),
    "G-nonadjacent-item-realtime": ("G2-item-realtime", "G-nonadjacent-realtime"),
    "G-nonadjacent": ("G2", "G-nonadjacent-process"),
    "G-nonadjacent-process": ("G2-process", "G-nonadjacent-realtime"),
    "G-nonadjacent-realtime": ("G2-realtime",),
    "G2": ("G2-process",),
    "G2-item": ("G2", "G2-item-process"),
    "G2-item-process": ("G2-process", "G2-item-realtime"),
    "G2-item-realtime": ("G2-realtime",),
    "G2-process": ("G2-realtime",),
    "GSIa": ("GSI",),
    "GSIb": ("GSI",),
    # Two reads no single append order explains: someone read a dirty state.
    "incompatible-order": ("G1a",),
    # A transaction that reads its own later write: a one-transaction wr cycle.
    "future-read": ("G1c",),
    # A committed append on top of an aborted one: a dirty read of a write.
    "dirty-update": ("G1a",),
    # A read of a value nobody wrote cannot come from a committed write.
    "garbage": ("G1a",),
    # Two committed read-modify-writes of one version: write skew on one key.
    "lost-update": ("write-skew", "G2-item"),
    "write-skew": ("G2",),
}

#: More-severe -> less-severe, beyond IMPLIES: the order the cycle search tries.
SEVERITY: dict[str, tuple[str, ...]] = {
    "G0": ("G1c",),
    "G0-process": ("G1c-process",),
    "G0-realtime": ("G1c-realtime",),
    "G1c": ("G-single", "G2-item"),
    "G1c-process": ("G-single-process", "G2-item-process"),
    "G1c-realtime": ("G-single-realtime", "G2-item-realtime"),
    "G2": ("G0-process",),
    "G2-process": ("G0-realtime",),
}

#: Other spellings accepted for a model (Adya's PL names), mapped to ours.
ALIASES: dict[str, str] = {
    "PL-1": "read-uncommitted",
    "PL-2": "read-committed",
    "PL-2+": "consistent-view",
    "PL-2.99": "repeatable-read",
    "PL-3": "serializable",
    "conflict-serializable": "serializable",
    "PL-CS": "cursor-stability",
    "PL-FCV": "forward-consistent-view",
    "PL-MSR": "monotonic-snapshot-read",
    "PL-2L": "monotonic-view",
    "PL-SI": "snapshot-isolation",
    "PL-SS": "strict-serializable",
    "strong-serializable": "strict-serializable",
    "PL-3U": "update-serializable",
    "strong-session-PL-1": "strong-session-read-uncommitted",
    "strong-session-PL-2": "strong-session-read-committed",
    "strong-PL-1": "strong-read-uncommitted",
    "strong-PL-2": "strong-read-committed",
}

#: Model -> weaker models it implies.
STRONGER: dict[str, tuple[str, ...]] = {
    "causal-cerone": ("read-atomic",),
    "consistent-view": ("cursor-stability", "monotonic-view"),
    "serializable": (
        "repeatable-read",
        "update-serializable",
        "snapshot-isolation",
        "view-serializable",
    ),
    "cursor-stability": ("read-committed",),
    "forward-consistent-view": ("consistent-view",),
    "read-committed": ("read-uncommitted",),
    "update-serializable": ("forward-consistent-view",),
    "monotonic-atomic-view": ("read-committed",),
    "monotonic-view": ("read-committed",),
    "monotonic-snapshot-read": ("read-committed",),
    "parallel-snapshot-isolation": ("causal-cerone", "update-atomic"),
    "prefix": ("causal-cerone",),
    "read-atomic": ("monotonic-atomic-view",),
    "repeatable-read": ("cursor-stability", "monotonic-atomic-view"),
    "update-atomic": ("read-atomic",),
    "session-serializable": ("1SR",),
    "snapshot-isolation": (
        "forward-consistent-view",
        "monotonic-atomic-view",
        "monotonic-snapshot-read",
        "parallel-snapshot-isolation",
        "prefix",
    ),
    "strict-serializable": (
        "serializable",
        "linearizable",
        "snapshot-isolation",
        "strong-snapshot-isolation",
        "strong-session-serializable",
        "session-serializable",
    ),
    "strong-session-read-uncommitted": ("read-uncommitted",),
    "strong-session-read-committed": ("read-committed", "strong-session-read-uncommitted"),
    "strong-read-uncommitted": ("strong-session-read-uncommitted",),
    "strong-read-committed": ("strong-session-read-committed", "strong-read-uncommitted"),
    "strong-session-serializable": ("serializable", "strong-session-snapshot-isolation"),
    "strong-session-snapshot-isolation": ("snapshot-isolation", "strong-session-read-committed"),
    "strong-snapshot-isolation": ("strong-session-snapshot-isolation", "strong-read-committed"),
    # Single-object models, so that a transactional verdict can name them too.
    "linearizable": ("sequential",),
    "sequential": ("causal",),
    "causal": ("writes-follow-reads", "PRAM"),
    "PRAM": ("monotonic-reads", "monotonic-writes", "read-your-writes"),
}

#: Model -> anomalies it forbids directly (the weaker models add theirs).
FORBIDS: dict[str, tuple[str, ...]] = {
    "causal-cerone": ("internal", "G1a"),
    "cursor-stability": ("G1", "G-cursor", "lost-update"),
    "monotonic-view": ("G1", "G-monotonic"),
    "monotonic-snapshot-read": ("G1", "G-MSR"),
    "consistent-view": ("G1", "G-single"),
    "forward-consistent-view": ("G1", "G-SIb"),
    "parallel-snapshot-isolation": ("internal", "G1a"),
    "serializable": ("G1", "G2", "internal"),
    "read-committed": ("G1",),
    # Version orders must be total and appends unique: no model allows these.
    "read-uncommitted": ("G0", "duplicate-elements", "cyclic-versions"),
    "prefix": ("internal", "G1a"),
    "snapshot-isolation": ("internal", "G1", "G-SI", "G-nonadjacent"),
    "read-atomic": ("internal", "G1a", "future-read"),
    "repeatable-read": ("G1", "G2-item", "lost-update"),
    "update-atomic": ("lost-update",),
    "strict-serializable": ("G1", "G1c-realtime", "G2-realtime"),
    "strong-session-read-uncommitted": ("G0-process",),
    "strong-session-read-committed": ("G1c-process",),
    "strong-read-uncommitted": ("G0-realtime",),
    "strong-read-committed": ("G1c-realtime",),
    "strong-session-snapshot-isolation": ("internal", "G1-process", "G-nonadjacent-process"),
    "strong-snapshot-isolation": ("internal", "G1-realtime", "G-nonadjacent-realtime"),
    "strong-session-serializable": ("G1-process", "G2-process"),
    "update-serializable": ("G1", "G-update"),
}

#: Found without a verdict on the data: they make a check unknown, not invalid.
UNKNOWN_TYPES = frozenset({"empty-transaction-graph", "cycle-search-timeout"})


def _close(start: Iterable[str], edges: dict[str, tuple[str, ...]]) -> set[str]:
    """Everything reachable from ``start`` along ``edges``, ``start`` included."""
    seen = set(start)
    todo = list(seen)
    while todo:
        for nxt in edges.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _reverse(edges: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    back: dict[str, list[str]] = {}
    for a, bs in edges.items():
        for b in bs:
            back.setdefault(b, []).append(a)
    return {b: tuple(a) for b, a in back.items()}


_IMPLIED_BY = _reverse(IMPLIES)
_WEAKER_OF = _reverse(STRONGER)


def all_models() -> frozenset[str]:
    """Every model name a user may give (aliases included)."""
    names = set(STRONGER) | set(FORBIDS) | set(ALIASES)
    for weaker in STRONGER.values():
        names.update(weaker)
    return frozenset(names)


def canonical(model: str) -> str:
    """The model's name as the tables spell it; ValueError for an unknown one."""
    name = ALIASES.get(model, model)
    if name not in all_models():
        known = ", ".join(sorted(all_models() - set(ALIASES)))
        raise ValueError(f"unknown consistency model {model!r}; known models: {known}")
    return name


def implied(anomalies: Iterable[str]) -> set[str]:
    """The anomalies proven by finding ``anomalies`` (themselves included)."""
    return _close(anomalies, IMPLIES)


def implying(anomalies: Iterable[str]) -> set[str]:
    """The anomalies whose finding proves one of ``anomalies``: how Elle widens
    ``--anomalies`` (asking for G1 reports G0 too)."""
    return _close(anomalies, _IMPLIED_BY)


def forbidden_by(models: Iterable[str]) -> set[str]:
    """Every anomaly that must be absent for all of ``models`` to hold."""
    direct: set[str] = set()
    for model in _close(map(canonical, models), STRONGER):
        direct.update(FORBIDS.get(model, ()))
    return implying(direct)


def prohibited(models: Iterable[str] | None, anomalies: Iterable[str] = ()) -> frozenset[str]:
    """What makes a history invalid: the ``anomalies`` asked for, widened, and what
    the ``models`` forbid. ``models`` None means none (only ``anomalies`` count)."""
    found = implying(anomalies)
    if models is not None:
        found |= forbidden_by(models)
    return frozenset(found)


def impossible_models(anomalies: Iterable[str]) -> set[str]:
    """Every model that cannot hold once ``anomalies`` are found."""
    shown = implied(anomalies)
    direct = {m for m, forbids in FORBIDS.items() if shown.intersection(forbids)}
    return _close(direct, _WEAKER_OF)


def weakest(models: set[str]) -> set[str]:
    """The members of ``models`` that no other member is weaker than."""
    return {m for m in models if not (_close(STRONGER.get(m, ()), STRONGER) & (models - {m}))}


def strongest(models: set[str]) -> set[str]:
    """The members of ``models`` that no other member is stronger than."""
    return {m for m in models if not (_close(_WEAKER_OF.get(m, ()), _WEAKER_OF) & (models - {m}))}


def boundary(anomalies: Iterable[str]) -> dict[str, list[str]]:
    """``not``: the weakest models ruled out; ``also_not``: the stronger ones ruled
    out with them; ``satisfies``: the strongest models still possible."""
    ruled_out = impossible_models(anomalies)
    is_not = weakest(ruled_out)
    possible = set(all_models()) - set(ALIASES) - ruled_out
    return {
        "not": sorted(is_not),
        "also_not": sorted(ruled_out - is_not),
        "satisfies": sorted(strongest(possible)),
    }


@cache
def depth() -> dict[str, int]:
    """Each anomaly's depth in IMPLIES and SEVERITY together: 0 for anomalies nothing
    implies. The cycle search tries shallow (severe) types first, so a type already
    implied by one found need not be searched."""
    edges: dict[str, list[str]] = {}
    for table in (IMPLIES, SEVERITY):
        for a, bs in table.items():
            edges.setdefault(a, []).extend(bs)
    nodes = set(edges) | {b for bs in edges.values() for b in bs}
    indegree = dict.fromkeys(nodes, 0)
    for targets in edges.values():
        for b in targets:
            indegree[b] += 1
    level = {n: 0 for n, d in indegree.items() if d == 0}
    frontier = sorted(level)
    result: dict[str, int] = {}
    d = 0
    while frontier:
        nxt: list[str] = []
        for n in frontier:
            result[n] = d
            for b in edges.get(n, ()):
                indegree[b] -= 1
                if indegree[b] == 0:
                    nxt.append(b)
        frontier = sorted(nxt)
        d += 1
    return result
