"""The runtime's import structure: every submodule imports on its own, and no import circle hides in it."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import edgeloop_runtime

PACKAGE = Path(edgeloop_runtime.__file__).parent
SUBMODULES = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")


def _runtime_imports(tree: ast.AST) -> Iterator[tuple[ast.stmt, str]]:
    """(statement, imported runtime submodule) for each import of the runtime in a parsed file."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:
                targets = [node.module] if node.module else [alias.name for alias in node.names]
            elif node.level == 0 and (node.module or "").startswith("edgeloop_runtime."):
                targets = [(node.module or "").split(".")[1]]
            else:
                continue
            yield from ((node, target.split(".")[0]) for target in targets)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("edgeloop_runtime."):
                    yield node, alias.name.split(".")[1]


def _function_level(tree: ast.AST) -> set[ast.stmt]:
    """Import statements written inside a function body (lazy imports)."""
    found: set[ast.stmt] = set()
    for func in ast.walk(tree):
        if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            found |= {n for n in ast.walk(func) if isinstance(n, ast.Import | ast.ImportFrom)}
    return found


def _graph() -> dict[str, set[str]]:
    """Which runtime submodules each submodule imports (type-only imports included)."""
    graph: dict[str, set[str]] = {}
    for name in SUBMODULES:
        tree = ast.parse((PACKAGE / f"{name}.py").read_text())
        graph[name] = {target for _, target in _runtime_imports(tree) if target in SUBMODULES}
    return graph


@pytest.mark.parametrize("name", SUBMODULES)
def test_each_runtime_submodule_imports_in_a_fresh_interpreter(name: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", f"import edgeloop_runtime.{name}"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, f"import edgeloop_runtime.{name} failed:\n{done.stderr}"


def test_no_runtime_module_imports_the_runtime_inside_a_function() -> None:
    lazy = []
    for name in SUBMODULES:
        tree = ast.parse((PACKAGE / f"{name}.py").read_text())
        inside = _function_level(tree)
        lazy += [
            f"{name}.py:{node.lineno} imports {target}"
            for node, target in _runtime_imports(tree)
            if node in inside
        ]
    assert lazy == [], f"lazy imports hide an import circle: {lazy}"


def test_the_runtime_import_graph_has_no_circle() -> None:
    graph = _graph()
    circles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        for nxt in sorted(graph[node]):
            if nxt in path:
                circles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in done:
                visit(nxt, [*path, nxt])
        done.add(node)

    done: set[str] = set()
    for start in SUBMODULES:
        if start not in done:
            visit(start, [start])
    assert circles == [], f"import circles in edgeloop_runtime: {circles}"


def test_module_json_is_not_found_by_frame_inspection() -> None:
    users = [name for name in SUBMODULES if "_getframe" in (PACKAGE / f"{name}.py").read_text()]
    assert users == [], f"sys._getframe used in {users}"
