"""Shared fixtures and skip rules.

Tests that need root or a system tool skip with a reason that says exactly
what is missing; on CI (root, packages installed by `make`) they all run.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
ORACLE = SHARED / "oracle"


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def require_root() -> None:
    if not _is_root():
        pytest.skip("needs root (network namespaces, iptables); run `make test` as root")


def require_tool(*names: str) -> None:
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)}; `make install` installs it as root")


@pytest.fixture
def oracle_dir() -> Path:
    if not (ORACLE / "MANIFEST.json").exists():
        pytest.skip(f"oracle corpus not found at {ORACLE} (shared/ must sit beside the repo)")
    return ORACLE
