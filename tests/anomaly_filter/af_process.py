"""anomaly_filter as a subprocess next to the local hub, for the filter's end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path


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
