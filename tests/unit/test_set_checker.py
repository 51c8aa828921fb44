"""The set checker (Jepsen's set-full) on hand-made histories: each kind it reports, and
what it must not report (an info add seen later is not lost; a concurrent read may miss)."""

from __future__ import annotations

from typing import Any

from checkers.set_full import SetFullChecker
from harness.core.op import History, Op
from harness.workloads.set import SetGen, set_final_reads


class H:
    """A history written as calls: each call is an invoke at ``t`` and a completion at ``t2`` (seconds)."""

    def __init__(self) -> None:
        self.events: list[tuple[int, int, Any, str, str, Any, dict[str, Any]]] = []

    def call(self, process: Any, f: str, value: Any, t: float, t2: float | None, typ: str = "ok",
             result: Any = None, **extra: Any) -> H:
        self.events.append((int(t * 1e9), 0, process, "invoke", f, value, dict(extra)))
        if t2 is not None:
            self.events.append((int(t2 * 1e9), 1, process, typ, f, value if result is None else result, {}))
        return self

    def add(self, p: Any, e: int, t: float, t2: float | None, typ: str = "ok", key: str = "s0") -> H:
        return self.call(p, "add", [key, e], t, t2, typ)

    def read(self, p: Any, elements: list[int], t: float, t2: float, key: str = "s0", **extra: Any) -> H:
        return self.call(p, "read", [key, None], t, t2, "ok", [key, elements], **extra)

    def history(self) -> History:
        ordered = sorted(self.events, key=lambda e: (e[0], e[1]))
        return History([Op(i, t, p, typ, f, v, extra=x) for i, (t, _, p, typ, f, v, x) in enumerate(ordered)])


def check(h: H):
    return SetFullChecker().check({}, h.history(), None)


def kinds(result) -> dict[str, list]:
    out: dict[str, list] = {}
    for a in result.anomalies:
        out.setdefault(a.kind, []).append(a)
    return out


def test_every_element_seen_to_the_end_is_valid():
    h = H().add(0, 1, 0.0, 0.1).add(1, 2, 0.2, 0.3).read(2, [1, 2], 0.5, 0.6).read(2, [1, 2], 1.0, 1.1, final=True)
    r = check(h)
    assert r.valid is True and r.anomalies == []
    assert r.stats["acknowledged"] == 2 and r.stats["lost"] == 0
    assert r.stats["outcomes"] == {"stable": 2}


def test_an_acknowledged_add_missing_from_every_later_read_is_a_lost_write():
    h = (H().add(0, 1, 0.0, 0.1).add(1, 2, 0.2, 0.3)
         .read(2, [1, 2], 0.5, 0.6)   # both present
         .read(2, [1], 1.0, 1.1)      # 2 gone...
         .read(2, [1], 2.0, 2.1, final=True))  # ... for good
    r = check(h)
    assert r.valid is False
    (lost,) = kinds(r)["lost-write"]
    assert lost.severity == "error"
    assert lost.details["elements"] == [2] and lost.details["acknowledged_lost"] == 1
    assert lost.details["missing_since_s"] == 1.0
    assert "including the final read" in lost.summary
    assert r.stats["lost_acknowledged"] == 1 and r.stats["acknowledged"] == 2


def test_an_acknowledged_add_never_seen_by_any_read_after_its_ack_is_lost():
    h = H().add(0, 7, 0.0, 0.1).read(1, [], 0.5, 0.6).read(1, [], 1.0, 1.1, final=True)
    (lost,) = kinds(check(h))["lost-write"]
    assert lost.details["elements"] == [7]


def test_an_info_add_that_appears_later_is_not_lost():
    h = (H().add(0, 5, 0.0, 0.5, typ="info")
         .read(1, [], 0.2, 0.3)          # before it landed: fine, its outcome was unknown
         .read(1, [5], 1.0, 1.1)
         .read(1, [5], 2.0, 2.1, final=True))
    r = check(h)
    assert r.valid is True and "lost-write" not in kinds(r)
    assert r.stats["recovered"] == 1 and r.stats["info"] == 1


def test_an_info_add_never_seen_is_neither_lost_nor_an_error():
    h = H().add(0, 5, 0.0, 0.5, typ="info").read(1, [], 1.0, 1.1, final=True)
    r = check(h)
    assert r.valid is True and r.anomalies == []
    assert r.stats["outcomes"] == {"unseen": 1}


def test_an_info_add_seen_once_then_gone_is_lost():
    h = H().add(0, 5, 0.0, 0.5, typ="info").read(1, [5], 1.0, 1.1).read(1, [], 2.0, 2.1, final=True)
    (lost,) = kinds(check(h))["lost-write"]
    assert lost.details["elements"] == [5] and lost.details["acknowledged_lost"] == 0


def test_a_read_concurrent_with_the_add_may_miss_it():
    # The read began before the ack: nothing is wrong either way.
    h = H().add(0, 3, 0.0, 0.4).read(1, [], 0.1, 0.5).read(1, [3], 1.0, 1.1, final=True)
    r = check(h)
    assert r.valid is True and r.anomalies == []


def test_a_read_that_began_after_the_ack_and_missed_it_is_a_stale_read_warning():
    h = (H().add(0, 3, 0.0, 0.1)
         .read(1, [], 0.5, 0.6)       # began after the ack, missed it...
         .read(1, [3], 1.5, 1.6, final=True))  # ... seen again: stale, not lost
    r = check(h)
    assert r.valid is True  # a warning leaves the verdict alone
    (stale,) = kinds(r)["stale-read"]
    assert stale.severity == "warning" and stale.details["elements"] == 1
    assert abs(stale.details["worst_lag_s"] - 0.4) < 1e-6
    assert r.stats["outcomes"] == {"stale": 1}


def test_an_element_nobody_added_is_unexpected():
    h = H().add(0, 1, 0.0, 0.1).read(1, [1, 99], 0.5, 0.6, final=True)
    r = check(h)
    assert r.valid is False
    (u,) = kinds(r)["unexpected"]
    assert u.details["elements"] == [99] and u.severity == "error"


def test_an_element_whose_add_definitely_failed_but_was_read_is_unexpected():
    h = H().add(0, 4, 0.0, 0.1, typ="fail").read(1, [4], 0.5, 0.6, final=True)
    (u,) = kinds(check(h))["unexpected"]
    assert u.fingerprint == "unexpected/failed-add" and u.details["elements"] == [4]


def test_an_element_listed_twice_in_one_read_is_a_duplicate():
    h = H().add(0, 1, 0.0, 0.1).read(1, [1, 1], 0.5, 0.6, final=True)
    r = check(h)
    (d,) = kinds(r)["duplicate"]
    assert d.details["elements"] == [1] and r.valid is False


def test_sets_are_judged_apart():
    # Element 1 of s0 is not "unexpected" in s1, and a read of s1 says nothing about s0.
    h = (H().add(0, 1, 0.0, 0.1, key="s0").add(0, 2, 0.2, 0.3, key="s1")
         .read(1, [2], 0.5, 0.6, key="s1").read(1, [1], 0.7, 0.8, key="s0", final=True)
         .read(1, [2], 0.9, 1.0, key="s1", final=True))
    r = check(h)
    assert r.valid is True and r.anomalies == []


def test_visibility_latency_is_measured_from_the_ack():
    h = H().add(0, 1, 0.0, 0.1).read(1, [1], 0.5, 0.6).read(1, [1], 1.0, 1.1, final=True)
    vis = check(h).stats["visibility"]
    assert vis["count"] == 1 and abs(vis["max_s"] - 0.5) < 1e-6  # first seen by a read completing at 0.6


def test_points_carry_every_element_outcome_for_the_drawing():
    h = H().add(0, 1, 0.0, 0.1).add(1, 2, 0.2, 0.3).read(2, [1], 1.0, 1.1, final=True)
    rows = check(h).stats["points"]["rows"]
    assert {r[0]: r[5] for r in rows} == {1: "stable", 2: "lost"}


def test_the_generator_adds_unique_elements_and_final_reads_cover_every_set():
    gen = SetGen(seed=3, ops_per_key=10, read_fraction=0.3)
    ops = [gen.template(n) for n in range(40)]
    added = [o["value"][1] for o in ops if o["f"] == "add"]
    assert len(added) == len(set(added)) and 0 < len(added) < 40
    assert {o["value"][0] for o in ops} == {"s0", "s1", "s2", "s3"}
    assert [SetGen(seed=3, ops_per_key=10, read_fraction=0.3).template(n) for n in range(40)] == ops
    history = [Op(n, n, 0, "invoke", o["f"], o["value"]) for n, o in enumerate(ops)]
    finals = set_final_reads(history)
    assert [f["value"][0] for f in finals] == ["s0", "s1", "s2", "s3"] and all(f["final"] for f in finals)
