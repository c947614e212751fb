"""The test suite's import convention: no test folder is a package, and helper module names are unique."""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
FIXTURES = {"fixtures"}  # packages a test runs as a program (`python -m ...`), not test folders


def _test_tree() -> list[Path]:
    return [p for p in TESTS.rglob("*.py") if not FIXTURES & set(p.relative_to(TESTS).parts)]


def test_no_test_folder_is_a_package() -> None:
    packages = sorted(str(p.relative_to(TESTS)) for p in _test_tree() if p.name == "__init__.py")
    assert packages == [], f"test folders must not be packages (importlib import mode): {packages}"


def test_helper_modules_have_names_unique_in_the_suite() -> None:
    helpers = [p for p in _test_tree() if not p.name.startswith("test_") and p.name != "conftest.py"]
    twice = sorted(name for name, n in Counter(p.stem for p in helpers).items() if n > 1)
    assert twice == [], f"helper modules share a name (prefix them with their area): {twice}"


def test_no_test_imports_relatively_from_conftest_or_through_the_tests_folder() -> None:
    bad = [
        f"{path.relative_to(TESTS)}:{node.lineno}"
        for path in _test_tree()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom)
        and (
            node.level > 0
            or (node.module or "").endswith("conftest")
            or (node.module or "").startswith("tests.")
        )
    ]
    assert bad == [], f"import helpers by their unique name instead: {bad}"
