"""SSH hosts are asked only for what the target runs: python3 for the pipeline, nothing for etcd."""

from __future__ import annotations

import pytest

from harness.assemble.nodes import _check_host
from harness.core.errors import TargetError
from harness.core.protocols import Result
from harness.targets import get


class Host:
    """A host with sshd and no python3."""

    def __init__(self) -> None:
        self.ran: list[list[str]] = []

    def run(self, node, argv, *, timeout=60.0, check=True, stdin=None):
        self.ran.append(list(argv))
        if argv[0] == "python3":
            return Result(node, tuple(argv), 127, "", "sh: 1: python3: not found")
        return Result(node, tuple(argv), 0, "", "")


def test_a_host_without_python_is_refused_for_the_pipeline_naming_node_need_and_fix() -> None:
    host = Host()
    with pytest.raises(TargetError) as e:
        _check_host(host, "db1", get("pipeline").host_check)
    assert str(e.value).startswith("db1: this target needs python3 >= 3.11")
    assert "python3: not found" in str(e.value) and "fix: install it" in str(e.value)


def test_the_same_host_is_fine_for_etcd_which_runs_no_python() -> None:
    host = Host()
    assert get("etcd").host_check is None
    _check_host(host, "db1", get("etcd").host_check)
    assert host.ran == [["true"]]  # reached, and asked for nothing else
