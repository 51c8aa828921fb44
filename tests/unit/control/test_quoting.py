"""Awkward argv values and node names survive real shells and `ip netns exec` intact."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.control.local import LocalRemote
from harness.control.netns import NetnsRemote
from harness.control.quoting import check_argv, env_words, sh_join, spawn_command
from harness.core.errors import ConfigError
from tests.conftest import require_root, require_tool

AWKWARD = [
    "plain",
    "two words",
    "",
    "'single'",
    '"double"',
    "$HOME and ${PATH} and $(echo no) and `echo no`",
    "a;b && c || d | e & f",
    "line one\nline two\r\n",
    "tab\there",
    "back\\slash\\",
    "glob * ? [a-z] ~",
    "héllo wörld ☃ 日本語 🚀",
    "-n",
    "--",
    "#not a comment",
    "> redirect < in 2>&1",
    "'\"'\"'",
]
ECHO_ARGV = [sys.executable, "-c", "import json, sys; print(json.dumps(sys.argv[1:]))"]


def echoed(stdout: str) -> list[str]:
    return json.loads(stdout)


def test_sh_join_round_trips_through_a_real_shell():
    line = sh_join([*ECHO_ARGV, *AWKWARD])
    out = subprocess.run(["sh", "-c", line], capture_output=True, text=True, check=True).stdout
    assert echoed(out) == AWKWARD


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.text(
            alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"),
            max_size=12,
        ),
        max_size=5,
    )
)
def test_sh_join_round_trips_any_text(values):
    assert shlex.split(sh_join(["x", *values])) == ["x", *values]


@settings(max_examples=15, deadline=None)
@given(
    st.lists(
        st.text(
            alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"),
            max_size=8,
        ),
        max_size=4,
    )
)
def test_sh_join_through_sh_for_generated_values(values):
    out = subprocess.run(
        ["sh", "-c", sh_join([*ECHO_ARGV, *values])], capture_output=True, text=True, check=True
    ).stdout
    # the shell hands bytes through; compare after the same surrogate-free decoding
    assert echoed(out) == values


def test_local_remote_passes_awkward_values_and_node_names():
    r = LocalRemote()
    for node in ["n1", "node with spaces", "n;1$x'\"", "nœud-☃"]:
        res = r.run(node, [*ECHO_ARGV, *AWKWARD])
        assert res.node == node
        assert echoed(res.stdout) == AWKWARD


def test_spawn_command_runs_under_sh_with_awkward_env_cwd_and_log(tmp_path):
    cwd = tmp_path / "dir with 'quotes' and $dollar"
    cwd.mkdir()
    log = tmp_path / "log; rm -rf nothing.log"
    argv = [
        sys.executable,
        "-c",
        "import json, os, sys; print(json.dumps([os.getcwd(), os.environ['SEAM_X'], sys.argv[1:]]))",
        *AWKWARD,
    ]
    line = spawn_command(argv, str(log), env={"SEAM_X": "x y $z;'\""}, cwd=str(cwd))
    out = subprocess.run(
        ["sh", "-c", line], capture_output=True, text=True, check=True, timeout=10
    ).stdout
    pid = int(out.strip())
    _wait_exit(pid)
    got = json.loads(log.read_text())
    assert got == [str(cwd), "x y $z;'\"", AWKWARD]


def test_check_argv_refuses_what_exec_cannot_carry():
    with pytest.raises(ConfigError, match="not the string"):
        check_argv("ls -l")
    with pytest.raises(ConfigError, match="empty"):
        check_argv([])
    with pytest.raises(ConfigError, match="NUL"):
        check_argv(["echo", "a\0b"])
    with pytest.raises(ConfigError, match="not a string"):
        check_argv(["sleep", 1])  # type: ignore[list-item]
    with pytest.raises(ConfigError, match="not valid"):
        env_words({"A B": "1"})


@pytest.mark.root
@pytest.mark.netns
def test_netns_remote_round_trips_awkward_values_and_node_names():
    require_root()
    require_tool("ip")
    ns = f"seamq{os.getpid() % 100000}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        names = {"n1": ns, "node with spaces": ns, "n;1$x'\"": ns, "nœud-☃": ns}
        r = NetnsRemote(names)
        for node in names:
            res = r.run(node, [*ECHO_ARGV, *AWKWARD])
            assert echoed(res.stdout) == AWKWARD, node
        # it really ran inside the namespace: only loopback is there
        links = r.run("n1", ["ip", "-o", "link"]).stdout
        assert "lo" in links and "eth0" not in links
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
    assert ns not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout


def _wait_exit(pid: int, seconds: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.01)
    raise AssertionError(f"pid {pid} still running")
