"""Fixtures for the router's tests: a real Azurite per test module, skipped with a reason when missing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

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
