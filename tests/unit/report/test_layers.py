"""checkers/report has no import cycle: renderers import the model, only render imports renderers."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
REPORT = REPO / "checkers" / "report"
RENDERERS = ("graphs", "timeline", "html", "linear")


def report_imports(module: str) -> set[str]:
    """The checkers.report modules that ``module`` imports anywhere (top level or in a function)."""
    tree = ast.parse((REPORT / f"{module}.py").read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "checkers.report":
                found.update(a.name for a in node.names)
            elif node.module.startswith("checkers.report."):
                found.add(node.module.rsplit(".", 1)[1])
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("checkers.report."):
                    found.add(a.name.split(".")[2])
    return found


def test_the_report_modules_form_layers_render_over_renderers_over_model() -> None:
    modules = sorted(p.stem for p in REPORT.glob("*.py") if p.stem != "__init__")
    assert {"model", "render", *RENDERERS} <= set(modules)
    graph = {m: report_imports(m) for m in modules}
    assert graph["model"] == set(), "the model imports no other report module"
    for r in RENDERERS:
        assert graph[r] <= {"model"}, f"{r} imports {graph[r] - {'model'}}"
    assert all("render" not in deps for m, deps in graph.items() if m != "render")

    # and, whatever modules are added later, no cycle
    done: set[str] = set()

    def visit(m: str, path: tuple[str, ...]) -> None:
        assert m not in path, " -> ".join((*path, m))
        if m in done:
            return
        for dep in graph.get(m, ()):
            visit(dep, (*path, m))
        done.add(m)

    for m in modules:
        visit(m, ())


@pytest.mark.parametrize("module", [*RENDERERS, "model"])
def test_each_renderer_imports_alone_without_render(module: str) -> None:
    code = (
        f"import sys, checkers.report.{module}\n"
        "assert 'checkers.report.render' not in sys.modules, sorted(sys.modules)\n"
        "assert 'matplotlib' not in sys.modules and 'jinja2' not in sys.modules\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
