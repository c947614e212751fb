"""Fixtures for the supervisor's tests: scaled-down timings, the probe package importable."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sup_helpers import FIXTURES

from edgeloop_dev.supervisor.policy import BackoffConfig, HealthConfig
from edgeloop_dev.supervisor.supervisor import SupervisorConfig


@pytest.fixture
def record(tmp_path: Path) -> Path:
    return tmp_path / "record.jsonl"


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., SupervisorConfig]:
    """A SupervisorConfig with timings scaled down for tests and the probe package importable."""

    def make(manifest: Path, **overrides: Any) -> SupervisorConfig:
        values: dict[str, Any] = {
            "manifest": manifest,
            "state_dir": tmp_path / "state",
            "backoff": BackoffConfig(unit_s=0.2, max_s=1.0, max_restarts=3, healthy_after_s=30.0),
            "health": HealthConfig(interval_s=0.2, timeout_s=0.5, threshold=2, grace_s=0.5),
            "stop_grace_s": 3.0,
            "python_path": (FIXTURES,),
            "metrics_interval_s": 0.2,
            "startup_timeout_s": 10.0,
        }
        values.update(overrides)
        return SupervisorConfig(**values)

    return make
