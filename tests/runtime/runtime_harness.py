"""The runtime's test harness: a module running against the FakeHubClient seam."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from edgeloop_runtime import Module
from edgeloop_runtime.testing import FakeHubClient, wait_for_async, within


@dataclass
class Running:
    """A module running in a task against a fake hub client."""

    client: FakeHubClient
    task: asyncio.Task[int]
    stop: asyncio.Event

    async def finish(self) -> int:
        self.stop.set()
        return await within(self.task, 10, "the module to exit after stop")


async def wait_for(predicate: Callable[[], Any], timeout: float = 5.0, *, what: str | None = None) -> Any:
    """Poll until predicate() is true (the fake has no events to wait on); a timeout says what was awaited."""
    return await wait_for_async(predicate, what, timeout=timeout)


@asynccontextmanager
async def run_module(
    module: Module[Any, Any],
    env: dict[str, str] | None = None,
    desired: dict[str, Any] | None = None,
    client: FakeHubClient | None = None,
) -> AsyncIterator[Running]:
    """Run a module against a fake hub; STATE_DIR is a fresh folder unless env names one."""
    client = client or FakeHubClient(twin={"desired": {"$version": 1, **(desired or {})}, "reported": {}})
    stop = asyncio.Event()
    with tempfile.TemporaryDirectory(prefix="edgeloop-state-") as state:
        full_env = {"METRICS_PORT": "-1", "STATE_DIR": state, **(env or {})}
        task = asyncio.create_task(module.run(env=full_env, client=client, stop=stop))
        async with _running(client, task, stop, module) as running:
            yield running


@asynccontextmanager
async def _running(
    client: FakeHubClient, task: asyncio.Task[int], stop: asyncio.Event, module: Module[Any, Any]
) -> AsyncIterator[Running]:
    running = Running(client, task, stop)
    await wait_for(lambda: task.done() or client.reported.get("status") == "running")
    if not task.done() and module.inputs:
        await wait_for(lambda: client.message_handler is not None)
    try:
        yield running
    finally:
        if not task.done():
            await running.finish()
