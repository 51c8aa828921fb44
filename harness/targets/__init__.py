"""The registry of targets: a name maps to a target folder's ``TARGET``.

Built-in targets are the sub-packages of ``harness.targets`` (found by
looking, not listed: a new folder is a new target). ``--target`` also takes
a dotted module path (``mypkg.mytarget`` or ``mypkg.mytarget:TARGET``), so a
target can live outside Seam, e.g. in a project's own tests.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from collections.abc import Mapping
from typing import Any

from harness.core.errors import ConfigError
from harness.targets.base import (
    HostCheck,
    MakeContext,
    Scenario,
    TargetKind,
    Workload,
    WorkloadKind,
)

__all__ = ["DEFAULT", "HostCheck", "MakeContext", "Scenario", "TargetKind", "Workload", "WorkloadKind", "get", "names", "of_run"]

DEFAULT = "pipeline"


def names() -> list[str]:
    """The built-in targets: every sub-package of harness.targets."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if m.ispkg)


def get(name: str) -> TargetKind:
    """The target named ``name`` (built in) or at a dotted module path; ConfigError otherwise."""
    if not name:
        raise ConfigError(f"--target is empty; choose one of {', '.join(names())}")
    if name in names():
        path, attr = f"{__name__}.{name}", "TARGET"
    elif "." in name or ":" in name or importlib.util.find_spec(name) is not None:
        path, _, attr = name.partition(":")  # a top-level module (mykv) too, when it exists
        attr = attr or "TARGET"
    else:
        raise ConfigError(
            f"unknown target {name!r}; built-in targets: {', '.join(names())}, "
            "or give a module path such as mypkg.mytarget whose TARGET is a harness.targets.TargetKind"
        )
    try:
        module = importlib.import_module(path)
    except ImportError as e:
        raise ConfigError(f"--target {name}: cannot import {path} ({e}); is it on PYTHONPATH?") from None
    kind = getattr(module, attr, None)
    if not isinstance(kind, TargetKind):
        raise ConfigError(f"--target {name}: {path}.{attr} is not a harness.targets.TargetKind")
    return kind


def of_run(test: Mapping[str, Any]) -> TargetKind:
    """The target a stored run ran, from its test.json: by the module path it was run with
    (``target.module``: an out-of-tree target is found again), else by name (runs from
    before targets were named ran the pipeline)."""
    target = test.get("target")
    found = target if isinstance(target, Mapping) else {}
    return get(str(found.get("module") or found.get("name") or DEFAULT))
