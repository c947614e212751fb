"""Helpers for the supervisor's tests: a manifest writer, the probe module's entries, a recording hub seam."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"


class RecordingHub:
    """The hub seam for process-management tests: no MQTT, just the calls and when they happened."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float]] = []
        self._running = False
        self._done = asyncio.Event()

    @property
    def pid(self) -> int | None:
        return 1 if self._running else None

    async def start(self) -> None:
        self.calls.append(("start", time.time()))
        self._running = True
        self._done = asyncio.Event()

    async def wait(self) -> int:
        await self._done.wait()
        return 0

    async def stop(self, grace_s: float) -> int | None:
        self.calls.append(("stop", time.time()))
        self._running = False
        self._done.set()
        return 0

    def send_signal(self, sig: int) -> None:
        self.calls.append((f"signal {sig}", time.time()))

    def module_environment(self, module: str) -> dict[str, str]:
        return {"IOTEDGE_MODULEID": module}

    def metrics_url(self) -> str | None:
        return None

    def tail(self, count: int = 10) -> list[str]:
        return []


def probe_module(mode: str = "serve", *, record: Path, **extra: Any) -> dict[str, Any]:
    """A manifest entry running the probe module in `mode`."""
    env = {"PROBE_MODE": {"value": mode}, "PROBE_RECORD": {"value": str(record)}}
    env.update({key: {"value": value} for key, value in extra.pop("env", {}).items()})
    return {
        "version": "1.0",
        "type": "docker",
        "status": extra.pop("status", "running"),
        "restartPolicy": extra.pop("restartPolicy", "always"),
        "settings": {"image": "${MODULES.supervised_probe}", "createOptions": "{}"},
        "env": env,
        **extra,
    }


def write_manifest(
    path: Path, modules: dict[str, dict[str, Any]], routes: dict[str, str] | None = None
) -> Path:
    """Write a deployment manifest; each probe learns its own name through PROBE_NAME."""
    for name, body in modules.items():
        body.setdefault("env", {}).setdefault("PROBE_NAME", {"value": name})
    manifest = {
        "modulesContent": {
            "$edgeAgent": {
                "properties.desired": {
                    "schemaVersion": "1.1",
                    "runtime": {"type": "docker", "settings": {}},
                    "systemModules": {},
                    "modules": modules,
                }
            },
            "$edgeHub": {"properties.desired": {"schemaVersion": "1.1", "routes": routes or {}}},
        }
    }
    path.write_text(json.dumps(manifest))
    return path


def read_records(path: Path) -> list[dict[str, Any]]:
    """Every line the probes appended to the record file."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
