"""Fixtures for the filter's tests: the module as a subprocess next to the local hub."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from af_process import FilterProcess


@pytest.fixture
def filter_process(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], FilterProcess]]:
    procs: list[FilterProcess] = []

    def factory(env: dict[str, str]) -> FilterProcess:
        """Start the filter; every process of one test shares one STATE_DIR (its volume)."""
        full = {"STATE_DIR": str(tmp_path / "state"), **env}
        procs.append(FilterProcess(full, tmp_path / f"anomaly_filter-{len(procs)}.log"))
        return procs[-1]

    yield factory
    for p in procs:
        p.kill()
