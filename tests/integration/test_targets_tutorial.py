"""docs/targets.md cannot rot: its code is copied out of the page and run as written.

Every fenced block opened as ```python file=PATH is (the next part of) the
file PATH; they are written into a temporary directory, which goes on
PYTHONPATH, and the page's ```sh test=valid and ```sh test=invalid commands
run there as real `seam test` runs on a local cluster: the correct server is
VALID under pauses and kills, and its stale-read option is caught (exit 1).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "docs" / "targets.md"

pytestmark = [pytest.mark.slow]

#: A fenced block: its info string (language and key=value words) and its text.
FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```$", re.S | re.M)


def blocks() -> list[tuple[str, dict[str, str], str]]:
    out = []
    for lang, info, text in FENCE.findall(PAGE.read_text()):
        attrs = dict(word.split("=", 1) for word in info.split() if "=" in word)
        out.append((lang, attrs, text))
    return out


def write_package(root: Path) -> list[Path]:
    """The page's files under ``root``; blocks naming the same file are joined in order."""
    files: dict[str, str] = {}
    for _, attrs, text in blocks():
        if "file" in attrs:
            files[attrs["file"]] = files.get(attrs["file"], "") + text
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return [root / name for name in files]


def command(kind: str) -> list[str]:
    """The page's ```sh test=KIND command, as argv."""
    found = [text for _, attrs, text in blocks() if attrs.get("test") == kind]
    assert len(found) == 1, f"docs/targets.md needs exactly one ```sh test={kind} block"
    argv = shlex.split(found[0].replace("\\\n", " "))
    assert argv[:2] == ["seam", "test"], argv
    return argv


def free_base_port(first: int = 9100) -> int:
    """A hundred from ``first`` up whose ports on 127.0.0.11-13 are free, away from the
    7100... that runs probe. A module that runs beside others picks its own ``first``:
    two workers probing one range at once can both pick the same hundred."""
    for base in range(first, first + 900, 100):
        try:
            for i in (1, 2, 3):
                with socket.socket() as s:
                    s.bind((f"127.0.0.{10 + i}", base + i))
        except OSError:
            continue
        return base
    pytest.skip(f"no free hundred of ports in {first}..{first + 899} on 127.0.0.11-13")


def seam(args: list[str], cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(cwd), str(REPO)])}
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_every_file_of_the_tutorial_is_in_the_page(tmp_path: Path) -> None:
    written = {p.relative_to(tmp_path).as_posix() for p in write_package(tmp_path)}
    assert written == {"mykv/server.py", "mykv/adapter.py", "mykv/client.py", "mykv/__init__.py"}
    for path in tmp_path.rglob("*.py"):
        compile(path.read_text(), str(path), "exec")


def test_the_tutorial_target_is_valid_and_its_stale_reads_are_caught(tmp_path: Path) -> None:
    write_package(tmp_path)
    results, base = tmp_path / "results", free_base_port()
    extra = ["--results", str(results), "--base-port", str(base), "--seed", "2", "--no-progress"]

    listed = seam(["targets", "--json", "mykv"], tmp_path)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    row = json.loads(listed.stdout)["mykv"]
    assert row["options"]["reads"]["default"] == "leader" and row["roles"] == ["leader"]
    assert {"pause", "kill"} <= set(row["faults"])

    valid = seam(command("valid")[1:] + extra, tmp_path)
    assert valid.returncode == 0, valid.stdout + valid.stderr
    assert "verdict: VALID" in valid.stdout
    run = (results / "latest").resolve()
    ops = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    faults = {op["f"] for op in ops if op["process"] == "nemesis"}
    # The first fault (a kill, with seed 2) is due after 1 s; the pause after it
    # may not fit in 5 s on a loaded machine, so only the kill is required.
    assert "kill" in faults, faults
    assert (run / "nodes" / "n1" / "mykv.log").exists()

    invalid = seam(command("invalid")[1:] + extra, tmp_path)
    assert invalid.returncode == 1, invalid.stdout + invalid.stderr
    assert "verdict: INVALID" in invalid.stdout

    # The stored run finds its target again by name and explains the stale read.
    recheck = seam(["check", str(results / "latest")], tmp_path)
    assert recheck.returncode == 1, recheck.stdout + recheck.stderr
    assert "NOT linearizable" in recheck.stdout
