"""Role `home`: the home replica of a key the clients used lately."""

from __future__ import annotations

import random

from harness.core.op import Op
from harness.targets.pipeline.adapter import PipelineTarget, recent_keys
from nemesis.aim import pick_node
from target.store import placement

NODES = ["n1", "n2", "n3", "n4", "n5"]


def op(i: int, value: object, process: object = 0) -> Op:
    return Op(i, i, process, "invoke", "write", value)


def test_recent_keys_are_register_keys_and_order_keys_newest_first() -> None:
    history = [op(0, ["k1-0", 3]), op(1, {"order_id": "order-9"}), op(2, ["k0-0", 1]),
               op(3, {"node": "n2"}, process="nemesis"), op(4, ["k1-0", 5])]
    assert recent_keys(history) == ["k1-0", "k0-0", "order:order-9"]
    assert recent_keys(history, last=2) == ["k1-0"]


def test_a_fault_aimed_at_home_lands_on_the_home_replica_of_a_key_in_use() -> None:
    target = PipelineTarget(None, {n: None for n in NODES})  # type: ignore[arg-type]

    class Test:
        history = [op(0, ["k3-1", 0]), op(1, ["k3-1", 2])]

    node = pick_node({"role": "home"}, NODES, target, Test(), random.Random(1))
    assert node == placement("k3-1", NODES, 1)[0]
    before_any = pick_node({"role": "home"}, NODES, target, type("T", (), {"history": []})(), random.Random(1))
    assert before_any in NODES
