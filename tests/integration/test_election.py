"""Leader election with real processes: SIGSTOP past the lease, SIGKILL and restart."""

from __future__ import annotations

import re
import time

import pytest

from tests.integration.target_cluster import cluster

pytestmark = pytest.mark.slow


def terms_won(c) -> dict[int, list[str]]:
    """Every 'became leader in term T' line across all node logs: term -> nodes."""
    won: dict[int, list[str]] = {}
    for n in c:
        for m in re.finditer(r"became leader in term (\d+)", n.log()):
            won.setdefault(int(m.group(1)), []).append(n.name)
    return won


def test_a_paused_leader_is_replaced_and_steps_down_when_continued(tmp_path):
    with cluster(tmp_path, 3, lease_seconds=1.0) as c:
        old, term = c.wait_leader()
        c.stop(old)
        paused_at = time.monotonic()
        try:
            new, new_term = c.wait_leader(timeout=10, exclude=(old,), min_term=term + 1)
            replaced_after = time.monotonic() - paused_at
            time.sleep(0.5)  # let the pause outlast the old lease by a margin
        finally:
            c.cont(old)
        assert new != old and new_term > term
        # the acceptors wait out the last lease they granted, which was at most one renew
        # interval (lease/4) before the pause: no one may lead while the old lease could be live
        assert replaced_after >= 0.7
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            body = c[old].call("GET", "/leader")[1]
            if (body["node"], body["is_leader"]) == (new, False) and body["term"] >= new_term:
                break
            time.sleep(0.05)
        else:
            raise AssertionError(f"{old} still believes {body} after being continued")
        assert c.wait_leader() == (new, new_term)
        assert re.search(rf"stepped down from term {term}\b", c[old].log())
        assert all(len(nodes) == 1 for nodes in terms_won(c).values()), terms_won(c)
        metrics = c[new].call("GET", "/metrics")[1]
        assert metrics["gauges"]["is_leader"] == 1 and metrics["gauges"]["election_term"] == new_term


def test_terms_are_durable_across_a_full_crash(tmp_path):
    with cluster(tmp_path, 3, lease_seconds=1.0) as c:
        _, term = c.wait_leader()
        for n in c:
            n.kill()
        for n in c:
            n.start()
        for n in c:
            n.wait_healthy()
        _, after = c.wait_leader()
        assert after > term
        assert all(len(nodes) == 1 for nodes in terms_won(c).values()), terms_won(c)


def test_minority_side_elects_no_one(tmp_path):
    with cluster(tmp_path, 3, lease_seconds=1.0) as c:
        leader, term = c.wait_leader()
        others = [n for n in c.names if n != leader]
        for n in others:
            c.stop(n)
        try:
            time.sleep(2.0)  # two leases
            body = c[leader].call("GET", "/leader")[1]
            assert body["is_leader"] is False  # it could not renew with a majority
        finally:
            for n in others:
                c.cont(n)
        assert c.wait_leader()[1] >= term
