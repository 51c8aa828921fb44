"""Pause, kill, clock and app nemeses against fake targets and a recording Remote.

The real thing (SIGSTOP state T, libfaketime, restarts) is proven in the
integration tests; here we check bookkeeping: what is applied is recorded
first, and heal undoes exactly that, once.
"""

import signal
from pathlib import Path

import pytest

from harness.control.daemon import SignalPause
from harness.core.errors import NemesisError, TargetError, UnsupportedError
from harness.core.op import Op
from nemesis.app import AppFaultNemesis
from nemesis.clock import ClockNemesis, offset_text, write_offset
from nemesis.kill import KillNemesis
from nemesis.pause import PauseNemesis
from nemesis.state import FaultLedger, outstanding

NODES = ["n1", "n2", "n3"]


class RecordingRemote:
    def __init__(self):
        self.signals = []
        self.files = {}

    def signal(self, node, pid, sig):
        self.signals.append((node, pid, sig))

    def alive(self, node, pid):
        return True

    def upload(self, node, src, dst):
        self.files[(node, dst)] = Path(src).read_text()


class FakeTarget(SignalPause):
    """Pauses by signal through its own Remote (the real mixin) and skews by offset file."""

    def __init__(self, remote=None):
        self.remote = remote or RecordingRemote()
        self.started, self.killed, self.faults = [], [], {}

    def pids(self, test, node, role=None):
        return [100 + NODES.index(node)]

    def leader(self, test):
        return "n2"

    def kill(self, test, node, role=None):
        self.killed.append(node)
        return [100 + NODES.index(node)]

    def start(self, test, node, role=None):
        self.started.append(node)

    def skew_clock(self, test, node, seconds):
        write_offset(self.remote, node, f"/data/{node}/faketime", seconds)

    def inject_fault(self, test, node, fault):
        self.faults.setdefault(node, []).append(dict(fault))

    def clear_faults(self, test, node):
        self.faults.pop(node, None)


def nem_op(f, value=None):
    return Op(index=0, time=0, process="nemesis", type="invoke", f=f, value=value)


def test_pause_leader_stops_then_continues_and_ledger_is_clean(tmp_path):
    remote, ledger = RecordingRemote(), FaultLedger(tmp_path / "nemesis.jsonl")
    nem = PauseNemesis(remote, FakeTarget(remote), NODES, ledger=ledger)
    done = nem.invoke(None, nem_op("start-pause", {"role": "leader"}))
    assert done.value["node"] == "n2" and remote.signals == [("n2", 101, signal.SIGSTOP)]
    assert [f.node for f in outstanding(tmp_path / "nemesis.jsonl")] == ["n2"]
    nem.invoke(None, nem_op("stop-pause"))
    nem.heal(None)  # idempotent: nothing left to continue
    assert remote.signals[1:] == [("n2", 101, signal.SIGCONT)]
    assert outstanding(tmp_path / "nemesis.jsonl") == []


def test_pause_refuses_a_target_that_cannot_pause():
    with pytest.raises(UnsupportedError, match="Pausable"):
        PauseNemesis(RecordingRemote(), object(), NODES)


def test_kill_then_heal_restarts_exactly_what_was_killed(tmp_path):
    target = FakeTarget()
    nem = KillNemesis(target, NODES, ledger=FaultLedger(tmp_path / "l.jsonl"))
    nem.invoke(None, nem_op("kill", {"node": "n3"}))
    nem.heal(None)
    nem.heal(None)
    assert target.killed == ["n3"] and target.started == ["n3"]
    assert outstanding(tmp_path / "l.jsonl") == []


def test_clock_bump_writes_offset_and_heal_resets_every_node():
    remote = RecordingRemote()
    nem = ClockNemesis(remote, FakeTarget(remote), NODES, sleep=lambda s: None)
    nem.invoke(None, nem_op("bump", {"node": "n1", "seconds": -30}))
    assert remote.files[("n1", "/data/n1/faketime")] == "-30s\n"
    nem.heal(None)
    assert all(remote.files[(n, f"/data/{n}/faketime")] == "+0s\n" for n in NODES)


def test_clock_strobe_flips_and_ends_reset():
    remote = RecordingRemote()
    nem = ClockNemesis(remote, FakeTarget(remote), NODES, sleep=lambda s: None)
    done = nem.invoke(None, nem_op("strobe", {"node": "n2", "seconds": 5, "period": 1, "duration": 4}))
    assert done.value["flips"] == 4
    assert remote.files[("n2", "/data/n2/faketime")] == "+0s\n"
    assert offset_text(2.5) == "+2.5s" and offset_text(-3) == "-3s"


def test_app_fault_injects_and_clears(tmp_path):
    target = FakeTarget()
    nem = AppFaultNemesis(target, NODES)
    nem.invoke(None, nem_op("start-app-fault", {"kind": "lost-response", "service": "payment", "op": "refund", "node": "n1"}))
    assert target.faults["n1"][0]["op"] == "refund"
    nem.invoke(None, nem_op("stop-app-fault"))
    assert target.faults == {}
    with pytest.raises(ValueError, match="unknown application fault"):
        nem.invoke(None, nem_op("start-app-fault", {"kind": "melt"}))


def test_app_fault_aimed_at_the_leader_acts_on_that_node_only():
    target = FakeTarget()
    nem = AppFaultNemesis(target, NODES)
    done = nem.invoke(None, nem_op("start-app-fault", {"kind": "stall", "service": "saga", "op": "ship",
                                                       "role": "leader"}))
    assert done.value["nodes"] == [target.leader(None)] and set(target.faults) == {target.leader(None)}
    assert "role" not in target.faults[target.leader(None)][0]


def test_a_scenario_step_value_replaces_the_drawn_aim_and_keeps_the_options():
    from harness.assemble.faults import _aimed

    drawn = {"type": "info", "f": "start-app-fault",
             "value": {"kind": "stall", "service": "saga", "op": "ship", "count": 0, "seconds": 8.0, "node": "n3"}}
    op = _aimed(drawn, {"role": "leader"})
    assert op["value"] == {"kind": "stall", "service": "saga", "op": "ship", "count": 0, "seconds": 8.0,
                           "role": "leader"}
    assert _aimed({"f": "bump", "value": {"node": "n2", "seconds": 4}}, {"seconds": 30})["value"] == {
        "node": "n2", "seconds": 30}


class FlakyTarget(FakeTarget):
    """n3 is down: arming and clearing it fail, as a killed node's admin endpoint would."""

    def __init__(self):
        super().__init__()
        self.down = {"n3"}

    def inject_fault(self, test, node, fault):
        if node in self.down:
            raise TargetError(f"{node}: POST /admin/fault failed: connection refused")
        super().inject_fault(test, node, fault)

    def clear_faults(self, test, node):
        if node in self.down:
            raise TargetError(f"{node}: POST /admin/fault/clear failed: connection refused")
        super().clear_faults(test, node)


def test_a_down_node_neither_stops_arming_nor_healing_the_others(tmp_path):
    target = FlakyTarget()
    ledger = FaultLedger(tmp_path / "nemesis.jsonl")
    nem = AppFaultNemesis(target, NODES, ledger=ledger)
    done = nem.invoke(None, nem_op("start-app-fault", {"kind": "crash", "service": "events", "op": "consume"}))
    assert done.value["nodes"] == [n for n in NODES if n != "n3"] and "n3" in done.value["missed"]
    with pytest.raises(NemesisError, match="n3"):
        nem.heal(None)
    assert target.faults == {} and [f.node for f in nem.active] == ["n3"]  # every other node cleared
    assert [f.node for f in ledger.outstanding()] == ["n3"]
    target.down.clear()
    nem.heal(None)
    assert nem.active == [] and ledger.outstanding() == []


def test_outstanding_ignores_a_torn_last_line(tmp_path):
    path = tmp_path / "nemesis.jsonl"
    ledger = FaultLedger(path)
    from nemesis.state import Fault

    ledger.applied(Fault("pause", "n1", {"pids": [5]}))
    with open(path, "a") as f:
        f.write('{"event": "healed", "kind": "pa')
    assert [f.node for f in outstanding(path)] == ["n1"]


def test_heal_ledger_undoes_what_a_dead_control_node_left(tmp_path):
    from nemesis.heal import heal_ledger
    from nemesis.net import Net
    from tests.unit.nemesis.fake_iptables import FakeIptablesRemote

    class Remote(FakeIptablesRemote, RecordingRemote):
        def __init__(self):
            FakeIptablesRemote.__init__(self)
            RecordingRemote.__init__(self)

    remote = Remote()
    target, path = FakeTarget(remote), tmp_path / "nemesis.jsonl"
    ledger = FaultLedger(path)
    from nemesis.partition import PartitionNemesis

    addresses = {n: f"10.0.0.{i}" for i, n in enumerate(NODES, 1)}
    PartitionNemesis(Net(remote, addresses, tag="p"), NODES, ledger=ledger).invoke(None, nem_op("start-partition", "halves"))
    PauseNemesis(remote, target, NODES, ledger=ledger).invoke(None, nem_op("start-pause", {"node": "n3"}))
    ClockNemesis(remote, target, NODES, ledger=ledger).invoke(None, nem_op("bump", {"node": "n1", "seconds": 9}))
    KillNemesis(target, NODES, ledger=ledger).invoke(None, nem_op("kill", {"node": "n2"}))
    # the control node "dies" here: the nemesis objects are dropped without heal
    healed = heal_ledger(path, remote, target)
    assert {f.kind for f in healed} == {"partition", "pause", "clock", "kill"}
    assert all(remote.run(n, ["iptables", "-w", "-S"]).stdout == "" for n in NODES)
    assert ("n3", 102, signal.SIGCONT) in remote.signals
    assert remote.files[("n1", "/data/n1/faketime")] == "+0s\n"
    assert target.started == ["n2"]
    assert outstanding(path) == [] and heal_ledger(path, remote, target) == []


def test_crash_aims_at_the_leader_by_default_and_other_app_faults_at_every_node():
    import random

    from nemesis import registry
    from nemesis.spec import NemesisContext

    class LeaderTarget(FakeTarget):
        def roles(self):
            return ("leader",)

        def inject_fault(self, test, node, fault):  # HasAppFaults
            super().inject_fault(test, node, fault)

    target = LeaderTarget()
    ctx = NemesisContext(RecordingRemote(), target, NODES, {n: n for n in NODES})
    resolved = registry.resolve_options(["crash", "down"], {})
    crash, down = (registry.get(f).build(ctx, resolved[f]) for f in ("crash", "down"))
    op = crash.start(random.Random(1))
    assert op["value"]["role"] == "leader"
    done = crash.nemesis.invoke(None, nem_op(op["f"], op["value"]))
    assert done.value["nodes"] == ["n2"] and set(target.faults) == {"n2"}
    assert "node" not in down.start(random.Random(1))["value"] and "role" not in down.start(random.Random(1))["value"]
