"""Snapshots and events the supervisor publishes: what the table, the log lines and tests read."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field

from edgeloop_dev.supervisor.policy import ModuleState
from edgeloop_dev.supervisor.spec import SkippedModule


@dataclass(frozen=True)
class ModuleStatus:
    """One supervised process (a module, or the hub) at one instant."""

    name: str
    state: ModuleState
    pid: int | None = None
    restarts: int = 0
    uptime_s: float | None = None
    messages_in: int = 0
    messages_out: int = 0
    last_error: str = ""
    last_lines: tuple[str, ...] = ()
    next_start_in_s: float | None = None
    failures_in_row: int = 0
    restart_policy: str = ""
    exit_code: int | None = None
    metrics_port: int | None = None
    log_path: str = ""
    # edgeAgent's bookkeeping (its built-in metrics): starts and stops asked of the process, seconds
    # it was wanted running (since the supervisor started it) and seconds it was running and healthy
    starts: int = 0
    stops: int = 0
    expected_running_s: float = 0.0
    running_correctly_s: float = 0.0


@dataclass(frozen=True)
class Snapshot:
    """The hub and every module, plus the manifest modules that are not run here and why."""

    hub: ModuleStatus
    modules: tuple[ModuleStatus, ...]
    skipped: tuple[SkippedModule, ...] = ()

    def module(self, name: str) -> ModuleStatus:
        """The status of one module, by name."""
        for status in self.modules:
            if status.name == name:
                return status
        raise KeyError(name)


@dataclass(frozen=True)
class Event:
    """A state change, as one plain log line and one JSON line in `DIR/logs/supervisor.log`."""

    module: str
    state: ModuleState
    message: str = ""
    pid: int | None = None
    restarts: int = 0
    last_lines: tuple[str, ...] = ()
    ts: float = field(default_factory=time.time)

    def line(self) -> str:
        """A human log line."""
        stamp = time.strftime("%H:%M:%S", time.localtime(self.ts)) + f".{int(self.ts % 1 * 1000):03d}"
        pid = f" pid={self.pid}" if self.pid else ""
        text = f"{stamp} {self.module:<18} {self.state.value:<9}{pid} restarts={self.restarts}"
        if self.message:
            text += f" {self.message}"
        for log_line in self.last_lines:
            text += f"\n    | {log_line}"
        return text

    def json(self) -> str:
        """A JSON line."""
        data = asdict(self)
        data["state"] = self.state.value
        data["last_lines"] = list(self.last_lines)
        return json.dumps(data)
