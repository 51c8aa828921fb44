"""pytest plugin (entry point ``pytest11``): regression cases are test items.

``pytest regressions/`` collects every ``*.jsonl`` case under a folder named
``regressions`` and judges it exactly as ``seam regress`` does, so the corpus
runs wherever pytest runs (CI, ``-k``, ``-x``, JUnit via ``--junitxml``).
Files outside such a folder, and ``.jsonl`` files that are not cases, are
left to pytest's other collectors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.formats.case import is_case

#: The folder name whose ``*.jsonl`` files are collected.
CORPUS = "regressions"


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Collector | None:
    if file_path.suffix == ".jsonl" and CORPUS in file_path.parts and is_case(file_path):
        return CaseFile.from_parent(parent, path=file_path)
    return None


class CaseFailed(Exception):
    """A case that no longer gives its expected verdict (or cannot be read)."""


class CaseFile(pytest.File):
    def collect(self) -> Any:
        yield CaseItem.from_parent(self, name=self.path.stem)


class CaseItem(pytest.Item):
    def runtest(self) -> None:
        from harness.regress import check_case

        j = check_case(self.path)
        if not j.ok:
            raise CaseFailed(f"{j.status}: {j.detail}")

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, CaseFailed):
            return f"{self.path}: {excinfo.value}"
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"regression case {self.path.name}"
