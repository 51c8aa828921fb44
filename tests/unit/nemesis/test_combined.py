"""Packages and their seeded schedules, run through the thread-free simulator."""

import pytest

from harness.core.errors import ConfigError
from harness.generator import simulate, time_limit
from nemesis import combined
from tests.unit.nemesis.fake_iptables import FakeIptablesRemote
from tests.unit.nemesis.test_faults import FakeTarget, RecordingRemote

NODES = ["n1", "n2", "n3", "n4", "n5"]
ADDR = {n: f"10.77.0.{11 + i}" for i, n in enumerate(NODES)}


class Remote(FakeIptablesRemote, RecordingRemote):
    def __init__(self):
        FakeIptablesRemote.__init__(self)
        RecordingRemote.__init__(self)


def packages(names, seed=1):
    ctx = combined.NemesisContext(Remote(), FakeTarget(), NODES, ADDR, seed=seed)
    return combined.build(combined.parse_names(names), ctx)


def fault_ops(names, seed, concurrency=1, seconds=60):
    gen = time_limit(seconds, combined.schedule(packages(names), interval=5, concurrency=concurrency))
    return [(op.type, op.f, op.value) for op in simulate(gen, concurrency=1, seed=seed) if op.type == "invoke"]


def test_same_seed_same_fault_sequence_and_another_seed_differs():
    names = "partition,pause,kill,loss,clock"
    assert fault_ops(names, seed=3) == fault_ops(names, seed=3)
    assert fault_ops(names, seed=3) != fault_ops(names, seed=4)


def test_every_fault_is_stopped_before_the_next_round_starts():
    active = set()
    starts = {"start-partition": "partition", "start-pause": "pause", "kill": "kill"}
    stops = {"stop-partition": "partition", "stop-pause": "pause", "start": "kill"}
    for _, f, _ in fault_ops("partition,pause,kill", seed=9, seconds=120):
        if f in starts:
            assert not active, f"{f} began while {active} was still active"
            active.add(starts[f])
        else:
            active.discard(stops[f])


def test_concurrency_two_has_two_different_faults_active_at_once():
    starts = {"start-partition", "start-pause", "kill", "start-loss"}
    seq = [f for _, f, _ in fault_ops("partition,pause,kill,loss", seed=5, concurrency=2, seconds=120)]
    pairs = [(a, b) for a, b in zip(seq, seq[1:], strict=False) if a in starts and b in starts]
    assert pairs and all(a != b for a, b in pairs)


def test_unknown_nemesis_names_the_choices():
    with pytest.raises(ConfigError, match="partition"):
        combined.parse_names("partition,meteor")


def test_composed_nemesis_routes_and_heals_everything():
    pkgs = packages("partition,loss")
    nem = combined.ComposedNemesis(pkgs)
    from harness.core.op import Op

    nem.invoke(None, Op(0, 0, "nemesis", "invoke", "start-partition", "halves"))
    nem.invoke(None, Op(1, 0, "nemesis", "invoke", "start-loss", {"probability": 0.5}))
    remote = pkgs[0].nemesis.net.remote
    assert any(pkgs[0].nemesis.net.drops(n) for n in NODES)
    nem.heal(None)
    assert all(line == "" for line in [remote.run(n, ["iptables", "-w", "-S"]).stdout for n in NODES])
