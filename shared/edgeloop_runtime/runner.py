"""The module lifecycle: connect, configure, serve inputs/methods/patches, drain on SIGTERM, exit."""

from __future__ import annotations

import asyncio
import functools
import signal
import time
from collections.abc import Mapping
from typing import Any

from .client import HubClient, SdkHubClient
from .context import Context
from .errors import ConfigError, EdgeloopError, FatalError, TransientError
from .heapwatch import HEAP_FILE, heap_interval, watch_heap
from .inputs import InputQueue
from .intake import Intake
from .last_valid import LAST_VALID_FILE, LastValidConfig
from .logs import get_logger
from .messages import MethodRequest
from .methods import BoundMethod, dispatch
from .metrics import Metrics, MetricsServer
from .settings import ModuleSettings, env_overrides
from .spec import ModuleSpec
from .status import status_snapshot
from .twin_config import TwinConfig

_log = get_logger(__name__)
EXIT_OK, EXIT_FATAL, EXIT_CONFIG = 0, 1, 2
_CONNECT_BACKOFF = (0.5, 1.0, 2.0, 5.0, 10.0)
_TASK_BACKOFF_MAX_S = 30.0
# edgeHub is on the same device: after it restarts, reconnect within seconds, not the SDK's default 10 s.
_HUB_RETRY_INTERVAL_S = 2


class ModuleRunner:
    """Runs one module's spec: one task group, bounded queues, twin-driven configuration, graceful stop."""

    def __init__(
        self,
        module: ModuleSpec[Any, Any],
        settings: ModuleSettings,
        env: Mapping[str, str],
        *,
        client: HubClient | None,
        stop: asyncio.Event | None,
    ) -> None:
        self.module = module
        self.env_values = env_overrides(module.settings_cls, env)
        self.raw_env = env
        self.client = client
        self.stop = stop or asyncio.Event()
        self.metrics = Metrics(module.name, module.version)
        self.initial_settings = settings
        self.config: TwinConfig
        self.config_queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(100)
        self.exit_code = EXIT_OK
        self.intake_open = False
        self.ctx: Context[Any, Any]
        self.queues: dict[str, InputQueue] = {}
        self.intake: Intake
        self._loop: asyncio.AbstractEventLoop

    # ---- start-up -------------------------------------------------------------------------
    async def run(self) -> int:
        loop = self._loop = asyncio.get_running_loop()
        self.queues = {name: InputQueue(spec) for name, spec in self.module.inputs.items()}
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, self._request_stop, sig.name)
            except (NotImplementedError, RuntimeError, ValueError):
                pass  # not the main thread (tests), or not supported
        try:
            client: HubClient = (
                self.client
                if self.client is not None
                else await asyncio.to_thread(
                    SdkHubClient.from_edge_environment, connection_retry_interval=_HUB_RETRY_INTERVAL_S
                )
            )
        except FatalError as exc:
            _log.error("cannot create the edgeHub client", error=str(exc))
            return EXIT_FATAL
        self.client = client
        self.ctx = Context(self.module.name, self.module.version, self.initial_settings, client, self.metrics)
        last_valid = LastValidConfig(self.ctx.state_dir / LAST_VALID_FILE, self.metrics)
        self.config = TwinConfig(self.module, self.env_values, self.ctx, self.metrics, last_valid)
        self.intake = Intake(self.queues, self.ctx, client, self.metrics, loop)
        self.metrics.unacknowledged.set_function(client.unacknowledged)  # read at each scrape
        if not await self._connect():
            return self.exit_code
        try:
            return await self._serve()
        finally:
            try:
                await asyncio.wait_for(client.shutdown(), timeout=10)
            except (EdgeloopError, TimeoutError) as exc:
                _log.warning("client shutdown incomplete", error=str(exc))

    def _request_stop(self, why: str = "requested") -> None:
        if not self.stop.is_set():
            _log.info("stopping", reason=why)
            self.stop.set()

    async def _connect(self) -> bool:
        assert self.client is not None
        attempt = 0
        while not self.stop.is_set():
            try:
                if self.module.inputs and not self.intake_open:
                    # Subscribe to inputs before anything else: edgeHub keeps the session's
                    # subscription and delivers stored messages right after CONNECT; the SDK
                    # drops any that arrive before a handler exists.
                    # Until the workers start, messages wait in the bounded queues.
                    await self.client.set_message_handler(self.intake.on_message)
                    self.intake_open = True
                await self.client.connect()
                _log.info("connected to edgeHub", module=self.module.name, version=self.module.version)
                return True
            except (TransientError, TimeoutError) as exc:
                delay = _CONNECT_BACKOFF[min(attempt, len(_CONNECT_BACKOFF) - 1)]
                attempt += 1
                _log.warning("edgeHub not reachable; retrying", error=str(exc), retry_in_s=delay)
                try:
                    await asyncio.wait_for(self.stop.wait(), timeout=delay)
                except TimeoutError:
                    pass
            except EdgeloopError as exc:
                _log.error("cannot connect to edgeHub", error=str(exc))
                self.exit_code = EXIT_FATAL
                return False
        return False

    # ---- serving --------------------------------------------------------------------------
    async def _serve(self) -> int:
        assert self.client is not None
        ctx = self.ctx
        server = MetricsServer(self.metrics, self._health)
        fatal: list[BaseException] = []
        try:
            ctx._set_state(await self._start_state())
            # Listen for desired patches before reading the twin: a patch pushed in between would
            # otherwise be missed. Patches wait in the queue; those the twin already holds are skipped.
            await self.client.set_desired_handler(self._on_desired)
            if not await self.config.initial(self.client):
                return EXIT_CONFIG
            port = ctx.settings.metrics_port
            if port >= 0:
                bound = await server.start(ctx.settings.metrics_host, port)
                ctx.endpoints["metrics"] = f"http://{ctx.settings.metrics_host}:{bound}/metrics"
            # Methods are subscribed (the SDK's setter returns at SUBACK) before "running" is reported:
            # whoever sees "running" in the twin can call them at once.
            await self.client.set_method_handler(self._on_method)
            ctx.status = "running"
            ctx.set_health(True)
            await ctx.report(self._reported())
            async with asyncio.TaskGroup() as group:
                workers = [
                    group.create_task(self.intake.worker(queue), name=f"input:{queue.name}")
                    for queue in self.queues.values()
                    for _ in range(queue.spec.concurrency)
                ]
                workers.append(group.create_task(self._config_worker(), name="config"))
                workers += [
                    group.create_task(self._supervise_task(name, func), name=f"task:{name}")
                    for name, func in self.module.tasks.items()
                ]
                if (interval := heap_interval(self.raw_env)) is not None:
                    heap_file = ctx.state_dir / HEAP_FILE
                    workers.append(group.create_task(watch_heap(heap_file, interval), name="tracemalloc"))
                await self.stop.wait()
                await self._drain()
                for worker in workers:
                    worker.cancel()
            for hook in self.module.stop_hooks:
                await hook(ctx)
            ctx.status = "stopped"
            await ctx.report({"status": "stopped"})
        except* FatalError as group_error:
            fatal.extend(group_error.exceptions)
        finally:
            await ctx.exit_stack.aclose()
            await server.stop()
        for exc in fatal:
            _log.error("fatal error; module exits", error=str(exc))
        return EXIT_FATAL if fatal else self.exit_code

    async def _start_state(self) -> Any:
        """Run on_start and check that it returned the declared state (None for a module without one)."""
        state = None if self.module.start is None else await self.module.start(self.ctx)
        if not isinstance(state, self.module.state_cls):
            raise FatalError(
                f"on_start returned {type(state).__name__}, "
                f"not the module's state class {self.module.state_cls.__name__}"
            )
        return state

    async def _drain(self) -> None:
        assert self.client is not None
        self.ctx.status = "stopping"
        self.ctx.set_health(True)
        if self.intake_open:
            self.intake_open = False
            try:  # stop intake: edgeHub keeps new messages for us while we are gone
                await self.client.set_message_handler(None)
            except (EdgeloopError, TimeoutError) as exc:
                _log.warning("could not unsubscribe inputs", error=str(exc))
        await self.intake.drain(self.ctx.settings.shutdown_grace_seconds)

    def _reported(self) -> dict[str, Any]:
        return {
            "module": {"name": self.module.name, "version": self.module.version},
            "status": self.ctx.status,
            "config": self.config.state,
            "lastError": self.ctx.last_error,
            "endpoints": self.ctx.endpoints,
        }

    def _health(self) -> tuple[bool, dict[str, Any]]:
        ctx = self.ctx
        ok = ctx.healthy and ctx.status in ("running", "stopping")
        return ok, {
            "status": ctx.status,
            "healthy": ctx.healthy,
            "reason": ctx.health_reason,
            "module": self.module.name,
            "version": self.module.version,
        }

    # ---- methods and twin -----------------------------------------------------------------
    async def _on_method(self, request: MethodRequest) -> None:
        future = asyncio.run_coroutine_threadsafe(self._handle_method(request), self._loop)
        await asyncio.wrap_future(future)

    async def _handle_method(self, request: MethodRequest) -> None:
        response = await dispatch(_RunnerMethods(self), request)
        self.metrics.methods.labels(method=request.name, status=str(response.status)).inc()
        assert self.client is not None
        try:
            await self.client.send_method_response(request.request_id, response.status, response.payload)
        except EdgeloopError as exc:
            _log.warning("method response not sent", method=request.name, error=str(exc))

    async def _on_desired(self, patch: dict[str, Any]) -> None:
        future = asyncio.run_coroutine_threadsafe(self._queue_patch(patch), self._loop)
        await asyncio.wrap_future(future)

    async def _queue_patch(self, patch: dict[str, Any]) -> None:
        await self.config_queue.put(patch)

    async def _config_worker(self) -> None:
        while True:
            await self.config.apply_patch(await self.config_queue.get())

    async def _supervise_task(self, name: str, func: Any) -> None:
        delay = 1.0
        while True:
            started = time.monotonic()
            try:
                await func(self.ctx)
                return
            except asyncio.CancelledError:
                raise
            except (FatalError, ConfigError):
                raise
            except Exception as exc:
                self.metrics.task_restarts.labels(task=name).inc()
                self.ctx.record_error(f"task:{name}", exc)
                _log.exception("background task crashed; restarting", task=name, retry_in_s=delay)
                if time.monotonic() - started > 60:
                    delay = 1.0
                await asyncio.sleep(delay)
                delay = min(delay * 2, _TASK_BACKOFF_MAX_S)


class _RunnerMethods:
    """The method dispatcher's view of a running module (see `methods.MethodHost`)."""

    def __init__(self, runner: ModuleRunner) -> None:
        self._runner = runner
        self.name = runner.module.name
        self.version = runner.module.version

    @property
    def handlers(self) -> dict[str, BoundMethod]:
        ctx = self._runner.ctx
        return {name: functools.partial(func, ctx) for name, func in self._runner.module.methods.items()}

    def status(self) -> dict[str, Any]:
        runner = self._runner
        client = runner.client
        return status_snapshot(
            runner.module,
            runner.ctx,
            config_state=runner.config.state,
            queues=runner.queues,
            unacknowledged=client.unacknowledged() if client is not None else 0,
            held_back=list(runner.intake.held.values()),
        )

    def record_error(self, where: str, error: BaseException) -> None:
        self._runner.ctx.record_error(where, error)
