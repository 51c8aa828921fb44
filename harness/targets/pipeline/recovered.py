"""What ``seam heal`` needs of the pipeline adapter, rebuilt from a stored run.

After a control-node crash the adapter object is gone; ``test.json`` holds
every node's URL and run directory, and each node's ``node.json`` its admin
secret. Heal needs only ``Killable.start`` (restart a killed node) and
``HasAppFaults.clear_faults``, each idempotent against what is really there.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from harness.core.errors import TargetError
from harness.core.placement import NodeAddr
from harness.core.protocols import Remote, Test
from harness.targets.pipeline.adapter import PipelineTarget, http_json

Report = Callable[[str], None]


class RecoveredTarget:
    """The part of a run's target that heal needs (Killable.start, Pausable.resume,
    Skewable.skew_clock, HasAppFaults.clear_faults).

    Both are idempotent against what is really there: ``start`` does nothing
    when the node already answers, and ``clear_faults`` does nothing when the
    node process is down (its faults lived in its memory). The admin secret
    is read from the node's own node.json.
    """

    def __init__(self, remote: Remote, addrs: Mapping[str, NodeAddr], options: dict[str, Any],
                 report: Report = lambda line: None):
        self.report = report
        replication = tuple(options.get("replication") or (3, 2, 2))
        self.pipeline = PipelineTarget(
            remote,
            dict(addrs),
            replication=replication,  # type: ignore[arg-type]
            bugs=options.get("bugs") or [],
            seed=int(options.get("seed") or 1),
            skew=bool(options.get("skew")),
        )
        self.remote = remote
        self._secret_read = False

    def _answers(self, node: str) -> dict[str, Any] | None:
        a = self.pipeline.addrs[node]
        try:
            status, body = http_json(a.address, a.port, "GET", "/health", timeout=1.0)
        except OSError:
            return None
        return body if status == 200 else None

    def start(self, test: Test | None, node: str, role: str | None = None) -> None:
        health = self._answers(node)
        if health is not None:
            self.report(f"{node} already serves (pid {health.get('pid')}); nothing to restart")
            return
        self.pipeline.start(test, node, role)
        self.pipeline.wait_ready([node])
        pids = self.pipeline.pids(test, node)
        # The runner's format, so tools that stop a run's processes by pid find this one too.
        self.report(f"started {node}: pid {pids[0] if pids else '?'}")

    def pause(self, test: Test | None, node: str, role: str | None = None) -> dict[str, Any] | None:
        return self.pipeline.pause(test, node, role)

    def resume(self, test: Test | None, node: str, paused: Mapping[str, Any]) -> None:
        """Thaw the node's process (the pids recorded, or whatever its pid file names)."""
        self.pipeline.resume(test, node, paused)

    def skew_clock(self, test: Test | None, node: str, seconds: float) -> None:
        """Rewrite the node's offset file, which its process reads (heal: back to +0s)."""
        self.pipeline.skew_clock(test, node, seconds)

    def clear_faults(self, test: Test | None, node: str) -> None:
        if self._answers(node) is None:
            self.report(f"{node} is down, so its application faults went with it")
            return
        self._read_secret(node)
        self.pipeline.clear_faults(test, node)

    def _read_secret(self, node: str) -> None:
        if self._secret_read:
            return
        workdir = self.pipeline.addrs[node].workdir
        with tempfile.TemporaryDirectory(prefix="seam-heal-") as tmp:
            local = Path(tmp) / "node.json"
            self.remote.download(node, f"{workdir}/node.json", local)
            try:
                self.pipeline.admin_secret = json.loads(local.read_text())["admin_secret"]
            except (ValueError, KeyError) as e:
                raise TargetError(
                    f"{node}: {workdir}/node.json has no admin_secret ({e}); cannot clear its faults"
                ) from None
        self._secret_read = True
