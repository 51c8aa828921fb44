"""TestSpec validation, JSON round trip, and nodes files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.core.errors import ConfigError
from harness.spec import TestSpec, read_nodes_file


def test_defaults_validate_and_round_trip_through_json() -> None:
    spec = TestSpec(workload="register", seed=42, bugs=["weak-quorum"], nemesis=["partition"]).validate()
    assert spec.name == "register"
    data = json.loads(json.dumps(spec.to_json()))
    assert data["seed"] == 42 and data["replication"] == [3, 2, 2]
    again = TestSpec.from_json({**data, "added-by-a-newer-version": 1})
    assert again == spec


def test_node_names_default_to_n1_to_nN() -> None:
    assert TestSpec(node_count=3).node_names() == ["n1", "n2", "n3"]
    assert TestSpec(cluster="ssh", nodes=["h1", "h2", "h3"]).node_names() == ["h1", "h2", "h3"]


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"cluster": "docker"}, "--cluster"),
        ({"time_limit": 0}, "--time-limit"),
        ({"concurrency": 0}, "--concurrency"),
        ({"rate": -1}, "--rate"),
        ({"cluster": "ssh"}, "--nodes"),
        ({"cluster": "ssh", "nodes": ["h1", "h1", "h2"]}, "twice"),
        ({"cluster": "ssh", "nodes": ["h1", "h 2", "h3"]}, "not a host name"),
    ],
)
def test_bad_options_name_the_option(kwargs: dict, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        TestSpec(**kwargs).validate()


def test_topology_is_the_targets_to_check_not_the_specs() -> None:
    """A 2-node cluster is fine in general; the pipeline's quorum store (N=3) refuses it."""
    from harness.assemble import check_spec

    TestSpec(node_count=2).validate()
    with pytest.raises(ConfigError, match="target pipeline: replication N=3 needs at least 3 nodes"):
        check_spec(TestSpec(node_count=2))
    with pytest.raises(ConfigError, match="W and R"):
        check_spec(TestSpec(replication=(3, 4, 2)))


def test_nodes_file_skips_comments_and_blank_lines(tmp_path: Path) -> None:
    f = tmp_path / "nodes"
    f.write_text("# my cluster\n10.0.0.5\n\nnode-2.example  # second\n")
    assert read_nodes_file(f) == ["10.0.0.5", "node-2.example"]


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("n1\nrm -rf /\n", ":2: 'rm -rf /' is not a host name"),
        ("# nothing\n\n", "no hosts"),
    ],
)
def test_nodes_file_garbage_names_file_and_line(tmp_path: Path, content: str, fragment: str) -> None:
    f = tmp_path / "nodes"
    f.write_text(content)
    with pytest.raises(ConfigError, match=fragment.replace("(", r"\(")):
        read_nodes_file(f)


def test_nodes_file_binary_or_missing(tmp_path: Path) -> None:
    f = tmp_path / "nodes"
    f.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match="not a text file"):
        read_nodes_file(f)
    with pytest.raises(ConfigError, match="No such file"):
        read_nodes_file(tmp_path / "missing")
