"""The runner's own logic: option checks, Ctrl-C escalation, the status line."""

from __future__ import annotations

import pytest

from harness.assemble import check_spec
from harness.core.errors import ConfigError
from harness.core.op import Op
from harness.runner import Progress, Stops
from harness.spec import TestSpec
from nemesis.combined import NoopNemesis


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"workload": "bank"}, "unknown workload 'bank' for target pipeline; known workloads: orders, register"),
        ({"target": "etcd-typo"}, "unknown target 'etcd-typo'; built-in targets: etcd, pipeline"),
        ({"target": "no.such.module"}, "cannot import no.such.module"),
        ({"bugs": ["weak-quorum", "typo"]}, "unknown bug 'typo'"),
        ({"nemesis": ["partition", "meteor"]}, "unknown nemesis meteor"),
        ({"nemesis_concurrency": 3}, "--nemesis-concurrency"),
        ({"concurrency": 0}, "--concurrency"),
    ],
)
def test_bad_options_fail_before_anything_starts(kwargs: dict, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        check_spec(TestSpec(**kwargs))


def test_known_bugs_and_no_nemesis_pass() -> None:
    check_spec(TestSpec(bugs=["weak-quorum", "no-write-back"], nemesis=["none"]))


def test_ctrl_c_escalates_main_then_hard_then_interrupt(capsys: pytest.CaptureFixture) -> None:
    stops = Stops()
    stops.press()
    assert stops.main.is_set() and not stops.hard.is_set()
    stops.press()
    assert stops.hard.is_set()
    with pytest.raises(KeyboardInterrupt):
        stops.press()
    err = capsys.readouterr().err
    assert "ending the main phase" in err and "stopping now" in err


def test_progress_counts_completions_and_shows_the_last_fault() -> None:
    p = Progress(enabled=False)
    for typ in ("invoke", "ok", "invoke", "fail", "invoke", "info"):
        p.count(Op(0, 0, 1, typ, "read", None))
    p.count(Op(0, 0, "nemesis", "info", "start-partition", None))
    assert p.total == 7 and p.counts == {"ok": 1, "fail": 1, "info": 1}
    line = p.line()
    assert "ops       3" in line and "ok 1  fail 1  info 1" in line and "start-partition info" in line


def test_the_noop_nemesis_refuses_ops_as_info() -> None:
    done = NoopNemesis().invoke(None, Op(0, 0, "nemesis", "invoke", "start-partition", None))
    assert done.type == "info" and "no nemesis" in done.extra["error"]


def test_iptables_nemeses_need_root(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(ConfigError, match="--nemesis partition needs root"):
        check_spec(TestSpec(nemesis=["kill", "partition"]))
    check_spec(TestSpec(nemesis=["kill", "pause"]))  # signals to our own processes: no root needed


class _Plan:
    """The little of a Plan that run_test itself calls."""

    def __init__(self, root):
        self.root = root
        self.failures: list[str] = []

    def open_store(self):
        from harness.store import RunStore

        return RunStore(self.root, "t")

    def record_test(self, store, addrs=None) -> None:
        pass

    def record_failure(self, store, error, run) -> None:
        self.failures.append(error)


@pytest.mark.parametrize("verdict_written", [True, False])
def test_a_signal_while_checking_keeps_a_verdict_already_written(verdict_written: bool, tmp_path, monkeypatch) -> None:
    """Cut short while the report renders, the run keeps its verdict and exit code; cut short
    before results.json, it failed without one (and says where the check was)."""
    import json
    import signal

    from harness import runner

    def checking_then_cut(plan, store, ui, stops):
        stops.stopped()
        if verdict_written:
            (store.path / "results.json").write_text(json.dumps({"valid": False, "exit_code": 1}))
        stops.receive(signal.SIGTERM)  # raises RunAborted, as the handler would
        raise AssertionError("not reached")

    monkeypatch.setattr(runner, "_run", checking_then_cut)
    plan = _Plan(tmp_path)
    outcome = runner.run_test(plan, progress=False, install_sigint=False)  # type: ignore[arg-type]
    if verdict_written:
        assert (outcome.valid, outcome.exit_code, plan.failures) == (False, 1, [])
    else:
        assert outcome.valid is None and outcome.exit_code == 3
        assert plan.failures and "SIGTERM while checking" in plan.failures[0]
        assert "the check was cut short in:" in (outcome.path / "seam.log").read_text()


def test_target_options_are_typed_and_checked_before_anything_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    """A target's --target-opt goes through its declared parser; unknown names and bad
    values are one ConfigError naming the option, what it accepts and the default."""
    from dataclasses import replace

    from harness.core.options import choice
    from harness.targets import get

    kind = replace(get("pipeline"), options=(choice("reads", ("linearizable", "serializable"), "linearizable",
                                                    "how reads are served"),))
    assert kind.resolved_options(TestSpec()) == {"reads": "linearizable"}
    assert kind.resolved_options(TestSpec(target_options={"reads": "serializable"})) == {"reads": "serializable"}
    with pytest.raises(ConfigError, match=r"reads=stale: 'stale' is not one of the choices; reads accepts one of "
                                          r"linearizable, serializable \(default linearizable\)"):
        kind.resolved_options(TestSpec(target_options={"reads": "stale"}))
    with pytest.raises(ConfigError, match=r"--target-opt \(target pipeline\) wal: no such option \(options: reads\)"):
        kind.resolved_options(TestSpec(target_options={"wal": "on"}))


def test_a_fault_the_target_refuses_is_one_line_before_anything_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    from harness import assemble
    from harness.targets import get

    refusing = replace(get("pipeline"), refuses={"clock": "a Go binary ignores libfaketime"})
    monkeypatch.setattr(assemble, "get", lambda name: refusing)
    with pytest.raises(ConfigError, match="--nemesis clock: target pipeline cannot take it: a Go binary ignores"):
        check_spec(TestSpec(nemesis=["clock"]))


def test_a_top_level_module_is_a_target_path_and_a_stored_run_finds_its_target_by_module() -> None:
    from harness.targets import get, of_run

    with pytest.raises(ConfigError, match=r"--target json: json.TARGET is not a harness.targets.TargetKind"):
        get("json")  # importable, so looked up as a module, not refused as an unknown name
    assert of_run({"target": {"name": "renamed", "module": "etcd"}}).name == "etcd"
    assert of_run({"target": {"name": "etcd"}}).name == "etcd"
    assert of_run({}).name == "pipeline"
