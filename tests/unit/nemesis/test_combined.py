"""Packages and their seeded schedules, run through the thread-free simulator."""

import pytest

from harness.core.errors import ConfigError
from harness.core.op import Op
from harness.generator import simulate, time_limit
from harness.generator.nemesis_schedule import final_generator, schedule
from nemesis import registry
from nemesis.combined import ComposedNemesis
from nemesis.spec import NemesisContext
from tests.unit.nemesis.fake_iptables import FakeIptablesRemote
from tests.unit.nemesis.test_faults import FakeTarget, RecordingRemote

NODES = ["n1", "n2", "n3", "n4", "n5"]
ADDR = {n: f"10.77.0.{11 + i}" for i, n in enumerate(NODES)}


class Remote(FakeIptablesRemote, RecordingRemote):
    def __init__(self):
        FakeIptablesRemote.__init__(self)
        RecordingRemote.__init__(self)


def packages(names, seed=1, options=None, target=None):
    ctx = NemesisContext(Remote(), target or FakeTarget(), NODES, ADDR, seed=seed)
    return registry.build_packages(registry.parse_names(names), ctx, options)


def fault_ops(names, seed, concurrency=1, seconds=60):
    gen = time_limit(seconds, schedule(packages(names), interval=5, concurrency=concurrency))
    return [op for op in simulate(gen, concurrency=1, seed=seed) if op.type == "invoke"]


def triples(ops):
    return [(op.type, op.f, op.value) for op in ops]


def test_same_seed_same_fault_sequence_and_another_seed_differs():
    names = "partition,pause,kill,loss,clock"
    assert triples(fault_ops(names, seed=3)) == triples(fault_ops(names, seed=3))
    assert triples(fault_ops(names, seed=3)) != triples(fault_ops(names, seed=4))


def test_every_scheduled_op_names_its_fault_and_phase():
    ops = fault_ops("partition,pause,kill,loss,clock,strobe", seed=2, seconds=200)
    assert ops and all(op.extra["fault"] in registry.faults() for op in ops)
    for op in ops:
        spec = registry.get(op.extra["fault"])
        if op.extra["phase"] == "stop":
            assert op.f == spec.stop
        else:
            assert op.f == spec.start and op.extra["phase"] == ("pulse" if spec.pulse else "start")


def test_every_fault_is_stopped_before_the_next_round_starts():
    active = set()
    for op in fault_ops("partition,pause,kill,strobe", seed=9, seconds=120):
        fault, phase = op.extra["fault"], op.extra["phase"]
        if phase in ("start", "pulse"):
            assert not active, f"{fault} began while {active} was still active"
            if phase == "start":
                active.add(fault)
        else:
            active.discard(fault)


def test_concurrency_two_has_two_different_faults_active_at_once():
    seq = [op for op in fault_ops("partition,pause,kill,loss", seed=5, concurrency=2, seconds=120)]
    pairs = [
        (a.extra["fault"], b.extra["fault"])
        for a, b in zip(seq, seq[1:], strict=False)
        if a.extra["phase"] == b.extra["phase"] == "start"
    ]
    assert pairs and all(a != b for a, b in pairs)


def test_final_generator_stops_every_package_even_a_pulse():
    pkgs = packages("partition,strobe")
    ops = [
        op for op in simulate(final_generator(pkgs), concurrency=1, seed=1) if op.type == "invoke"
    ]
    assert [(op.f, op.extra.get("fault"), op.extra.get("phase")) for op in ops] == [
        ("stop-partition", "partition", "stop"),
        ("reset", "strobe", "stop"),
        ("heal", None, None),  # then every package heals again, whatever is left
    ]
    assert schedule([], interval=1) is None and final_generator([]) is None


def test_final_heal_resumes_processes_then_the_network_then_clocks_then_node_calls():
    """Cleared before the pause ended, a stall on a paused leader timed out and outlived
    the heal (issue 25): whatever the order given, processes come back first."""
    pkgs = packages("stall,clock,loss,pause,partition,kill")
    ops = [op for op in simulate(final_generator(pkgs), concurrency=1, seed=1) if op.type == "invoke"]
    assert [op.extra.get("fault") for op in ops] == [
        "pause", "kill", "loss", "partition", "clock", "stall", None,
    ]


class PausedAnswerNothing(FakeTarget):
    """A paused node does not answer its admin endpoint: clearing its faults fails,
    as POST /admin/fault/clear times out on a SIGSTOPped process."""

    def __init__(self):
        super().__init__(SignalsPause(self))
        self.paused = set()

    def clear_faults(self, test, node):
        if node in self.paused:
            raise TimeoutError(f"{node}: POST /admin/fault/clear failed: timed out")
        super().clear_faults(test, node)


class SignalsPause(RecordingRemote):
    def __init__(self, target):
        super().__init__()
        self.target = target

    def signal(self, node, pid, sig):
        super().signal(node, pid, sig)
        import signal as s

        (self.target.paused.add if sig == s.SIGSTOP else self.target.paused.discard)(node)


def test_a_stall_armed_on_a_paused_leader_is_cleared_by_the_final_heal():
    target = PausedAnswerNothing()
    ctx = NemesisContext(target.remote, target, NODES, ADDR, seed=1)
    pkgs = registry.build_packages(["stall", "pause"], ctx, None)
    nem = ComposedNemesis(pkgs)
    nem.invoke(None, Op(0, 0, "nemesis", "invoke", "start-app-fault",
                        {"kind": "stall", "service": "saga", "op": "ship", "role": "leader"},
                        extra={"fault": "stall"}))
    nem.invoke(None, Op(1, 0, "nemesis", "invoke", "start-pause", {"role": "leader"},
                       extra={"fault": "pause"}))
    assert target.faults and target.paused == {"n2"}
    for op in simulate(final_generator(pkgs), concurrency=1, seed=1):
        if op.type == "invoke":
            done = nem.invoke(None, op)
            assert "error" not in done.extra, done
    assert target.paused == set() and target.faults == {}


def test_unknown_nemesis_names_the_choices():
    with pytest.raises(ConfigError, match="partition"):
        registry.parse_names("partition,meteor")


def test_composed_nemesis_routes_and_heals_everything():
    pkgs = packages("partition,loss")
    nem = ComposedNemesis(pkgs)
    nem.invoke(None, Op(0, 0, "nemesis", "invoke", "start-partition", "halves"))
    nem.invoke(None, Op(1, 0, "nemesis", "invoke", "start-loss", {"probability": 0.5}))
    remote = pkgs[0].nemesis.net.remote
    assert any(pkgs[0].nemesis.net.drops(n) for n in NODES)
    nem.heal(None)
    assert all(
        line == "" for line in [remote.run(n, ["iptables", "-w", "-S"]).stdout for n in NODES]
    )


def test_composed_nemesis_routes_a_shared_op_by_its_fault():
    """lost-response and slow-response share stop-app-fault: each stop reaches its own nemesis."""
    target = FakeTarget()
    lost, slow = packages("lost-response,slow-response", target=target)
    nem = ComposedNemesis([lost, slow])
    start = lost.start(None)
    nem.invoke(
        None,
        Op(0, 0, "nemesis", "invoke", start["f"], {**start["value"], "node": "n1"}, extra=start),
    )
    assert lost.nemesis.active and not slow.nemesis.active
    nem.invoke(None, Op(1, 0, "nemesis", "invoke", "stop-app-fault", extra=dict(lost.stop)))
    assert not lost.nemesis.active and target.faults == {}


def test_partition_shape_option_fixes_the_shape_and_unsupported_shapes_are_refused():
    (pkg,) = packages("partition", options={"partition": {"shape": "majorities-ring"}})
    assert pkg.start(None)["value"] == "majorities-ring"
    ctx = NemesisContext(Remote(), object(), NODES, ADDR)
    with pytest.raises(ConfigError, match="isolate-leader"):
        registry.build_packages(["partition"], ctx, {"partition": {"shape": "isolate-leader"}})


def test_pause_aims_at_a_role_the_target_declares_and_refuses_others():
    class RoleTarget(FakeTarget):
        def roles(self):
            return ("leader",)

    (pkg,) = packages("pause", options={"pause": {"target": "leader"}}, target=RoleTarget())
    assert pkg.start(None)["value"] == {"role": "leader"}
    (pkg,) = packages("pause", options={"pause": {"target": "n4"}}, target=RoleTarget())
    assert pkg.start(None)["value"] == {"node": "n4"}
    with pytest.raises(
        ConfigError, match=r"pause.target=leader.*role the target declares \(none\)"
    ):
        packages("pause", options={"pause": {"target": "leader"}})  # FakeTarget declares no roles


def _scenario_fault_times(lead_in):
    from harness.assemble.faults import scenario_schedule
    from harness.targets.base import Scenario

    sc = Scenario("s", "s", "orders", (("kill", "start", None), 1.0, ("kill", "stop", None), 2.0),
                  {}, "proof", lead_in=lead_in)
    gen = time_limit(10, scenario_schedule(sc, packages("kill")))
    return [(round(op.time / 1e9, 1), op.extra["phase"]) for op in simulate(gen, concurrency=1) if op.type == "invoke"]


def test_a_scenarios_lead_in_delays_its_first_round_only():
    plain = _scenario_fault_times(0.0)
    assert plain[:4] == [(0.0, "start"), (1.0, "stop"), (3.0, "start"), (4.0, "stop")]
    led = _scenario_fault_times(2.5)
    # Shifted once by the lead-in: rounds still follow each other 3 s apart.
    assert led[:4] == [(2.5, "start"), (3.5, "stop"), (5.5, "start"), (6.5, "stop")]
