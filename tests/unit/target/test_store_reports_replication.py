"""target/store.py reports the replication it runs with (after bug flags) in /metrics and its log."""

from __future__ import annotations

import pytest

from target.config import from_dict
from target.node import build_context

PEERS = {n: f"http://127.0.0.1:{7300 + i}" for i, n in enumerate(("n1", "n2", "n3", "n4", "n5"))}


def context(tmp_path, bugs=(), replication=None):
    raw = {"node": "n1", "port": 7300, "peers": PEERS, "data_dir": str(tmp_path / "n1"), "bugs": list(bugs)}
    if replication is not None:
        raw["replication"] = replication
    return build_context(from_dict(raw))


@pytest.mark.parametrize("bugs,replication,expected", [
    ((), {"n": 3, "w": 2, "r": 2}, (3, 2, 2)),
    ((), {"n": 5, "w": 4, "r": 2}, (5, 4, 2)),
    (("weak-quorum",), {"n": 3, "w": 2, "r": 2}, (3, 1, 1)),  # the flag overrides the config
])
def test_metrics_report_the_effective_n_w_r(tmp_path, bugs, replication, expected):
    ctx = context(tmp_path, bugs, replication)
    try:
        gauges = ctx.metrics.snapshot()["gauges"]
        assert (gauges["store_replicas"], gauges["store_write_quorum"], gauges["store_read_quorum"]) == expected
        log = (tmp_path / "n1" / ctx.config.log).read_text()
        n, w, r = expected
        assert f"store: replication N={n} W={w} R={r}" in log
    finally:
        ctx.store.close()
