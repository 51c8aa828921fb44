"""A stored run's test, from its test.json alone (the ``Test`` protocol).

``seam check RUN_DIR`` and the re-check of a regression case have no runner:
they hand their checkers this instead, so a checker reads a live run and a
stored one through the same four properties.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.core.op import Op


@dataclass(frozen=True)
class StoredTest:
    """``Test`` from test.json: its nodes, seed and options; no live history."""

    seed: int = 0
    nodes: Sequence[str] = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    history: Sequence[Op] = ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StoredTest:
        """From test.json, or a case header's trimmed copy of it (nodes as a list)."""
        options = data.get("options") if isinstance(data.get("options"), Mapping) else {}
        assert isinstance(options, Mapping)
        nodes = data.get("nodes") or options.get("nodes") or []
        seed = data.get("seed", options.get("seed", 0))
        merged = dict(options)
        for key in ("workload", "bugs", "replication"):  # test.json keeps these at its top too
            if key not in merged and key in data:
                merged[key] = data[key]
        target = data.get("target")
        if isinstance(target, Mapping):
            for key in ("bugs", "replication"):
                merged.setdefault(key, target.get(key))
        return cls(seed=int(seed) if isinstance(seed, int) else 0,
                   nodes=tuple(str(n) for n in (nodes if isinstance(nodes, (list, tuple, dict)) else [])),
                   options=merged)


def stored_test(run_dir: Path | str | None) -> StoredTest | None:
    """The test of the run in ``run_dir`` (its test.json), or None when there is none."""
    if run_dir is None:
        return None
    path = Path(run_dir) / "test.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    except (OSError, ValueError):
        return None
    return StoredTest.from_json(data) if isinstance(data, dict) else None
