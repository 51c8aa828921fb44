"""TestSpec: every option of one run, as plain data.

The spec is what ``seam test`` parsed, before anything touched a node. It
is written to ``test.json`` so a run can be understood (and re-run with the
same seed) from its directory alone. ``validate`` checks what can be checked
without the network and raises ``ConfigError`` with the option name and
the fix; names of workloads, nemeses and bugs are checked by the registries
that know them (``harness.workloads``, the nemesis registry, target/bugs).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.core.errors import ConfigError

CLUSTER_KINDS = ("local", "netns", "ssh")
_NODE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")


@dataclass
class TestSpec:
    """Every option of a run. Defaults are those of ``seam test``."""

    __test__ = False  # not a pytest test class, despite the name

    workload: str = "register"
    name: str = ""  # the results directory name; defaults to the workload (target-workload off the pipeline)
    target: str = "pipeline"  # a built-in target (harness/targets/<name>/) or a module path
    target_options: dict[str, Any] = field(default_factory=dict)  # --target-opt NAME=V, as given
    nemesis: list[str] = field(default_factory=list)
    nemesis_options: dict[str, dict[str, Any]] = field(default_factory=dict)  # fault -> option -> value
    nemesis_interval: float = 5.0  # seconds between a fault's start and its stop, and between faults
    nemesis_concurrency: int = 1  # faults active at once (2: e.g. a paused leader during packet loss)
    time_limit: float = 30.0
    concurrency: int = 10
    rate: float = 100.0  # ops/s over all client processes; 0 = as fast as possible
    seed: int = 0
    cluster: str = "local"
    node_count: int = 5
    nodes: list[str] = field(default_factory=list)  # ssh hosts, or names for local/netns
    nodes_file: str | None = None
    username: str | None = None
    ssh_key: str | None = None
    ssh_port: int = 22
    ssh_insecure: bool = False
    ssh_sudo: bool = False
    known_hosts: str | None = None
    subnet: str = "10.77.0.0/24"  # netns: the private subnet (documented default of `seam cluster`)
    cluster_prefix: str = "seam"  # netns: names seam-n1.., seam-br0; another prefix runs a second cluster
    cluster_state: str | None = None  # netns: state directory (default results/.cluster, or .cluster-<prefix>)
    bugs: list[str] = field(default_factory=list)
    scenario: str | None = None
    results: str = "results"
    op_timeout: float = 5.0  # a client call slower than this is recorded as info
    recovery_time: float | None = None  # quiet time after the final heal; None = the workload's default
    keys: int = 8  # register: distinct keys in the independent workload
    replication: tuple[int, int, int] = (3, 2, 2)  # N, W, R of the quorum store
    base_port: int = 0  # node i listens on base_port + i; 0 = 7100, or for local the first free hundred
    demo: bool = False

    def __post_init__(self) -> None:
        if not self.name:
            self.name = self.workload if self.target == "pipeline" else f"{self.target.split(':')[0].rpartition('.')[2]}-{self.workload}"
        self.replication = tuple(self.replication)  # type: ignore[assignment]

    def validate(self) -> TestSpec:
        """Raise ConfigError naming the option and the fix; return self when fine."""
        if self.cluster not in CLUSTER_KINDS:
            raise ConfigError(f"--cluster {self.cluster!r}: expected one of {', '.join(CLUSTER_KINDS)}")
        _positive("--time-limit", self.time_limit)
        _positive("--concurrency", self.concurrency)
        _positive("--op-timeout", self.op_timeout)
        _positive("--nemesis-interval", self.nemesis_interval)
        if self.nemesis_concurrency not in (1, 2):
            raise ConfigError(f"--nemesis-concurrency {self.nemesis_concurrency}: choose 1 or 2")
        if self.rate < 0:
            raise ConfigError(f"--rate {self.rate}: must be >= 0 (0 means as fast as possible)")
        if self.recovery_time is not None and self.recovery_time < 0:
            raise ConfigError(f"--recovery-time {self.recovery_time}: must be >= 0")
        if not 0 <= self.base_port <= 65000:
            raise ConfigError(f"--base-port {self.base_port}: choose 1024..65000 (0 = automatic)")
        if self.keys < 1:
            raise ConfigError(f"--keys {self.keys}: need at least one key")
        if self.cluster != "ssh":
            if self.node_count < 1 or self.node_count > 50:
                raise ConfigError(f"--node-count {self.node_count}: choose 1..50")
        elif not self.nodes:
            raise ConfigError("--cluster ssh needs --nodes host1,host2,... or --nodes-file FILE")
        for node in self.nodes:
            if not _NODE_NAME.match(node):
                raise ConfigError(f"node {node!r}: not a host name; use letters, digits, '.', '-', ':' (e.g. n1 or 10.0.0.5)")
        if len(set(self.nodes)) != len(self.nodes):
            raise ConfigError(f"--nodes lists a node twice: {','.join(self.nodes)}")
        return self

    def cluster_size(self) -> int:
        """How many nodes the run has: the hosts or names given, else --node-count."""
        return len(self.nodes) or self.node_count

    def node_names(self) -> list[str]:
        """Names of the nodes: --nodes as given, else n1..nN."""
        return list(self.nodes) if self.nodes else [f"n{i}" for i in range(1, self.node_count + 1)]

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["replication"] = list(self.replication)
        return d

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TestSpec:
        """Rebuild a spec from test.json (unknown keys are ignored: newer versions add some)."""
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


def _positive(option: str, value: float) -> None:
    if not value > 0:
        raise ConfigError(f"{option} {value}: must be greater than 0")


def read_nodes_file(path: str | Path) -> list[str]:
    """One host per line; '#' starts a comment; blank lines are skipped.

    Garbage (a line with spaces inside, a name with shell characters) is a
    ConfigError naming the file and the line.
    """
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        raise ConfigError(f"--nodes-file {p}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"--nodes-file {p}: not a text file; write one host name per line") from None
    nodes: list[str] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        if not _NODE_NAME.match(entry):
            raise ConfigError(f"{p}:{lineno}: {entry[:60]!r} is not a host name; write one host per line (e.g. n1 or 10.0.0.5)")
        nodes.append(entry)
    if not nodes:
        raise ConfigError(f"--nodes-file {p}: no hosts in it; write one host per line")
    return nodes
