"""Fixtures for the runtime's unit tests (the harness itself is runtime_harness.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from runtime_harness import run_module


@pytest.fixture
def runner() -> Callable[..., Any]:
    return run_module
