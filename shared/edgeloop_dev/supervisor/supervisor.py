"""The supervisor: the hub, then every repo module of the manifest, in startup order, under its policy."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from edgeloop_dev.supervisor.agent_metrics import EdgeAgentCollector, serve
from edgeloop_dev.supervisor.envfile import load_env_file
from edgeloop_dev.supervisor.errors import HubStartError, ManifestError, UnknownModuleError
from edgeloop_dev.supervisor.health import HealthProbe
from edgeloop_dev.supervisor.hubproc import Hub, HubProcess
from edgeloop_dev.supervisor.metrics import Counts, message_counts
from edgeloop_dev.supervisor.policy import BackoffConfig, Exit, HealthConfig, ModuleState, after_exit
from edgeloop_dev.supervisor.process import base_environment
from edgeloop_dev.supervisor.runner import ModuleRunner
from edgeloop_dev.supervisor.spec import Plan, RestartPolicy, local_packages, plan, startup_groups
from edgeloop_dev.supervisor.status import Event, ModuleStatus, Snapshot

HUB = "$edgeHub"


@dataclass(frozen=True)
class SupervisorConfig:
    """Everything `edgeloop run` takes; the defaults suit a laptop, tests scale the timings down."""

    manifest: Path
    state_dir: Path
    host: str = "127.0.0.1"
    modules: tuple[str, ...] | None = None
    env_file: Path | None = None
    credentials: str = "connection-string"  # or "workload": the hub's IOTEDGE_* variables
    backoff: BackoffConfig = field(default_factory=BackoffConfig)
    health: HealthConfig = field(default_factory=HealthConfig)
    stop_grace_s: float = 10.0
    repo_root: Path | None = None  # holds modules/ and shared/; found from the manifest upwards by default
    python_path: tuple[Path, ...] = ()  # more folders holding module packages (tests)
    metrics_interval_s: float = 1.0
    log_lines: int = 10
    startup_timeout_s: float = 15.0  # how long a startup group may take to answer /healthz
    # edgeAgent's built-in metrics on http://host:PORT/metrics (0: a free port; None: not served)
    agent_metrics_port: int | None = None


def find_repo_root(start: Path) -> Path:
    """The folder holding `modules/` and `shared/`: above the manifest, else above the current
    directory, else the checkout this package lives in."""
    here = Path(__file__).resolve().parents[3]
    for origin in (start.resolve(), Path.cwd().resolve(), here):
        for folder in (origin, *origin.parents):
            if (folder / "modules").is_dir() and (folder / "shared").is_dir():
                return folder
    return Path.cwd()


def load_plan(config: SupervisorConfig, repo_root: Path) -> Plan:
    """Read the manifest and the env file and work out which modules run here."""
    try:
        manifest: Any = json.loads(config.manifest.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ManifestError(f"cannot read manifest {config.manifest}: {exc.strerror}") from exc
    except ValueError as exc:
        raise ManifestError(f"manifest {config.manifest} is not JSON: {exc}") from exc
    # $EDGELOOP_STATE_DIR in the manifest names this run's state directory (the debug template keeps
    # every module's writable paths under it): always --state-dir, whatever an env file says. Without
    # a .env (a fresh clone) evidence blobs go to a folder in it, as the demo does without Azurite.
    state = config.state_dir.resolve()
    variables = {"BLOB_CONNECTION_STRING": f"file://{state / 'blob'}"}
    variables.update(load_env_file(config.env_file) if config.env_file else {})
    variables["EDGELOOP_STATE_DIR"] = str(state)
    packages = local_packages(repo_root / "modules")
    for folder in config.python_path:
        packages += local_packages(folder)
    return plan(manifest, packages, variables, config.modules)


class Supervisor:
    """Python API of `edgeloop run`: `async with Supervisor(config) as sup: sup.status()`."""

    def __init__(
        self,
        config: SupervisorConfig,
        hub: Hub | None = None,
        on_event: Callable[[Event], None] | None = None,
    ) -> None:
        self.config = config
        self.repo_root = config.repo_root or find_repo_root(config.manifest.parent)
        self.plan = load_plan(config, self.repo_root)
        self.hub: Hub = hub or HubProcess(
            config.manifest, config.state_dir, config.host, credentials=config.credentials
        )
        self._on_event = on_event
        self._runners: dict[str, ModuleRunner] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._counts: dict[str, Counts] = {}
        self._hub_state = ModuleState.PENDING
        self._hub_restarts = 0
        self._hub_error = ""
        self._hub_lines: tuple[str, ...] = ()
        self._hub_started_at: float | None = None
        self._background: list[asyncio.Task[None]] = []
        self._probe = HealthProbe(config.health.timeout_s)
        self._log: IO[str] | None = None
        self._stopping = False
        self._agent_server: Any = None
        self.agent_metrics_url: str | None = None

    # ---- lifecycle --------------------------------------------------------------------------
    async def __aenter__(self) -> Supervisor:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Start the hub, then each startup group in turn; return once every group was started."""
        logs = self.config.state_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self._log = (logs / "supervisor.log").open("a", encoding="utf-8")
        await self._probe.__aenter__()
        for skipped in self.plan.skipped:
            self._emit(Event(skipped.name, ModuleState.STOPPED, f"not run here: {skipped.reason}"))
        try:
            self._hub_event(ModuleState.STARTING, f"{self.config.host}:8883")
            await self.hub.start()
        except HubStartError as exc:
            self._hub_error = str(exc)
            self._hub_event(ModuleState.FAILED, str(exc))
            await self._close()
            raise
        self._hub_started_at = time.monotonic()
        self._hub_event(ModuleState.RUNNING)
        self._background.append(asyncio.create_task(self._watch_hub()))
        self._background.append(asyncio.create_task(self._poll_metrics()))
        if self.config.agent_metrics_port is not None:
            collector = EdgeAgentCollector(self.status, "local", "edgeloop-device", self.config.state_dir)
            self._agent_server = serve(collector, self.config.host, self.config.agent_metrics_port)
            self.agent_metrics_url = f"http://{self.config.host}:{self._agent_server.server_port}/metrics"
        for group in startup_groups(self.plan.modules):
            runners = [self._runner(spec) for spec in group]
            for runner in runners:
                self._runners[runner.spec.name] = runner
                self._tasks[runner.spec.name] = asyncio.create_task(runner.run(), name=runner.spec.name)
            await self._wait_ready(runners)

    async def _wait_ready(self, runners: Sequence[ModuleRunner]) -> None:
        """edgeAgent starts a group once the one before was started; here: once it answers /healthz."""
        waits = [asyncio.ensure_future(runner.ready.wait()) for runner in runners]
        _, pending = await asyncio.wait(waits, timeout=self.config.startup_timeout_s)
        for task in pending:
            task.cancel()
        for runner in runners:
            if not runner.ready.is_set():
                self._emit(
                    Event(
                        runner.spec.name,
                        runner.state,
                        f"no /healthz answer in {self.config.startup_timeout_s:g} s: starting the next group",
                    )
                )

    async def stop(self) -> None:
        """Stop modules gracefully (last startup group first), then the hub."""
        if self._stopping:
            return
        self._stopping = True
        for group in reversed(startup_groups(self.plan.modules)):
            names = [spec.name for spec in group if spec.name in self._runners]
            for name in names:
                self._runners[name].request_stop()
            await asyncio.gather(*(self._tasks[name] for name in names), return_exceptions=True)
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        if self._agent_server is not None:
            await asyncio.to_thread(self._agent_server.shutdown)
            self._agent_server.server_close()
            self._agent_server = None
        if self.hub.pid is not None:
            self._hub_event(ModuleState.STOPPING)
            code = await self.hub.stop(self.config.stop_grace_s)
            self._hub_event(ModuleState.STOPPED, f"exit code {code}")
        await self._close()

    async def _close(self) -> None:
        await self._probe.__aexit__(None, None, None)
        if self._log is not None:
            self._log.close()
            self._log = None

    # ---- chaos and control ------------------------------------------------------------------
    def kill(self, module: str, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to a module's process (or to the hub, as "$edgeHub"); policies apply as usual."""
        if module == HUB:
            self.hub.send_signal(sig)
            return
        self._get(module).kill(sig)

    async def restart(self, module: str, timeout_s: float = 30.0) -> ModuleStatus:
        """Restart a module now (as `iotedge restart`; a failed one too) and return once it was respawned."""
        runner = self._get(module)
        old = runner.process
        runner.request_restart()
        deadline = time.monotonic() + timeout_s
        while runner.process is old or runner.state is ModuleState.STARTING:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{module}: not restarted in {timeout_s:g} s ({runner.state.value})")
            await asyncio.sleep(0.02)
        return self.status().module(module)

    async def wait_for(
        self, module: str, predicate: Callable[[ModuleStatus], bool], timeout_s: float = 30.0
    ) -> ModuleStatus:
        """Wait until a module's status satisfies `predicate`; TimeoutError names the last status."""
        deadline = time.monotonic() + timeout_s
        while True:
            status = self.status().module(module) if module != HUB else self.status().hub
            if predicate(status):
                return status
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{module}: still {status.state.value} ({status.last_error})")
            await asyncio.sleep(0.05)

    def status(self) -> Snapshot:
        """A snapshot of the hub and every module."""
        modules = tuple(
            runner.status(
                self._counts.get(name, Counts()).messages_in, self._counts.get(name, Counts()).messages_out
            )
            for name, runner in self._runners.items()
        )
        started = self._hub_started_at
        hub = ModuleStatus(
            name=HUB,
            state=self._hub_state,
            pid=self.hub.pid,
            restarts=self._hub_restarts,
            uptime_s=time.monotonic() - started if started is not None and self.hub.pid else None,
            last_error=self._hub_error,
            last_lines=self._hub_lines,
            restart_policy=RestartPolicy.ALWAYS.value,
        )
        return Snapshot(hub, modules, self.plan.skipped)

    def _get(self, module: str) -> ModuleRunner:
        try:
            return self._runners[module]
        except KeyError:
            raise UnknownModuleError(f"no supervised module named {module!r}") from None

    # ---- internals --------------------------------------------------------------------------
    def _runner(self, spec: Any) -> ModuleRunner:
        root = self.repo_root
        paths = [root / "modules", root / "shared", *self.config.python_path]
        pythonpath = ":".join(str(path) for path in paths)

        def env_factory(metrics_port: int) -> dict[str, str]:
            env = base_environment()
            env.update(spec.env)
            env.update(self.hub.module_environment(spec.name))
            env.update({"PYTHONUNBUFFERED": "1", "PYTHONPATH": pythonpath, "METRICS_PORT": str(metrics_port)})
            # Each module's own durable folder under this run's state (unless the manifest names one).
            if "STATE_DIR" not in spec.env:
                env["STATE_DIR"] = str(self.config.state_dir.resolve() / "modules" / spec.name)
            return env

        return ModuleRunner(
            spec,
            argv=[sys.executable, "-m", spec.package],
            env_factory=env_factory,
            log_path=self.config.state_dir / "logs" / f"{spec.name}.log",
            cwd=root,
            backoff=self.config.backoff,
            health=self.config.health,
            stop_grace_s=self.config.stop_grace_s,
            probe=self._probe,
            emit=self._emit,
            log_lines=self.config.log_lines,
        )

    def _emit(self, event: Event) -> None:
        if self._log is not None:
            self._log.write(event.json() + "\n")
            self._log.flush()
        if self._on_event is not None:
            self._on_event(event)

    def _hub_event(self, state: ModuleState, message: str = "", lines: Sequence[str] = ()) -> None:
        self._hub_state = state
        self._emit(Event(HUB, state, message, self.hub.pid, self._hub_restarts, tuple(lines)))

    async def _watch_hub(self) -> None:
        """edgeAgent always restarts edgeHub: do the same, with the same back-off, until stopped."""
        failures = 0
        while True:
            code = await self.hub.wait()
            if self._stopping:
                return
            started = self._hub_started_at or time.monotonic()
            decision = after_exit(
                RestartPolicy.ALWAYS, Exit(code, time.monotonic() - started), failures, self.config.backoff
            )
            failures = decision.failures_in_row
            self._hub_error = decision.reason
            self._hub_lines = tuple(self.hub.tail(self.config.log_lines))
            self._hub_event(decision.state, decision.reason, self._hub_lines)
            if decision.delay_s is None:
                return
            await asyncio.sleep(decision.delay_s)
            self._hub_restarts += 1
            while not self._stopping:
                try:
                    self._hub_event(ModuleState.STARTING)
                    await self.hub.start()
                    break
                except HubStartError as exc:
                    self._hub_error = str(exc)
                    decision = after_exit(RestartPolicy.ALWAYS, Exit(-1, 0.0), failures, self.config.backoff)
                    failures = decision.failures_in_row
                    self._hub_event(decision.state, f"{exc}; {decision.reason}")
                    if decision.delay_s is None:
                        return
                    await asyncio.sleep(decision.delay_s)
            self._hub_started_at = time.monotonic()
            self._hub_event(ModuleState.RUNNING)

    async def _poll_metrics(self) -> None:
        names = [spec.name for spec in self.plan.modules]
        while True:
            url = self.hub.metrics_url()
            text = await self._probe.fetch_text(url) if url else None
            if text:
                with contextlib.suppress(ValueError):
                    self._counts = message_counts(text, names)
            await asyncio.sleep(self.config.metrics_interval_s)
