"""Target adapters: how Seam installs, starts and talks to a system under test.

An adapter implements ``Target`` (setup/teardown per node) and whichever
optional abilities the system has (``Killable``, ``Pausable``,
``HasLeader``, ``HasLogs``); nemeses ask with ``isinstance``. Each adapter
module also provides the clients its workloads use.

``TARGETS`` maps a name to "module:attribute", imported only when used.
"""

from __future__ import annotations

TARGETS: dict[str, str] = {
    "pipeline": "harness.targets.pipeline:PipelineTarget",
}
