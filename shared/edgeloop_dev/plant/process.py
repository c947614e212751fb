"""Run the plant as a subprocess for tests and benchmarks: start, stop, kill, restart with a down time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from .server import SCHEDULE_FILE, PlantOptions

USERS_FILE = "plant-users.json"


def plant_argv(options: PlantOptions) -> list[str]:
    """The `edgeloop plant` command line for `options` (users go through a 0600 file, not argv)."""
    argv = [
        sys.executable, "-m", "edgeloop_dev.cli", "plant",
        "--host", options.host, "--port", str(options.port), "--seed", str(options.seed),
        "--scenario", options.scenario, "--state-dir", str(options.state_dir),
        "--security", options.security, "--rate", str(options.rate_hz),
    ]  # fmt: skip
    if options.tags is not None:
        argv += ["--tags", str(options.tags)]
    if not options.strict_writes:
        argv.append("--allow-timestamped-writes")
    if not options.ai_permissive:
        argv.append("--no-ai-permissive")
    if options.hold_faults:
        argv.append("--hold-faults")
    if options.users:
        path = options.state_dir / USERS_FILE
        options.state_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(options.users), encoding="utf-8")
        path.chmod(0o600)
        argv += ["--users-file", str(path)]
    return argv


class PlantProcess:
    """`with PlantProcess(opts) as plant:` starts `edgeloop plant` and waits until it listens."""

    def __init__(self, options: PlantOptions, log_path: Path | None = None) -> None:
        if options.port == 0:
            raise ValueError("PlantProcess needs a fixed port (restarts must come back on the same one)")
        self.options = options
        self.log_path = log_path or options.state_dir / "plant.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        """The endpoint URL clients connect to."""
        return f"opc.tcp://{self.options.host}:{self.options.port}"

    @property
    def pid(self) -> int | None:
        """The server process id while it runs."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def __enter__(self) -> PlantProcess:
        self.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self, timeout: float = 30.0) -> None:
        """Start the server and return once it listens (it writes its schedule file then)."""
        schedule = self.options.state_dir / SCHEDULE_FILE
        schedule.unlink(missing_ok=True)
        self.options.state_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                plant_argv(self.options), stdout=log, stderr=subprocess.STDOUT, env=env
            )
        deadline = time.monotonic() + timeout
        while not schedule.exists():
            if self._proc.poll() is not None:
                raise RuntimeError(f"plant exited with {self._proc.returncode}; see {self.log_path}")
            if time.monotonic() > deadline:
                self.kill()
                raise TimeoutError(f"plant did not start within {timeout} s; see {self.log_path}")
            time.sleep(0.05)

    def start_faults(self, timeout: float = 10.0) -> None:
        """Start a held fault schedule (SIGUSR1) and return once the schedule file says so."""
        if self._proc is None or self._proc.poll() is not None:
            raise RuntimeError(f"plant is not running; see {self.log_path}")
        self._proc.send_signal(signal.SIGUSR1)
        schedule = self.options.state_dir / SCHEDULE_FILE
        deadline = time.monotonic() + timeout
        while True:
            try:
                if not json.loads(schedule.read_text(encoding="utf-8")).get("faultsHeld", False):
                    return
            except (OSError, ValueError):
                pass  # replaced whole, so a read sees the old file or the new one; the loop reads again
            if time.monotonic() > deadline:
                raise TimeoutError(f"plant did not start its faults within {timeout} s; see {self.log_path}")
            time.sleep(0.05)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if it does not exit in `timeout` s."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def kill(self) -> None:
        """Abrupt end (SIGKILL), as a crashed DCS server."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._proc = None

    def restart(self, down_s: float = 0.0, *, abrupt: bool = True) -> None:
        """Kill (or stop) the server, refuse connections for `down_s`, start it again on the same port."""
        if abrupt:
            self.kill()
        else:
            self.stop()
        time.sleep(down_s)
        self.start()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on `host` right now."""
    import socket

    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port
