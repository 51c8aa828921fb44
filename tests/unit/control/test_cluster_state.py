"""Two clusters started from one directory keep their state apart (a run on prefix seamx
once tore down the namespaces of a run on prefix seamy through a shared state.json)."""

from __future__ import annotations

import json

import pytest

from harness.control import cluster as cl
from harness.control.cluster import ClusterError, NetnsCluster


def test_each_prefix_has_its_own_default_state_directory(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SEAM_STATE_DIR", raising=False)
    default, other = NetnsCluster(prefix="seam"), NetnsCluster(prefix="seamx")
    assert default.state_dir == tmp_path / "results" / ".cluster"
    assert other.state_dir == tmp_path / "results" / ".cluster-seamx"
    assert NetnsCluster.from_state(prefix="seamx").state_dir == other.state_dir


def test_up_refuses_to_remove_another_prefixs_running_cluster(tmp_path, monkeypatch) -> None:
    """A shared --cluster-state naming a live cluster of another prefix: refused, not removed."""
    (tmp_path / "state.json").write_text(json.dumps({"prefix": "seamy", "subnet": "10.90.0.0/24", "nodes": 2}))
    removed: list[dict] = []
    monkeypatch.setattr(cl, "require_root", lambda: None)
    monkeypatch.setattr(cl, "require_ip", lambda: None)
    monkeypatch.setattr(cl, "check_subnet_free", lambda *a: None)
    monkeypatch.setattr(cl, "namespaces", lambda: ["seamy-n1", "seamy-n2"])
    monkeypatch.setattr(NetnsCluster, "_down_from_state", lambda self, state: removed.append(state))
    with pytest.raises(ClusterError, match=r"records the running cluster 'seamy', not 'seamx'.*--cluster-state"):
        NetnsCluster(nodes=2, subnet="10.91.0.0/24", state_dir=tmp_path, prefix="seamx").up()
    assert removed == []


def test_status_without_a_prefix_finds_the_one_cluster_recorded_or_asks_which(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SEAM_STATE_DIR", raising=False)
    for prefix in ("seamx", "seamy"):
        d = tmp_path / "results" / f".cluster-{prefix}"
        d.mkdir(parents=True)
        (d / "state.json").write_text(json.dumps({"prefix": prefix, "subnet": "10.90.0.0/24", "nodes": 2}))
        if prefix == "seamx":
            assert NetnsCluster.from_state().prefix == "seamx"  # the only one: found
    with pytest.raises(ClusterError, match=r"several clusters .*seamx, seamy.*--prefix"):
        NetnsCluster.from_state()


def test_an_explicit_state_dir_is_used_as_given_for_every_prefix(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SEAM_STATE_DIR", str(tmp_path / "state"))
    assert NetnsCluster(prefix="seamx").state_dir == tmp_path / "state"
