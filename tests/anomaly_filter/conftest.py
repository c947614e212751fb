"""Fixtures for the filter's tests: the module as a subprocess next to the local hub."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


class FilterProcess:
    """`python -m anomaly_filter` with the hub's environment plus settings."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        full = {**os.environ, "METRICS_PORT": "0", "SHUTDOWN_GRACE_SECONDS": "2", **env}
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "anomaly_filter"], env=full, stdout=log, stderr=subprocess.STDOUT
            )

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)


@pytest.fixture
def filter_process(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], FilterProcess]]:
    procs: list[FilterProcess] = []

    def factory(env: dict[str, str]) -> FilterProcess:
        procs.append(FilterProcess(env, tmp_path / f"anomaly_filter-{len(procs)}.log"))
        return procs[-1]

    yield factory
    for p in procs:
        p.kill()
