"""`seam nightly`: a plan within a budget, a night summary, the index, NEW fingerprints,
JUnit, and a clean stop on SIGTERM.

The first tests run a night of a stand-in for ``seam test`` (a real process
with seam test's output contract and its SIGINT behaviour: end early, still
write results), so the budget and signal paths are exercised in seconds and
without root. The last is the acceptance test on real namespaces.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from junitparser import Failure, JUnitXml

from tests.conftest import require_root, require_tool
from tests.integration.test_run_local import REPO, seam, stop_nodes

#: A stand-in for `seam test`: makes a run directory, prints `results: DIR`, "runs" for
#: --time-limit x $FAKE_SLOWDOWN seconds or until SIGINT, then writes results.json; a
#: --bug makes it find weak-quorum-config.
FAKE_SEAM_TEST = textwrap.dedent("""
    import argparse, json, os, signal, sys, time
    from harness.store import RunStore
    p = argparse.ArgumentParser()
    p.add_argument("--name"); p.add_argument("--seed", type=int); p.add_argument("--results")
    p.add_argument("--bug", action="append", default=[]); p.add_argument("--nemesis", default="")
    p.add_argument("--workload", default="register"); p.add_argument("--time-limit", type=float, default=1)
    p.add_argument("--no-progress", action="store_true")
    args, _ = p.parse_known_args()
    stop = []
    signal.signal(signal.SIGINT, lambda *a: stop.append(1))
    store = RunStore(args.results, args.name)
    faults = [f for f in args.nemesis.split(",") if f]
    store.write_json("test.json", {"name": args.name, "start": store.start.isoformat(timespec="seconds"),
                                   "seed": args.seed, "workload": args.workload,
                                   "options": {"workload": args.workload, "nemesis": faults, "bugs": args.bug},
                                   "target": {"name": "pipeline", "bugs": args.bug}, "faults": {f: {} for f in faults}})
    t0 = time.monotonic()
    end = t0 + args.time_limit * float(os.environ.get("FAKE_SLOWDOWN", "1"))
    while time.monotonic() < end and not stop:
        time.sleep(0.05)
    valid = not args.bug
    found = [] if valid else [{"checker": "quorum", "kind": "weak-quorum-config", "fingerprint": "weak-quorum-config",
                               "severity": "error", "summary": "W=1, R=1: W+R <= N"}]
    store.write_json("results.json", {"schema": 2, "test": args.name, "seed": args.seed, "valid": valid,
                                      "exit_code": 0 if valid else 1, "anomalies": found,
                                      "run": {"counts": {"ok": 10}, "seconds": round(time.monotonic() - t0, 3),
                                              "interrupted": bool(stop)}})
    store.close()
    print("verdict:", "VALID" if valid else "INVALID")
    print(f"results: {store.path}")
    sys.exit(0 if valid else 1)
""")

#: Runs a night with the stand-in, as `seam nightly` would (argv: plan, results, fake).
DRIVER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from harness.commands.nightly import seam_test_options
    from harness.nightly import Night, aggregate_exit, finish_night, load_plan
    known = seam_test_options()
    plan = load_plan(Path(sys.argv[1]), known)
    plan.results = sys.argv[2]
    night = Night(plan, known, seed=1, command=[sys.executable, sys.argv[3]])
    record = night.run()
    finish_night(night)
    print("night:", night.dir, flush=True)
    sys.exit(aggregate_exit(record.runs))
""")

PLAN = """
budget = "{budget}"
overhead = {overhead}
grace = 20
[[test]]
name = "reg-partition"
workload = "register"
time-limit = {limit}
nemesis = ["partition"]
[[test]]
name = "reg-pause"
workload = "register"
time-limit = {limit}
nemesis = ["pause"]
[[test]]
name = "reg-weak-quorum"
workload = "register"
time-limit = {limit}
bug = ["weak-quorum"]
nemesis = ["pause"]
"""


def fake_night(tmp_path: Path, *, budget: str = "60s", overhead: float = 1, limit: float = 0.2,
               slowdown: float = 1.0) -> subprocess.Popen:
    (tmp_path / "fake_seam_test.py").write_text(FAKE_SEAM_TEST)
    (tmp_path / "driver.py").write_text(DRIVER)
    (tmp_path / "plan.toml").write_text(PLAN.format(budget=budget, overhead=overhead, limit=limit))
    return subprocess.Popen([sys.executable, str(tmp_path / "driver.py"), str(tmp_path / "plan.toml"),
                             str(tmp_path / "results"), str(tmp_path / "fake_seam_test.py")],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO), "FAKE_SLOWDOWN": str(slowdown)})


def the_night(results: Path) -> tuple[Path, dict]:
    (night_dir,) = (results / "nights").iterdir()
    return night_dir, json.loads((night_dir / "night.json").read_text())


def junit_cases(path: Path) -> list:
    (suite,) = list(JUnitXml.fromfile(str(path)))
    return list(suite)


def test_a_night_runs_every_test_and_writes_summary_junit_and_index(tmp_path: Path) -> None:
    p = fake_night(tmp_path)
    out, _ = p.communicate(timeout=120)
    assert p.returncode == 1, out  # one run found anomalies
    night_dir, night = the_night(tmp_path / "results")
    assert [(r["test"], r["status"], r["verdict"]) for r in night["runs"]] == [
        ("reg-partition", "done", "valid"), ("reg-pause", "done", "valid"), ("reg-weak-quorum", "done", "invalid")]
    assert night["runs"][2]["new"] == ["weak-quorum-config"] and night["stopped"] is None
    cases = junit_cases(night_dir / "junit.xml")
    assert [type(r).__name__ for c in cases for r in c.result] == ["Failure"]
    assert isinstance(cases[2].result[0], Failure) and "weak-quorum-config" in cases[2].result[0].message
    page = (night_dir / "index.html").read_text()
    assert "weak-quorum-config" in page and 'class="new">NEW' in page
    for r in night["runs"]:  # the page links each run's directory relative to itself
        assert (night_dir / f"../../{r['id']}").resolve().is_dir()
    r = seam("runs", "--results", "results", "--json", cwd=tmp_path)
    rows = json.loads(r.stdout)
    assert {x["id"] for x in rows} == {r["id"] for r in night["runs"]}
    assert {x["night"] for x in rows} == {night_dir.name}


def test_the_budget_skips_what_does_not_fit_and_stops_a_run_that_overruns(tmp_path: Path) -> None:
    t0 = time.monotonic()
    p = fake_night(tmp_path, budget="4s", overhead=0, limit=1, slowdown=100)  # each run would take 100 s
    out, _ = p.communicate(timeout=120)
    assert time.monotonic() - t0 < 30, out
    night_dir, night = the_night(tmp_path / "results")
    first, *rest = night["runs"]
    assert first["status"] == "done" and first["verdict"] == "valid"
    run = json.loads((tmp_path / "results" / first["id"] / "results.json").read_text())
    assert run["run"]["interrupted"] is True and run["run"]["seconds"] < 10  # told to stop at the budget's end
    assert [r["status"] for r in rest] == ["skipped", "skipped"]
    assert all(r["reason"].startswith("budget") for r in rest) and night["stopped"] == "budget"
    cases = junit_cases(night_dir / "junit.xml")
    assert [type(r).__name__ for c in cases for r in c.result] == ["Skipped", "Skipped"]


def test_sigterm_stops_the_running_test_cleanly_and_writes_what_the_night_has(tmp_path: Path) -> None:
    p = fake_night(tmp_path, budget="10m", limit=60)
    logs = tmp_path / "results" / "nights"
    deadline = time.monotonic() + 60
    while not any(logs.glob("*/logs/001-*.log")) or not list((tmp_path / "results").glob("reg-*/*/test.json")):
        assert time.monotonic() < deadline and p.poll() is None, p.communicate()[0]
        time.sleep(0.1)
    t0 = time.monotonic()
    p.send_signal(signal.SIGTERM)
    out, _ = p.communicate(timeout=60)
    assert time.monotonic() - t0 < 20, out
    assert p.returncode == 0, out  # the one run made was valid
    assert "seam nightly: SIGTERM: stopping the running test; no further runs" in out
    night_dir, night = the_night(tmp_path / "results")
    assert night["stopped"] == "signal" and night["ended"]
    assert [r["status"] for r in night["runs"]] == ["done", "skipped", "skipped"]
    run = json.loads((tmp_path / "results" / night["runs"][0]["id"] / "results.json").read_text())
    assert run["run"]["interrupted"] is True  # the test was told to stop, and still wrote its results
    assert (night_dir / "index.html").is_file() and len(junit_cases(night_dir / "junit.xml")) == 3


# ---------------------------------------------------------------------------
# the acceptance test on namespaces

REAL_PLAN = """
budget = "6m"
overhead = 40
grace = 60
[defaults]
cluster = "netns"
cluster-prefix = "{prefix}"
subnet = "{subnet}"
cluster-state = "{state}"
node-count = 3
time-limit = 3
concurrency = 4
rate = 50
nemesis-interval = 1
op-timeout = 2
recovery-time = 1
{tests}
"""

CLEAN_TESTS = """
[[test]]
name = "register-partition"
workload = "register"
nemesis = ["partition"]
[[test]]
name = "orders-pause"
workload = "orders"
nemesis = ["pause"]
"""

BUG_TEST = """
[[test]]
name = "register-weak-quorum"
workload = "register"
bug = ["weak-quorum"]
nemesis = ["pause"]
"""


def fingerprint_line(tmp_path: Path, fingerprint: str) -> str:
    r = seam("runs", "--fingerprints", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    (line,) = [x for x in r.stdout.splitlines() if f" {fingerprint} " in f" {x} "]
    return line


@pytest.mark.root
@pytest.mark.netns
@pytest.mark.slow
def test_two_nights_on_namespaces_index_junit_and_new_then_known_fingerprints(tmp_path: Path) -> None:
    require_root()
    require_tool("ip", "iptables")
    from tests.integration.cluster_fixture import free_subnet, leftovers, unique_prefix

    prefix = unique_prefix()
    subnet = free_subnet(prefix)
    values = {"prefix": prefix, "subnet": subnet, "state": str(tmp_path / "cluster")}
    (tmp_path / "night1.toml").write_text(REAL_PLAN.format(**values, tests=CLEAN_TESTS + BUG_TEST))
    (tmp_path / "night2.toml").write_text(REAL_PLAN.format(**values, tests=BUG_TEST))
    results = tmp_path / "results"
    try:
        t0 = time.monotonic()
        r = seam("nightly", "night1.toml", "--junit", "junit-copy.xml", cwd=tmp_path, timeout=420)
        assert time.monotonic() - t0 < 360, r.stdout
        assert r.returncode in (1, 2), (r.stdout, r.stderr)  # the bug run found its anomaly
        night_dir, night = the_night(results)
        assert [x["status"] for x in night["runs"]] == ["done"] * 3, night
        assert (night_dir / "index.html").is_file()
        listed = {x["id"]: x for x in json.loads(seam("runs", "--json", cwd=tmp_path).stdout)}
        assert set(listed) == {x["id"] for x in night["runs"]}
        bug = next(x for x in night["runs"] if x["bugs"] == "weak-quorum")
        assert listed[bug["id"]]["verdict"] == "invalid" and "weak-quorum-config" in listed[bug["id"]]["fingerprints"]
        assert fingerprint_line(tmp_path, "weak-quorum-config").startswith("NEW")

        # JUnit: loads back, one testcase per run, a failure exactly where a run was invalid
        for path in (night_dir / "junit.xml", tmp_path / "junit-copy.xml"):
            cases = junit_cases(path)
            assert len(cases) == 3
            failed = {c.name for c in cases if any(isinstance(x, Failure) for x in c.result)}
            invalid = {c.name for c, x in zip(cases, night["runs"], strict=True) if listed[x["id"]]["verdict"] == "invalid"}
            assert failed == invalid and any(f"seed {bug['seed']}" in name for name in failed)

        r = seam("nightly", "night2.toml", cwd=tmp_path, timeout=420)
        assert r.returncode in (1, 2), (r.stdout, r.stderr)
        line = fingerprint_line(tmp_path, "weak-quorum-config")
        assert not line.startswith("NEW"), line  # seen in an earlier night: known
        assert line.split()[-2] == "2"  # two runs have it
        assert len(json.loads(seam("runs", "--json", cwd=tmp_path).stdout)) == 4
    finally:
        left_pids = stop_nodes(results)
        left = leftovers(prefix)
        if left:
            from harness.control.cluster import NetnsCluster

            NetnsCluster(nodes=3, subnet=subnet, prefix=prefix, state_dir=tmp_path / "cluster").down()
    assert not left_pids, f"node processes left running: {left_pids}"
    assert not left, f"the nights left {left}"


@pytest.mark.slow
def test_seam_test_junit_has_the_runs_failure(tmp_path: Path) -> None:
    """`seam test --junit` on local node processes: one testcase, a failure naming the anomaly."""
    results = tmp_path / "results"
    try:
        r = seam("test", "--cluster", "local", "--node-count", "3", "--time-limit", "2", "--bug", "weak-quorum",
                 "--seed", "3", "--results", str(results), "--no-progress", "--junit", "out/j.xml", cwd=tmp_path)
        assert r.returncode == 1, (r.stdout, r.stderr)
        (case,) = junit_cases(tmp_path / "out" / "j.xml")
        (failure,) = case.result
        assert isinstance(failure, Failure) and "weak-quorum-config" in failure.message
        assert "report.html" in failure.text and "seed 3" in failure.text
    finally:
        assert not stop_nodes(results)
