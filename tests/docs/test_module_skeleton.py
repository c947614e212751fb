"""Every module has DEVELOPERS.md's skeleton: settings in settings.py, app.py wiring only, state typed."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import re
from pathlib import Path
from typing import Any

import pytest

from edgeloop_runtime import Module

MODULES_DIR = Path(__file__).resolve().parents[2] / "modules"
NAMES = sorted(p.parent.name for p in MODULES_DIR.glob("*/module.json"))
# What app.py may keep at module level: the declaration, its logger, constants. Anything else is
# state outside the state object (or logic that belongs in the core).
TOP_LEVEL_NAMES = re.compile(r"^(module|_log|_?[A-Z][A-Z0-9_]*)$")


def _declared(name: str) -> Module[Any, Any]:
    module = getattr(importlib.import_module(f"{name}.app"), "module", None)
    assert isinstance(module, Module), f"{name}/app.py has no `module = Module(...)`"
    return module


def _app_tree(name: str) -> ast.Module:
    return ast.parse((MODULES_DIR / name / "app.py").read_text())


def test_every_module_folder_is_found() -> None:
    assert "example_module" in NAMES and len(NAMES) >= 7, NAMES


@pytest.mark.parametrize("name", NAMES)
def test_settings_are_declared_in_settings_py(name: str) -> None:
    assert _declared(name).settings_cls.__module__ == f"{name}.settings"


@pytest.mark.parametrize("name", NAMES)
def test_the_state_is_a_dataclass_declared_in_app_py(name: str) -> None:
    state = _declared(name).state_cls
    assert state is type(None) or (dataclasses.is_dataclass(state) and state.__module__ == f"{name}.app"), (
        f"{name}: the state class {state.__qualname__} is not a dataclass in {name}/app.py"
    )


@pytest.mark.parametrize("name", NAMES)
def test_app_py_defines_no_class_but_the_state(name: str) -> None:
    state = _declared(name).state_cls.__name__
    classes = [n.name for n in ast.walk(_app_tree(name)) if isinstance(n, ast.ClassDef)]
    assert [c for c in classes if c != state] == [], f"{name}/app.py is wiring: move these out"


@pytest.mark.parametrize("name", NAMES)
def test_app_py_keeps_no_state_in_module_globals(name: str) -> None:
    assigned = [
        target.id
        for node in _app_tree(name).body
        if isinstance(node, ast.Assign | ast.AnnAssign)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Name)
    ]
    assert [n for n in assigned if not TOP_LEVEL_NAMES.match(n)] == [], f"{name}: keep these in its state"
