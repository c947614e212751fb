"""Fuzz suite setup: hypothesis profiles (`ci` by default, `long` via HYPOTHESIS_PROFILE) and live modules.

Short form (CI): `.venv/bin/pytest tests/fuzz -p no:xdist`
Long form:       `HYPOTHESIS_PROFILE=long .venv/bin/pytest tests/fuzz -p no:xdist`
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fuzz_harness import CASES, LiveModule
from fuzz_profiles import PROFILE

from edgeloop_runtime import Module


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., LiveModule]]:
    """Start modules on the FakeHubClient seam, shared by every example of the test file."""
    started: list[LiveModule] = []

    def factory(module: Module[Any, Any], env: dict[str, str] | None = None, **kw: Any) -> LiveModule:
        m = LiveModule(module, env or {}, **kw).start()
        started.append(m)
        return m

    factory.tmp = tmp_path_factory.mktemp("live")  # type: ignore[attr-defined]
    yield factory
    for m in started:
        m.stop()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if CASES:
        terminalreporter.section(f"fuzz cases per target (profile {PROFILE})")
        for target, n in sorted(CASES.items()):
            terminalreporter.write_line(f"{n:>8}  {target}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Failing examples can be large (huge strings are a case); hypothesis's repr warning is no error."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.filterwarnings("ignore:Generating overly large repr"))
            if PROFILE == "long":
                item.add_marker(pytest.mark.timeout(0))  # the long form runs as long as it needs
