"""Nightly plans: parsed and checked against seam test's options; runs ordered by coverage."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from harness.commands.nightly import seam_test_options
from harness.core.errors import ConfigError
from harness.nightly.plan import load_plan, parse_duration, parse_plan, seam_test_args
from harness.nightly.schedule import key_of, schedule

KNOWN = seam_test_options()


def plan(**top: object) -> dict:
    return {"budget": "10m", "test": [{"name": "reg", "workload": "register", "nemesis": ["partition"]}], **top}


def test_the_documented_plan_parses() -> None:
    p = load_plan(Path(__file__).parents[2] / "docs" / "nightly.toml", KNOWN)
    assert p.budget == 6 * 3600
    assert {t.name for t in p.tests} >= {"register-faults", "register-weak-quorum", "orders-paused-leader"}
    canary = next(t for t in p.tests if t.bugs)
    assert canary.bugs == ["weak-quorum"] and canary.options["cluster"] == "netns"  # defaults reach every test


def test_durations() -> None:
    assert [parse_duration(v, "x") for v in ("90m", "6h", "45s", "300", 12)] == [5400, 21600, 45, 300, 12]
    for bad in ("soon", "-5m", 0, True):
        with pytest.raises(ConfigError, match="give a duration"):
            parse_duration(bad, "budget")


def test_a_test_becomes_seam_test_arguments() -> None:
    p = parse_plan({"budget": 600, "defaults": {"cluster": "netns", "rate": 50},
                    "test": [{"name": "q", "workload": "register", "bug": ["weak-quorum"], "time-limit": "2m",
                              "nemesis": ["pause, partition", ""], "nemesis-opt": ["pause.target=leader"],
                              "ssh-insecure": True, "sudo": False}]}, KNOWN)
    (t,) = p.tests
    assert t.mix == ["partition,pause", ""] and t.time_limit == 120
    args = seam_test_args(t, "partition,pause", KNOWN)
    pairs = dict(zip(args[::2], args[1::2], strict=False))
    assert args[:2] == ["--name", "q"] and pairs["--nemesis"] == "partition,pause" and pairs["--bug"] == "weak-quorum"
    assert pairs["--cluster"] == "netns" and pairs["--time-limit"] == "120" and pairs["--rate"] == "50"
    assert "--nemesis-opt" in args and args[args.index("--nemesis-opt") + 1] == "pause.target=leader"
    assert "--ssh-insecure" in args and "--sudo" not in args  # flags only when true
    assert "--nemesis" not in seam_test_args(t, "", KNOWN)


@pytest.mark.parametrize(("data", "message"), [
    ({"test": [{"workload": "register"}]}, "no budget"),
    (plan(tests=[]), "unknown top-level keys tests"),
    (plan(test=[]), "no \\[\\[test\\]\\] tables"),
    (plan(test=[{"workload": "register", "time-limt": 5}]), "'time-limt' is not a seam test option"),
    (plan(test=[{"workload": "register", "seed": 5}]), "'seed' is set by seam nightly"),
    (plan(defaults={"results": "x"}), "'results' is set by seam nightly"),
    (plan(test=[{"workload": "register", "count": 0}]), "count = 0"),
    (plan(test=[{"workload": "register", "nemesis": [1]}]), "nemesis must be a list"),
    (plan(test=[{"workload": "register"}, {"workload": "register"}]), "share a name"),
])
def test_bad_plans_are_one_line_naming_the_place(data: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_plan(data, KNOWN, source="night.toml")


def test_an_unreadable_or_broken_file_names_itself(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the plan"):
        load_plan(tmp_path / "missing.toml", KNOWN)
    (tmp_path / "bad.toml").write_text("budget = \n")
    with pytest.raises(ConfigError, match="bad.toml: not valid TOML"):
        load_plan(tmp_path / "bad.toml", KNOWN)


def two_tests() -> list:
    return parse_plan({"budget": 600, "test": [
        {"name": "reg", "workload": "register", "count": 3, "nemesis": ["partition", "pause", "kill"]},
        {"name": "ord", "workload": "orders", "count": 2, "nemesis": ["partition", "pause"]},
    ]}, KNOWN).tests


def test_the_schedule_tries_the_least_tried_combinations_first() -> None:
    tests = two_tests()
    tried = Counter({("register", "partition", ""): 5, ("register", "pause", ""): 1, ("orders", "partition", ""): 2})
    slots = schedule(tests, tried, seed=1)
    assert [(s.test.name, s.faults, s.tried) for s in slots] == [
        ("reg", "kill", 0), ("ord", "pause", 0), ("reg", "pause", 1), ("ord", "pause", 1), ("reg", "kill", 1)]
    assert [s.number for s in slots] == [1, 2, 3, 4, 5]
    assert schedule(tests, tried, seed=1) == slots  # same seed, same night
    assert [s.seed for s in schedule(tests, tried, seed=2)] != [s.seed for s in slots]


def test_without_history_every_fault_set_is_tried_once_before_any_twice() -> None:
    (reg,) = parse_plan({"budget": 600, "test": [
        {"name": "reg", "workload": "register", "count": 4, "nemesis": ["a", "b", "c"]}]}, KNOWN).tests
    assert [s.faults for s in schedule([reg], Counter(), seed=0)] == ["a", "b", "c", "a"]


def test_bugs_and_scenarios_are_combinations_of_their_own() -> None:
    tests = parse_plan({"budget": 600, "test": [
        {"name": "canary", "workload": "register", "bug": ["weak-quorum"], "nemesis": ["partition"]},
        {"name": "scen", "workload": "orders", "scenario": "paused-leader"}]}, KNOWN).tests
    assert key_of(tests[0], "partition") == ("register", "partition", "weak-quorum")
    assert key_of(tests[1], "") == ("orders", "scenario:paused-leader", "")
    # many clean partition runs do not push the canary back
    slots = schedule(tests, Counter({("register", "partition", ""): 50}), seed=0)
    assert [s.tried for s in slots] == [0, 0]


def test_a_key_has_one_name_bugs_is_refused_with_the_right_one(tmp_path) -> None:
    """`bug` as seam test's --bug; `bugs` once worked half-way (applied, shown as none)."""
    path = tmp_path / "night.toml"
    path.write_text('budget = "10m"\n[[test]]\nname = "q"\nworkload = "register"\nbugs = ["weak-quorum"]\n')
    with pytest.raises(ConfigError, match=r"'bugs' is not a plan key; write 'bug'"):
        load_plan(path, KNOWN)
