"""A module's OS process: spawn with its environment and log file, signal, stop gracefully, tail its log."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import socket
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from edgeloop_dev.supervisor.errors import SupervisorError

# The environment a process inherits from the supervisor; everything else comes from the manifest and
# the hub, as in a container (a developer's own EdgeHubConnectionString must not leak into a module).
INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "VIRTUAL_ENV", "SYSTEMROOT")
_TAIL_BYTES = 64 * 1024
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before exec: Linux sends it SIGTERM if the supervisor dies (even by SIGKILL)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # not Linux: orphans are possible after a hard kill of the supervisor


def base_environment(source: Mapping[str, str] | None = None) -> dict[str, str]:
    """The few variables a local process needs from its parent."""
    source = os.environ if source is None else source
    return {key: source[key] for key in INHERITED if key in source}


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free now on `host` (the module binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def tail_lines(path: Path, offset: int = 0, count: int = 10) -> list[str]:
    """The last `count` lines written to `path` after byte `offset` (what the latest run printed)."""
    try:
        with path.open("rb") as file:
            size = file.seek(0, os.SEEK_END)
            start = max(offset, size - _TAIL_BYTES)
            file.seek(start)
            data = file.read()
    except OSError:
        return []
    lines = data.decode("utf-8", errors="replace").splitlines()
    if start > offset and lines:
        lines = lines[1:]  # the first line was cut by the byte window
    return [line for line in lines if line.strip()][-count:]


class ModuleProcess:
    """One child process in its own session (so that a terminal's Ctrl-C reaches only the supervisor)."""

    def __init__(self, process: asyncio.subprocess.Process, log_path: Path, log_offset: int) -> None:
        self._process = process
        self.log_path = log_path
        self.log_offset = log_offset
        self.started_at = time.monotonic()

    @classmethod
    async def spawn(
        cls, argv: Sequence[str], env: Mapping[str, str], log_path: Path, cwd: Path | None = None
    ) -> ModuleProcess:
        """Start `argv` with exactly `env`, stdout and stderr appended to `log_path`."""
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log:
            offset = log.seek(0, os.SEEK_END)
            try:
                process = await asyncio.create_subprocess_exec(
                    *argv,
                    env=dict(env),
                    cwd=cwd,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=log,
                    stderr=asyncio.subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=_die_with_parent if sys.platform == "linux" else None,
                )
            except OSError as exc:
                raise SupervisorError(f"cannot start {argv[0]}: {exc.strerror}") from exc
        return cls(process, log_path, offset)

    @property
    def pid(self) -> int:
        """The process id."""
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        """None while it runs; else its exit code (negative: the signal that killed it)."""
        return self._process.returncode

    @property
    def uptime_s(self) -> float:
        """Seconds since it was started."""
        return time.monotonic() - self.started_at

    async def wait(self) -> int:
        """Wait for it to end and return its exit code."""
        return await self._process.wait()

    def send_signal(self, sig: int) -> None:
        """Send `sig` to its whole process group; a process that already ended is left alone."""
        if self._process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            try:
                os.killpg(self._process.pid, sig)
            except PermissionError:
                self._process.send_signal(sig)

    async def terminate(self, grace_s: float) -> int:
        """SIGTERM, wait up to `grace_s`, then SIGKILL; return the exit code."""
        if self._process.returncode is not None:
            return self._process.returncode
        self.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(asyncio.shield(self._process.wait()), grace_s)
        except TimeoutError:
            self.send_signal(signal.SIGKILL)
            return await self._process.wait()

    def tail(self, count: int = 10) -> list[str]:
        """The last lines this run wrote to its log."""
        return tail_lines(self.log_path, self.log_offset, count)
