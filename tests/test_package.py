"""The shape of the ``livetemplate`` package: which module may import which.

The modules form layers, listed in :data:`ORDER` from the bottom up; a module imports only
modules before it, at run time and for typing alike, and never inside a function (an import
placed there to dodge a cycle is still a cycle). ``docs/api.md`` ("How the package is built")
says the same in prose.
"""

from __future__ import annotations

import ast
from pathlib import Path

import livetemplate

PACKAGE = Path(livetemplate.__file__).parent

ORDER = [
    "errors", "collector", "html", "limits", "tokens", "protocol", "connection",
    # the parts of a page (the page hands itself to them)
    "flash", "uploads", "actions", "navigation", "components",
    # the stores, and how a page's record is kept in one
    "store", "snapshot", "records", "redis_store",
    "page", "pages",
    # serving: the endpoints see the application through a Protocol (endpoints.Served), so the
    # Application can offer app.routes() without a cycle
    "endpoints", "app",
    "reload", "testing", "cli", "__init__", "__main__",
]

# The one kind of upward reference: a part of a page names the Page it is handed, in annotations
# only (under TYPE_CHECKING), as the page's own helpers.
PAGE_PARTS = {"flash", "uploads", "actions", "navigation", "components"}


def _tree(module: str) -> ast.Module:
    return ast.parse((PACKAGE / f"{module}.py").read_text())


def _sibling(node: ast.ImportFrom) -> set[str]:
    if node.level != 1:
        return set()
    if node.module:
        return {node.module.split(".")[0]}
    return {alias.name for alias in node.names}


def _imports(module: str) -> tuple[set[str], set[str]]:
    """``(at run time, for typing only)``: the sibling modules ``module`` imports."""
    runtime: set[str] = set()
    typing: set[str] = set()
    for stmt in _tree(module).body:
        if isinstance(stmt, ast.ImportFrom):
            runtime |= _sibling(stmt)
        elif isinstance(stmt, ast.If) and "TYPE_CHECKING" in ast.unparse(stmt.test):
            for inner in stmt.body:
                if isinstance(inner, ast.ImportFrom):
                    typing |= _sibling(inner)
    return runtime, typing


def test_every_module_has_its_place() -> None:
    modules = {path.stem for path in PACKAGE.glob("*.py")}
    assert modules == set(ORDER), (modules - set(ORDER), set(ORDER) - modules)


def test_modules_import_only_the_layers_below_them() -> None:
    for i, module in enumerate(ORDER):
        runtime, typing = _imports(module)
        later = set(ORDER[i:])
        assert not runtime & later, f"{module} imports {sorted(runtime & later)} at run time"
        upward = typing & later
        if module in PAGE_PARTS:
            upward -= {"page"}
        assert not upward, f"{module} imports {sorted(upward)} for typing"


def test_what_the_issue_names_holds() -> None:
    """Spelled out: page and pages know nothing of the application, the application nothing of
    dev-mode reloading, testing or the CLI, and shared.py (the second page path) is gone."""
    for module in ("page", "pages", "endpoints", "navigation"):
        assert "app" not in set().union(*_imports(module)), module
    runtime, typing = _imports("app")
    assert not (runtime | typing) & {"reload", "testing", "cli"}
    assert not (PACKAGE / "shared.py").exists()


def test_no_module_imports_a_sibling_inside_a_function() -> None:
    for module in ORDER:
        for node in ast.walk(_tree(module)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.ImportFrom):
                        assert not _sibling(inner), (module, node.name, ast.unparse(inner))
                    if isinstance(inner, ast.Import):
                        names = [alias.name for alias in inner.names]
                        assert not any(n.startswith("livetemplate") for n in names), (
                            module, node.name, names)
