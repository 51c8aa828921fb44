"""The fault registry: declarations found by discovery, options, applicability, heal dispatch."""

from __future__ import annotations

import ast
import random
from pathlib import Path

import pytest

from harness.core.errors import ConfigError, UnsupportedError
from harness.core.op import Op
from nemesis import registry
from nemesis.spec import FaultSpec, MootEnv, NemesisContext
from nemesis.state import Fault
from tests.unit.nemesis.fake_iptables import FakeIptablesRemote
from tests.unit.nemesis.test_faults import FakeTarget

NEMESIS_DIR = Path(registry.__file__).parent
NODES = ["n1", "n2", "n3"]
ADDR = {n: f"10.77.0.{11 + i}" for i, n in enumerate(NODES)}


def test_every_fault_declares_colour_ops_kind_and_options_with_defaults():
    faults = registry.faults()
    assert {
        "partition",
        "loss",
        "pause",
        "kill",
        "clock",
        "strobe",
        "lost-response",
        "slow-response",
    } <= set(faults)
    for name, spec in faults.items():
        assert isinstance(spec, FaultSpec) and spec.name == name
        assert spec.summary and spec.needs and spec.kind and spec.start
        assert spec.colour.startswith("#") and len(spec.colour) == 7, name
        assert spec.stop is not None or spec.pulse
        assert spec.options, f"{name} has no options"
        for opt in spec.options:
            assert opt.help and opt.accepts, f"{name}.{opt.name}"
            # the default, written as a user would, parses back to itself
            assert opt.parse(registry._text(opt.default)) == opt.default, f"{name}.{opt.name}"


def test_colours_are_distinct():
    colours = [s.colour for s in registry.faults().values()]
    assert len(set(colours)) == len(colours)


def test_faults_that_share_a_ledger_kind_share_undo_and_moot():
    by_kind: dict[str, FaultSpec] = {}
    for spec in registry.faults().values():
        first = by_kind.setdefault(spec.kind, spec)
        assert (spec.undo, spec.moot) == (first.undo, first.moot), f"{spec.name} vs {first.name}"


def _string_literals(path: Path) -> set[str]:
    """Every string constant in a module's source (docstrings and f-string parts included)."""
    tree = ast.parse(path.read_text(), str(path))
    return {
        n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    }


def test_each_fault_name_is_written_in_exactly_one_module_of_nemesis():
    """What a fault is lives in its own module: no table elsewhere names it."""
    literals = {p.name: _string_literals(p) for p in sorted(NEMESIS_DIR.glob("*.py"))}
    for name in registry.faults():
        holders = [module for module, strings in literals.items() if name in strings]
        assert len(holders) == 1, f"{name!r} is written in {holders}"


def test_parse_options_fills_defaults_and_parses_values():
    got = registry.parse_options(
        ["partition", "loss", "clock"],
        ["partition.shape=majorities-ring", "loss.p=0.3", "clock.max-skew=2m"],
    )
    assert got == {
        "partition": {"shape": "majorities-ring"},
        "loss": {"p": 0.3},
        "clock": {"max-skew": 120.0, "target": "random"},
    }
    assert registry.parse_options(["loss"], []) == {"loss": {"p": 0.2}}


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("loss.p=1.5", r"loss.p=1.5: 1.5 is outside 0 < p <= 1; it accepts .* \(default 0.2\)"),
        ("loss.p=lots", r"'lots' is not a number"),
        ("loss.q=1", r"loss has no option 'q'; its options: p"),
        ("partition.shape=round", r"one of any, halves, .*\(default any\)"),
        ("clock.max-skew=-3s", r"clock.max-skew=-3s: .* \(default 30\)"),
        ("pause.target=leader", r"pause is not among --nemesis loss,partition,clock"),
        ("meteor.size=9", r"unknown nemesis 'meteor'"),
        ("loss", r"write FAULT.OPTION=VALUE"),
    ],
)
def test_parse_options_rejects_with_the_option_what_it_accepts_and_the_default(assignment, message):
    with pytest.raises(ConfigError, match=message):
        registry.parse_options(["loss", "partition", "clock"], [assignment])


def test_resolve_options_validates_values_from_a_stored_spec_too():
    assert registry.resolve_options(["loss"], {"loss": {"p": 0.5}}) == {"loss": {"p": 0.5}}
    with pytest.raises(ConfigError, match="loss.p=7"):
        registry.resolve_options(["loss"], {"loss": {"p": 7}})
    with pytest.raises(ConfigError, match="kill is not among"):
        registry.resolve_options(["loss"], {"kill": {"target": "n1"}})


def test_check_applicable_refuses_an_app_fault_on_a_workload_that_never_calls_its_service():
    with pytest.raises(ConfigError) as e:
        registry.check_applicable(["lost-response"], {}, target=None, services=frozenset({"store"}))
    text = str(e.value)
    assert "lost-response" in text and "payment" in text and "store" in text
    assert "--nemesis-opt lost-response.service=" in text  # the fix
    # the orders workload calls payment; aiming elsewhere is checked too
    orders = frozenset({"store", "order", "payment", "inventory", "shipping"})
    registry.check_applicable(["lost-response", "partition"], {}, target=None, services=orders)
    with pytest.raises(ConfigError, match="ledger"):
        registry.check_applicable(
            ["slow-response"],
            {"slow-response": {"service": "ledger"}},
            target=None,
            services=orders,
        )


def test_check_applicable_refuses_a_target_without_the_ability():
    registry.check_applicable(["pause", "clock"], None, target=FakeTarget(), services=None)
    with pytest.raises(UnsupportedError, match="Pausable"):
        registry.check_applicable(["pause"], None, target=object(), services=None)


def test_needing_root_and_describe():
    assert registry.needing_root(["pause", "loss", "partition"]) == ["loss", "partition"]
    d = registry.describe(["partition", "strobe"])
    assert d["partition"]["stop"] == "stop-partition" and d["strobe"]["stop"] is None
    assert set(d["partition"]) >= {"colour", "start", "stop", "summary"}
    assert d["strobe"]["ability"] == "Skewable"


def test_loss_p_option_reaches_the_ops_and_the_iptables_rule():
    remote = FakeIptablesRemote()
    ctx = NemesisContext(remote, None, NODES, ADDR)
    (pkg,) = registry.build_packages(["loss"], ctx, {"loss": {"p": 0.5}})
    start = pkg.start(random.Random(1))
    assert start["value"] == {"probability": 0.5}
    assert (start["fault"], start["phase"]) == ("loss", "start")
    pkg.nemesis.invoke(None, Op(0, 0, "nemesis", "invoke", start["f"], start["value"], extra=start))
    rules = pkg.nemesis.net.drops("n1")
    assert rules and all("--probability 0.5000" in r for r in rules)


def test_undo_and_moot_dispatch_by_ledger_kind(tmp_path):
    remote = FakeIptablesRemote()
    remote.run("n1", ["iptables", "-w", "-N", "seam-p-n1"])
    registry.undo(Fault("partition", "n1", {"chain": "seam-p-n1"}), remote)
    assert "seam-p-n1" not in remote.chains["n1"]
    with pytest.raises(ValueError, match="meteor"):
        registry.undo(Fault("meteor", "n1"), remote)

    env = MootEnv(
        gone={"n2": "namespace seam-n2 is gone"},
        exists=lambda node, path: False,
        workdir=lambda node: "/runs/x",
    )
    assert (
        registry.moot(Fault("loss", "n2", {"chain": "c"}), env)
        == "namespace seam-n2 is gone, and the fault with it"
    )
    assert registry.moot(Fault("loss", "n1", {"chain": "c"}), env) is None
    assert (
        registry.moot(Fault("pause", "n2", {"pids": [4]}), env) is None
    )  # a pid is resumed by number
    assert "is gone" in registry.moot(Fault("clock", "n1", {"file": "/f"}), env)
    assert "was removed" in registry.moot(Fault("kill", "n1", {"role": None}), env)
    assert "was removed" in registry.moot(Fault("app", "n1", {}), env)
    assert registry.moot(Fault("meteor", "n1"), env) is None


def test_kill_and_app_undo_need_the_target():
    from harness.core.errors import NemesisError

    with pytest.raises(NemesisError, match="needs the run's target"):
        registry.undo(Fault("kill", "n1", {"role": None}), FakeIptablesRemote())
    target = FakeTarget()
    registry.undo(Fault("kill", "n1", {"role": "leader"}), FakeIptablesRemote(), target)
    assert target.started == ["n1"]


def test_seam_nemeses_lists_every_fault_with_its_options_from_the_declarations():
    import json

    from click.testing import CliRunner

    from harness.commands.nemeses import nemeses

    r = CliRunner().invoke(nemeses, ["--json"])
    assert r.exit_code == 0, r.output
    both = json.loads(r.output)
    table = both["nemeses"]
    assert list(table) == list(registry.faults())
    for name, spec in registry.faults().items():
        assert table[name]["does"] == spec.summary and table[name]["needs"] == spec.needs
        assert set(table[name]["options"]) == {o.name for o in spec.options}
    assert table["loss"]["options"]["p"]["default"] == "0.2"
    plain = CliRunner().invoke(nemeses, [], terminal_width=200)
    assert plain.exit_code == 0 and "p=0.2" in plain.output and "--loss" not in plain.output
    # The target's scenarios, each naming the bug it exposes and the kind it is caught as.
    scenarios = both["scenarios"]
    assert scenarios["paused-leader"]["exposes"] == {"fence-after-write": "stale-fenced-write"}
    assert scenarios["retry-storm"]["faults"] == ["down"] and "retry-storm" in plain.output


def test_parse_assignments_keeps_only_what_was_set_checked_like_parse_options():
    assert registry.parse_assignments(["loss", "partition"], ["loss.p=0.5"]) == {"loss": {"p": 0.5}}
    assert registry.parse_assignments(["loss"], []) == {}
    with pytest.raises(ConfigError, match="loss.p"):
        registry.parse_assignments(["loss"], ["loss.p=2"])
