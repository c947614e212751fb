"""Fixtures for the router's tests: a real Azurite per test module, skipped with a reason when missing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from ur_process import ModuleProcess

from edgeloop_dev.azurite import Azurite, missing_reason


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """A real azurite-blob on a free loopback port."""
    reason = missing_reason()
    if reason:
        pytest.skip(reason)
    location: Path = tmp_path_factory.mktemp("azurite")
    with Azurite.start(location) as az:
        yield az


@pytest.fixture
def module_process(tmp_path: Path) -> Iterator[Callable[..., ModuleProcess]]:
    """Start module subprocesses: `module_process("upstream_router", env)`; all stopped at teardown."""
    procs: list[ModuleProcess] = []

    def factory(name: str, env: dict[str, str]) -> ModuleProcess:
        p = ModuleProcess(name, env, tmp_path / f"{name}-{len(procs)}.log")
        procs.append(p)
        return p.start()

    yield factory
    for p in procs:
        p.kill9()
