"""Fixtures for the router's tests: a real Azurite per test module, skipped with a reason when missing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
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


class ModuleProcess:
    """A module run as `python -m <name>` with the hub's environment plus settings; kill -9 and restart."""

    def __init__(self, name: str, env: dict[str, str], log_path: Path) -> None:
        self.name = name
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ModuleProcess:
        full = {**os.environ, "METRICS_PORT": "0", "SHUTDOWN_GRACE_SECONDS": "2", **self.env}
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", self.name], env=full, stdout=log, stderr=subprocess.STDOUT
            )
        return self

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill9()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""


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
