"""The runner collects a consistent cut: live state first, then every node stopped, then files.

Issue 25: a clean run under nightly-orders was INVALID because the nodes were
copied one after another while the pipeline still worked. The shipping ledger
of the order's home was copied before the shipment landed, the store replicas
holding the saga record after ``ship: done`` was written: an effect recorded
with no effect anywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.runner import Test as RunTest
from harness.runner import _collect_all


class Store:
    def __init__(self, root: Path):
        self.root = root

    def nodes_dir(self, node: str) -> Path:
        return self.root / "nodes" / node


class WorkingSystem:
    """Two nodes; while running, the system ships the order between two copies: the
    shipment lands on n1 (the home), the saga record saying ``ship: done`` on n2."""

    def __init__(self) -> None:
        self.files = {"n1": "", "n2": "saga: ship started\n"}
        self.running = True
        self.calls: list[str] = []

    def setup(self, test: Any, node: str) -> None: ...

    def teardown(self, test: Any, node: str) -> None: ...

    def snapshot(self, test: Any, node: str, dst: Path) -> list[Path]:
        self.calls.append(f"snapshot {node} running={self.running}")
        return []

    def stop_all(self) -> None:
        self.calls.append("stop_all")
        self.running = False

    def collect(self, test: Any, node: str, dst: Path) -> list[Path]:
        self.calls.append(f"collect {node}")
        dst.mkdir(parents=True, exist_ok=True)
        (dst / "state").write_text(self.files[node])
        if self.running:  # time passes between two copies, and a running system acts
            self.files["n1"] += "shipping: shp-order-1\n"
            self.files["n2"] += "saga: ship done\n"
        return [dst / "state"]


def _collect(tmp_path: Path, target: Any) -> dict[str, str]:
    test = RunTest(spec=None, nodes=["n1", "n2"], remote=None, target=target, store=Store(tmp_path), addrs={})
    _collect_all(test)
    return {n: (tmp_path / "nodes" / n / "state").read_text() for n in ("n1", "n2")}


def test_no_effect_is_recorded_without_its_cause_in_the_collected_files(tmp_path: Path) -> None:
    system = WorkingSystem()
    files = _collect(tmp_path, system)
    shipped = "shp-order-1" in files["n1"]
    recorded_done = "ship done" in files["n2"]
    assert shipped == recorded_done, f"a torn cut: {files}"


def test_live_state_is_taken_while_running_and_files_once_every_node_is_stopped(tmp_path: Path) -> None:
    system = WorkingSystem()
    _collect(tmp_path, system)
    assert system.calls == [
        "snapshot n1 running=True",
        "snapshot n2 running=True",
        "stop_all",
        "collect n1",
        "collect n2",
    ]


def test_a_failing_stop_still_collects_every_node(tmp_path: Path) -> None:
    class StopFails(WorkingSystem):
        def stop_all(self) -> None:
            self.calls.append("stop_all")
            raise OSError("n2: kill: permission denied")

    system = StopFails()
    _collect(tmp_path, system)
    assert [c for c in system.calls if c.startswith("collect")] == ["collect n1", "collect n2"]
