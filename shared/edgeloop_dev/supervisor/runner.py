"""One module's life under the supervisor: start, watch (exit, health), back off, restart or give up."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from edgeloop_dev.supervisor.errors import SupervisorError
from edgeloop_dev.supervisor.health import HealthProbe
from edgeloop_dev.supervisor.policy import (
    BackoffConfig,
    Exit,
    HealthConfig,
    HealthTracker,
    ModuleState,
    after_exit,
    probes_health,
)
from edgeloop_dev.supervisor.process import ModuleProcess, free_port
from edgeloop_dev.supervisor.spec import DesiredStatus, ModuleSpec
from edgeloop_dev.supervisor.status import Event, ModuleStatus

EnvFactory = Callable[[int], dict[str, str]]  # METRICS_PORT -> the process's whole environment


class ModuleRunner:
    """Runs one module as a process and applies its restart policy; `run()` returns once stopped."""

    def __init__(
        self,
        spec: ModuleSpec,
        *,
        argv: Sequence[str],
        env_factory: EnvFactory,
        log_path: Path,
        cwd: Path | None,
        backoff: BackoffConfig,
        health: HealthConfig,
        stop_grace_s: float,
        probe: HealthProbe,
        emit: Callable[[Event], None],
        log_lines: int = 10,
        probe_host: str = "127.0.0.1",
    ) -> None:
        self.spec = spec
        self._argv = list(argv)
        self._env_factory = env_factory
        self.log_path = log_path
        self._cwd = cwd
        self._backoff = backoff
        self._health = health
        self._grace = stop_grace_s
        self._probe = probe
        self._emit = emit
        self._log_lines = log_lines
        self._probe_host = probe_host
        self.state = ModuleState.PENDING
        self.process: ModuleProcess | None = None
        self.metrics_port: int | None = None
        self.restarts = 0
        self.starts = 0
        self.stops = 0
        self._expected_since: float | None = None  # monotonic time the module became wanted running
        self._correct_s = 0.0  # finished spells of running and healthy
        self._correct_since: float | None = None  # the current spell, while running and healthy
        self.failures_in_row = 0
        self.last_error = ""
        self.last_lines: tuple[str, ...] = ()
        self.exit_code: int | None = None
        self.next_start_at: float | None = None
        self.started = asyncio.Event()  # set once the first start was attempted (or is not wanted)
        self.ready = asyncio.Event()  # set once /healthz answered, or the first process ended
        self._wake = asyncio.Event()
        self._stop = False
        self._restart = False

    # ---- requests from the supervisor -------------------------------------------------------
    def request_stop(self) -> None:
        """Stop the module gracefully and end `run()`."""
        self._stop = True
        self._wake.set()

    def request_restart(self) -> None:
        """Restart now (a manual restart: the back-off count starts afresh, a failed module runs again)."""
        self._restart = True
        self._wake.set()

    def kill(self, sig: int) -> None:
        """Send `sig` to the running process; the restart policy then applies as to any exit."""
        if self.process is None or self.process.returncode is not None:
            raise SupervisorError(f"module {self.spec.name} has no running process")
        self.process.send_signal(sig)

    # ---- status -----------------------------------------------------------------------------
    def status(self, messages_in: int = 0, messages_out: int = 0) -> ModuleStatus:
        """A snapshot of this module."""
        process = self.process
        alive = process is not None and process.returncode is None
        return ModuleStatus(
            name=self.spec.name,
            state=self.state,
            pid=process.pid if alive and process is not None else None,
            restarts=self.restarts,
            uptime_s=process.uptime_s if alive and process is not None else None,
            messages_in=messages_in,
            messages_out=messages_out,
            last_error=self.last_error,
            last_lines=self.last_lines,
            next_start_in_s=max(0.0, self.next_start_at - time.monotonic()) if self.next_start_at else None,
            failures_in_row=self.failures_in_row,
            restart_policy=self.spec.restart_policy.value,
            exit_code=self.exit_code,
            metrics_port=self.metrics_port,
            log_path=str(self.log_path),
            starts=self.starts,
            stops=self.stops,
            expected_running_s=0.0
            if self._expected_since is None
            else time.monotonic() - self._expected_since,
            running_correctly_s=self._running_correctly_s(),
        )

    def _running_correctly_s(self) -> float:
        current = 0.0 if self._correct_since is None else time.monotonic() - self._correct_since
        return self._correct_s + current

    def _set(self, state: ModuleState, message: str = "", lines: Sequence[str] = ()) -> None:
        healthy = state is ModuleState.RUNNING
        if healthy and self._correct_since is None:
            self._correct_since = time.monotonic()
        elif not healthy and self._correct_since is not None:
            self._correct_s += time.monotonic() - self._correct_since
            self._correct_since = None
        self.state = state
        pid = self.process.pid if self.process is not None and self.process.returncode is None else None
        self._emit(Event(self.spec.name, state, message, pid, self.restarts, tuple(lines)))

    # ---- the loop ---------------------------------------------------------------------------
    async def run(self) -> None:
        """Start, watch and restart the module until a stop is requested."""
        try:
            if self.spec.status is DesiredStatus.STOPPED:
                self.started.set()
                self.ready.set()
                self._set(ModuleState.STOPPED, "status is stopped in the manifest")
                if not await self._idle():
                    return
            self._expected_since = time.monotonic()
            while not self._stop:
                exit = await self._run_once()
                if exit is None or self._stop:
                    break
                if self._take_restart():
                    continue
                decision = after_exit(self.spec.restart_policy, exit, self.failures_in_row, self._backoff)
                self.failures_in_row = decision.failures_in_row
                self.last_error = decision.reason
                lines = self.process.tail(self._log_lines) if self.process and exit.failed else []
                if exit.failed:
                    self.last_lines = tuple(lines)
                if decision.delay_s is not None:
                    self.next_start_at = time.monotonic() + decision.delay_s
                    self._set(ModuleState.BACKOFF, decision.reason, lines)
                    await self._sleep(decision.delay_s)
                    self.next_start_at = None
                    if self._stop:
                        break
                    self._take_restart()
                    self.restarts += 1
                    continue
                self._set(
                    decision.state, decision.reason, lines if decision.state is ModuleState.FAILED else ()
                )
                if not await self._idle():
                    break
                self._take_restart()
        finally:
            await self._shutdown()

    async def _shutdown(self) -> None:
        process = self.process
        if process is not None and process.returncode is None:
            self.stops += 1
            self._set(ModuleState.STOPPING, f"SIGTERM, SIGKILL after {self._grace:g} s")
            self.exit_code = await asyncio.shield(process.terminate(self._grace))
            self._set(ModuleState.STOPPED, f"stopped by the supervisor (exit code {self.exit_code})")
        elif self.state not in (ModuleState.FAILED, ModuleState.STOPPED):
            code = "" if process is None else f" (exit code {process.returncode})"
            self._set(ModuleState.STOPPED, f"stopped by the supervisor{code}")
        # a module that had already failed or stopped keeps that state (and its last error) in the summary

    def _take_restart(self) -> bool:
        if not self._restart:
            return False
        self._restart = False
        self._wake.clear()
        self.failures_in_row = 0
        self.restarts += 1
        return True

    async def _idle(self) -> bool:
        """Wait for a restart or a stop request; True when it is a restart."""
        await self._wake.wait()
        self._wake.clear()
        return not self._stop

    async def _sleep(self, delay_s: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), delay_s)

    def _fixed_metrics_port(self) -> int | None:
        """The manifest's METRICS_PORT when it names a port; 0, -1 or none: a free port each start."""
        raw = self.spec.env.get("METRICS_PORT", "")
        return int(raw) if raw.isdigit() and int(raw) > 0 else None

    async def _run_once(self) -> Exit | None:
        """Run one process to its end; None when it was stopped on request."""
        self._set(ModuleState.STARTING)
        self.metrics_port = self._fixed_metrics_port() or free_port(self._probe_host)
        try:
            env = self._env_factory(self.metrics_port)
            self.process = process = await ModuleProcess.spawn(self._argv, env, self.log_path, self._cwd)
            self.starts += 1
        except SupervisorError as exc:
            self.started.set()
            self.ready.set()
            self.last_error = str(exc)
            return Exit(returncode=-1, uptime_s=0.0)
        self.started.set()
        self._set(ModuleState.RUNNING, f"metrics and /healthz on port {self.metrics_port}")
        waiter = asyncio.ensure_future(process.wait())
        woken = asyncio.ensure_future(self._wake.wait())
        watchers: set[asyncio.Future[Any]] = {waiter, woken}
        if not self.ready.is_set():
            watchers.add(asyncio.ensure_future(self._await_ready(process)))
        health = None
        if probes_health(self.spec.restart_policy):
            health = asyncio.ensure_future(self._watch_health(process))
            watchers.add(health)
        try:
            done, _ = await asyncio.wait(watchers, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in watchers - {waiter}:
                task.cancel()
        if waiter in done:
            self.ready.set()
            self.exit_code = waiter.result()
            return Exit(self.exit_code, process.uptime_s)
        waiter.cancel()
        if health is not None and health in done and not health.cancelled() and health.result():
            uptime = process.uptime_s
            self._set(ModuleState.UNHEALTHY, f"/healthz failed {self._health.threshold} times in a row")
            self.exit_code = await process.terminate(self._grace)
            return Exit(self.exit_code, uptime, unhealthy=True)
        uptime = process.uptime_s
        reason = "stop requested" if self._stop else "restart requested"
        self._set(ModuleState.STOPPING, reason)
        self.exit_code = await asyncio.shield(process.terminate(self._grace))
        if self._stop:
            return None
        return Exit(self.exit_code, uptime)

    async def _await_ready(self, process: ModuleProcess) -> None:
        """Set `ready` once `/healthz` first answers (startup order waits for it); never completes."""
        while process.returncode is None and not self.ready.is_set():
            if await self._probe.healthy(self._probe_host, self.metrics_port or 0):
                self.ready.set()
                break
            await asyncio.sleep(0.1)
        await asyncio.Event().wait()

    async def _watch_health(self, process: ModuleProcess) -> bool:
        tracker = HealthTracker(self._health)
        port = self.metrics_port or 0
        while process.returncode is None:
            await asyncio.sleep(self._health.interval_s)
            ok = await self._probe.healthy(self._probe_host, port)
            if tracker.observe(ok, process.uptime_s):
                return True
        return False
