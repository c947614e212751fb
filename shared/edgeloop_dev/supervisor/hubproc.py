"""The local hub as a child process (`edgeloop hub`), and the seam the supervisor drives it through."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from edgeloop_dev.supervisor.errors import HubStartError, SupervisorError
from edgeloop_dev.supervisor.process import ModuleProcess, tail_lines

MQTT_PORT = 8883  # fixed by the SDK
HUB_INFO = "hub.json"


class Hub(Protocol):
    """What the supervisor needs from a hub: run it, credentials for a module, where its metrics are."""

    @property
    def pid(self) -> int | None: ...

    async def start(self) -> None: ...

    async def wait(self) -> int: ...

    async def stop(self, grace_s: float) -> int | None: ...

    def send_signal(self, sig: int) -> None: ...

    def module_environment(self, module: str) -> dict[str, str]: ...

    def metrics_url(self) -> str | None: ...

    def tail(self, count: int = 10) -> list[str]: ...


def read_hub_info(state_dir: Path) -> dict[str, Any]:
    """The hub's `hub.json` (addresses of its APIs), or {} when absent or half-written."""
    try:
        data = json.loads((state_dir / HUB_INFO).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def metrics_url_from_info(info: dict[str, Any], host: str) -> str:
    """The hub's /metrics URL from hub.json, else edgeHub's default port 9600 on the hub's host."""
    for key, value in info.items():
        if "metrics" in key.lower() and isinstance(value, str) and value.startswith("http"):
            return value if value.rstrip("/").endswith("/metrics") else value.rstrip("/") + "/metrics"
    return f"http://{host}:9600/metrics"


async def _port_open(host: str, port: int) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 1.0)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


class HubProcess:
    """`python -m edgeloop_dev.hub hub --manifest M --state-dir D --host H`, logged to `D/logs/hub.log`."""

    def __init__(
        self,
        manifest: Path,
        state_dir: Path,
        host: str = "127.0.0.1",
        credentials: str = "connection-string",
        ready_timeout_s: float = 30.0,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.manifest = manifest
        self.state_dir = state_dir
        self.host = host
        self.credentials = credentials
        self.ready_timeout_s = ready_timeout_s
        self.extra_args = tuple(extra_args)
        self.log_path = state_dir / "logs" / "hub.log"
        self._process: ModuleProcess | None = None

    @property
    def pid(self) -> int | None:
        """The hub's process id while it runs."""
        process = self._process
        return process.pid if process is not None and process.returncode is None else None

    def argv(self) -> list[str]:
        """The command line that starts the hub."""
        return [
            sys.executable,
            "-m",
            "edgeloop_dev.hub",  # the hub's own entry point: `edgeloop hub` without the other tools
            "hub",
            "--manifest",
            str(self.manifest),
            "--state-dir",
            str(self.state_dir),
            "--host",
            self.host,
            *self.extra_args,
        ]

    async def start(self) -> None:
        """Start the hub; wait for its `hub.json` and for MQTT to accept; raise with its last lines if not."""
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"
        self._process = process = await ModuleProcess.spawn(self.argv(), env, self.log_path)
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline:
            if process.returncode is not None:
                lines = "\n".join(process.tail(15))
                raise HubStartError(f"the hub exited with code {process.returncode} at start:\n{lines}")
            info = read_hub_info(self.state_dir)
            if info.get("pid") == process.pid and await _port_open(self.host, MQTT_PORT):
                return
            await asyncio.sleep(0.1)
        await process.terminate(2.0)
        raise HubStartError(
            f"the hub did not listen on {self.host}:{MQTT_PORT} in {self.ready_timeout_s:g} s"
        )

    async def wait(self) -> int:
        """Wait for the hub process to end."""
        if self._process is None:
            raise SupervisorError("the hub was never started")
        return await self._process.wait()

    async def stop(self, grace_s: float) -> int | None:
        """SIGTERM the hub, SIGKILL after `grace_s`; return its exit code."""
        if self._process is None:
            return None
        return await self._process.terminate(grace_s)

    def send_signal(self, sig: int) -> None:
        """Signal the hub (chaos tests)."""
        if self._process is not None:
            self._process.send_signal(sig)

    def module_environment(self, module: str) -> dict[str, str]:
        """The module's credentials from the hub's identity store (created on first use)."""
        from edgeloop_dev.hub.errors import HubError
        from edgeloop_dev.hub.identity import module_environment

        try:
            return module_environment(self.state_dir, module, mode=self.credentials, host=self.host)
        except (HubError, OSError) as exc:
            raise SupervisorError(f"no credentials for module {module}: {exc}") from exc

    def metrics_url(self) -> str | None:
        """Where the hub's Prometheus metrics are."""
        return metrics_url_from_info(read_hub_info(self.state_dir), self.host)

    def tail(self, count: int = 10) -> list[str]:
        """The hub's last log lines."""
        if self._process is not None:
            return self._process.tail(count)
        return tail_lines(self.log_path, 0, count)
