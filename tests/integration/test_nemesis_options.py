"""--nemesis-opt reaches the real fault: loss.p=0.5 shows in the iptables rule that
`seam test` installs, and the run heals it (no seam rule is left)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.root,
    pytest.mark.slow,
    pytest.mark.skipif(not (hasattr(os, "geteuid") and os.geteuid() == 0), reason="iptables rules need root"),
    pytest.mark.skipif(shutil.which("iptables") is None, reason="iptables is not installed (make install adds it)"),
]


def _seam_rules() -> list[str]:
    out = subprocess.run(["iptables", "-w", "-S"], capture_output=True, text=True, timeout=30).stdout
    return [line for line in out.splitlines() if "seam-l-" in line and "statistic" in line]


def test_loss_probability_option_is_the_rule_installed(tmp_path: Path) -> None:
    seen: list[str] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set() and not seen:
            seen.extend(_seam_rules())
            time.sleep(0.1)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        r = subprocess.run(
            [sys.executable, "-m", "harness.cli", "test", "--nemesis", "loss", "--nemesis-opt", "loss.p=0.5",
             "--nemesis-interval", "1.5", "--time-limit", "5", "--node-count", "3", "--rate", "20",
             "--results", str(tmp_path / "results"), "--no-progress", "--seed", "3"],
            cwd=REPO, capture_output=True, text=True, timeout=180,
        )
    finally:
        done.set()
        watcher.join(timeout=5)
    assert r.returncode in (0, 1), r.stdout + r.stderr
    assert seen, "no seam loss rule was seen during the run"
    assert all("--probability 0.5" in rule for rule in seen), seen
    assert _seam_rules() == []  # healed


def test_a_bad_option_is_one_line_and_exit_3(tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "harness.cli", "test", "--nemesis", "loss", "--nemesis-opt", "loss.p=2",
         "--results", str(tmp_path / "results")],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    assert r.returncode == 3
    assert "loss.p" in r.stderr and len(r.stderr.strip().splitlines()) == 1
