"""The architecture contracts in pyproject.toml hold, and each one can fail.

Each contract is shown to break by planting one forbidden import in a copy
of the source tree and running ``lint-imports`` on the copy: a contract that
cannot fail would be a decoration, not a rule.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(not LINT.exists(), reason="import-linter is not installed (make install adds it)")

#: contract id -> (a module of the source side, an import it must not have)
PLANTED = {
    "core": ("harness/core/op.py", "import harness.store"),
    "formats": ("harness/formats/jsonl.py", "import checkers.compose"),
    "checkers": ("checkers/pipeline/effects.py", "import harness.store"),
    "nemesis": ("nemesis/pause.py", "import harness.generator"),
    "target-stdlib": ("target/hlc.py", "import numpy"),
    "composition-root": ("harness/store.py", "import harness.control.local"),
    "runner": ("harness/runner.py", "import harness.targets.pipeline"),
    "report": ("checkers/pipeline/quorum.py", "import checkers.report.render"),
    "run-records": ("harness/nightly/night.py", "import harness.runner"),
    "layers": ("harness/runner.py", "import harness.assemble"),
}


def _lint(root: Path, contract: str | None = None) -> subprocess.CompletedProcess[str]:
    argv = [str(LINT), "--no-cache"] + (["--contract", contract] if contract else [])
    return subprocess.run(argv, cwd=root, capture_output=True, text=True, timeout=120,
                          env={"PATH": str(LINT.parent), "PYTHONPATH": str(root)})


def test_the_tree_keeps_every_contract() -> None:
    r = _lint(REPO)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"{len(PLANTED)} kept, 0 broken" in r.stdout


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tree")
    for pkg in ("harness", "checkers", "nemesis", "target"):
        shutil.copytree(REPO / pkg, root / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    return root


@pytest.mark.parametrize("contract", sorted(PLANTED))
def test_each_contract_breaks_on_a_planted_import(tree: Path, contract: str) -> None:
    module, line = PLANTED[contract]
    path = tree / module
    original = path.read_text()
    path.write_text(original + f"\n{line}  # planted by test_architecture\n")
    try:
        r = _lint(tree, contract)
    finally:
        path.write_text(original)
    assert r.returncode != 0, r.stdout
    assert "BROKEN" in r.stdout and "1 broken" in r.stdout
