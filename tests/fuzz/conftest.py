"""Fuzz suite setup: hypothesis profiles (`ci` by default, `long` via HYPOTHESIS_PROFILE) and live modules.

Short form (CI): `.venv/bin/pytest tests/fuzz -p no:xdist`
Long form:       `HYPOTHESIS_PROFILE=long .venv/bin/pytest tests/fuzz -p no:xdist`
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fuzz_harness import CASES, LiveModule
from hypothesis import HealthCheck, settings

from edgeloop_runtime import Module

_BASE = settings(
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
        HealthCheck.large_base_example,
    ],
    print_blob=True,
)
# `ci`: derandomized (the same cases every run), sized so tests/fuzz stays within ~3 minutes on 2 cores.
settings.register_profile("ci", _BASE, max_examples=300, derandomize=True, database=None)
# `long`: random, ~33 times as many cases per target; failures are saved in .hypothesis/ to replay.
settings.register_profile("long", _BASE, max_examples=10_000)  # ~33x ci
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
if PROFILE not in ("ci", "long"):
    PROFILE = "ci"


def fuzz_settings(scale: float = 1.0) -> settings:
    """The selected profile with `scale` times its case count (targets differ in cost per case)."""
    base = settings.get_profile(PROFILE)
    return settings(base, max_examples=max(10, round(base.max_examples * scale)))


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., LiveModule]]:
    """Start modules on the FakeHubClient seam, shared by every example of the test file."""
    started: list[LiveModule] = []

    def factory(module: Module[Any], env: dict[str, str] | None = None, **kw: Any) -> LiveModule:
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
