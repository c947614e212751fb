"""A module's declaration: its name, settings, inputs, methods, hooks and tasks; `main()` runs it."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, overload

from .errors import ConfigError
from .inputs import InputSpec, Overflow
from .logs import configure_logging, get_logger
from .module_json import module_version
from .module_json import package_dir as find_package_dir
from .runner import ModuleRunner
from .settings import ModuleSettings, load_env_settings
from .spec import ConfigHook, Hook, InputFunc, MethodFunc, ModuleSpec, StartHook, StatusProvider
from .standalone import StandaloneClient, standalone_requested

if TYPE_CHECKING:
    from .client import HubClient

__all__ = ["EXIT_CONFIG", "Module", "module_version"]

S = TypeVar("S", bound=ModuleSettings)
T = TypeVar("T")

EXIT_CONFIG = 2
NO_STATE: type[None] = type(None)  # the state class of a module declared without one
_log = get_logger(__name__)


class Module(ModuleSpec[S, T]):
    """Declare an IoT Edge module on the runtime; see DEVELOPERS.md for a worked example.

    `Module(name, Settings, State)`: `on_start` returns the `State` object and every handler reads it,
    typed, as `ctx.state` (its context is a `Context[Settings, State]`). Without a state class the
    module's state is None.
    """

    @overload
    def __init__(
        self: Module[S, None],
        name: str,
        settings: type[S],
        *,
        version: str | None = None,
        package_dir: Path | None = None,
        fail_safe: Mapping[str, Any] | None = None,
    ) -> None: ...

    @overload
    def __init__(
        self,
        name: str,
        settings: type[S],
        state: type[T],
        *,
        version: str | None = None,
        package_dir: Path | None = None,
        fail_safe: Mapping[str, Any] | None = None,
    ) -> None: ...

    def __init__(
        self,
        name: str,
        settings: type[S],
        state: type[Any] = NO_STATE,
        *,
        version: str | None = None,
        package_dir: Path | None = None,
        fail_safe: Mapping[str, Any] | None = None,
    ) -> None:
        """`fail_safe`: settings (by field name) forced when the twin is refused at start and no valid
        configuration was ever persisted, e.g. `{"enabled": False}` for a module that acts on a plant."""
        unknown = sorted(set(fail_safe or {}) - set(settings.model_fields))
        if unknown:
            raise ValueError(f"fail_safe names fields {settings.__name__} does not have: {unknown}")
        if version is None:
            # The module's name is its package (modules/<name>/), where its module.json lives.
            here = package_dir or find_package_dir(name)
            version = module_version(here) if here else "0.0.0"
        super().__init__(name, settings, state, version, dict(fail_safe or {}))

    def input(
        self, name: str, *, queue_size: int = 1000, overflow: Overflow = "block", concurrency: int = 1
    ) -> Callable[[InputFunc[S, T]], InputFunc[S, T]]:
        """Register the handler of one input, with its queue bound and overflow policy."""

        def register(func: InputFunc[S, T]) -> InputFunc[S, T]:
            self.inputs[name] = InputSpec(name, func, queue_size, overflow, concurrency)
            return func

        return register

    def method(self, name: str) -> Callable[[MethodFunc[S, T]], MethodFunc[S, T]]:
        """Register a direct method handler: `async (ctx, payload) -> payload` (MethodError for non-200)."""

        def register(func: MethodFunc[S, T]) -> MethodFunc[S, T]:
            self.methods[name] = func
            return func

        return register

    def on_config(self, func: ConfigHook[S, T]) -> ConfigHook[S, T]:
        """Run at start and whenever new settings are about to apply; raising refuses them."""
        self.config_hooks.append(func)
        return func

    def on_start(self, func: StartHook[S, T]) -> StartHook[S, T]:
        """Run once after connecting, before intake opens; what it returns is `ctx.state` from then on.

        One per module (it builds the whole state). Open resources on ctx.exit_stack.
        """
        if self.start is not None:
            raise ValueError(f"{self.name}: one on_start per module (it returns the module's state)")
        self.start = func
        return func

    def on_stop(self, func: Hook[S, T]) -> Hook[S, T]:
        """Run once after intake has drained, before the client closes."""
        self.stop_hooks.append(func)
        return func

    def task(self, func: Hook[S, T]) -> Hook[S, T]:
        """Run a long-lived coroutine in the module's task group (restarted with back-off if it crashes)."""
        self.tasks[getattr(func, "__name__", f"task{len(self.tasks)}")] = func
        return func

    def status_provider(self, func: StatusProvider[S, T]) -> StatusProvider[S, T]:
        """Add fields to the getStatus method's answer."""
        self.status_providers.append(func)
        return func

    async def run(
        self,
        *,
        env: Mapping[str, str] | None = None,
        client: HubClient | None = None,
        stop: asyncio.Event | None = None,
    ) -> int:
        """Run until stopped; return the process exit code."""
        env = os.environ if env is None else env
        try:
            settings = load_env_settings(self.settings_cls, env)
        except ConfigError as exc:
            _log.error("invalid configuration", error=str(exc), field=exc.field, origin=exc.origin)
            return EXIT_CONFIG
        if client is None and standalone_requested(env):
            client = StandaloneClient()
        runner = ModuleRunner(self, settings, env, client=client, stop=stop)
        return await runner.run()

    def main(self) -> NoReturn:
        """Entry point of `python -m <module>`: configure logs, run, exit with the code."""
        level = os.environ.get("LOG_LEVEL", "INFO")
        configure_logging(
            self.name, level if level.upper() in ("DEBUG", "INFO", "WARNING", "ERROR") else "INFO"
        )
        # A stop requested before the loop installs its own handlers is still a clean stop.
        signal.signal(signal.SIGTERM, _exit_cleanly)
        sys.exit(asyncio.run(self.run()))


def _exit_cleanly(signum: int, _frame: object) -> None:
    _log.info("stopping before start-up finished", signal=signum)
    sys.exit(0)
