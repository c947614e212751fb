"""A module run as a subprocess next to the local hub, for the router's end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path


class ModuleProcess:
    """A module run as `python -m <name>` with the hub's environment plus settings; kill -9 and restart."""

    def __init__(self, name: str, env: dict[str, str], log_path: Path) -> None:
        self.name = name
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ModuleProcess:
        # One STATE_DIR per module per test, kept across its restarts (the module's volume).
        state = str(self.log_path.parent / f"{self.name}-state")
        full = {
            **os.environ,
            "METRICS_PORT": "0",
            "SHUTDOWN_GRACE_SECONDS": "2",
            "STATE_DIR": state,
            **self.env,
        }
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
