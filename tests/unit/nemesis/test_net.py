import random

import pytest

from harness.core.op import Op
from nemesis.net import Drop, Net, chain_name
from nemesis.partition import PartitionNemesis, compute
from tests.unit.nemesis.fake_iptables import FakeIptablesRemote

ADDR = {f"n{i}": f"10.77.0.1{i}" for i in range(1, 6)}


def test_chain_names_are_prefixed_and_short():
    assert chain_name("n1") == "seam-n1"
    weird = chain_name("node with spaces;rm -rf/" * 3)
    assert weird.startswith("seam-") and len(weird) <= 28 and " " not in weird and ";" not in weird


def test_drop_rule_names_source_destination_and_probability():
    argv = Drop("10.0.0.1", "10.0.0.2", 0.5).argv("seam-n2")
    assert argv[-2:] == ["-j", "DROP"]
    assert ["-s", "10.0.0.1", "-d", "10.0.0.2"] == argv[4:8]
    assert "statistic" in argv and "0.5000" in argv
    with pytest.raises(ValueError):
        Drop("a", "b", 1.5).argv("seam-x")


def test_apply_then_heal_leaves_no_seam_rule():
    remote = FakeIptablesRemote()
    net = Net(remote, ADDR)
    net.drop_from("n1", ["n2", "n3"])
    assert len(net.drops("n1")) == 2
    assert ["-j", "seam-n1"] in remote.chains["n1"]["INPUT"]
    net.heal("n1")
    net.heal("n1")  # idempotent
    assert net.rules("n1") == []
    assert "seam-n1" not in remote.chains["n1"]
    assert remote.chains["n1"]["INPUT"] == []


def test_partition_nemesis_records_grudge_and_heals_everywhere():
    remote = FakeIptablesRemote()
    nodes = list(ADDR)
    nem = PartitionNemesis(Net(remote, ADDR), nodes, seed=7)
    op = Op(index=0, time=0, process="nemesis", type="invoke", f="start-partition", value="halves")
    done = nem.invoke(None, op)
    assert done.type == "info"
    expected = compute("halves", nodes, random.Random(7))
    assert done.value["grudge"] == {n: sorted(s) for n, s in expected.items() if s}
    dropped = sum(len(net_rules) for net_rules in (Net(remote, ADDR).drops(n) for n in nodes))
    assert dropped == sum(len(s) for s in expected.values())
    nem.invoke(None, Op(index=1, time=0, process="nemesis", type="invoke", f="stop-partition"))
    assert all(Net(remote, ADDR).rules(n) == [] for n in nodes)


def test_isolate_leader_needs_a_target_that_knows_the_leader():
    from harness.core.errors import UnsupportedError

    nem = PartitionNemesis(Net(FakeIptablesRemote(), ADDR), list(ADDR))
    op = Op(index=0, time=0, process="nemesis", type="invoke", f="start-partition", value="isolate-leader")
    with pytest.raises(UnsupportedError):
        nem.invoke(None, op)
