"""With the real SDK through the local hub: edgeHub keeps an input until the module's handler is done."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from edgeloop_dev.hub.harness import HubProcess, SdkModule, make_manifest
from edgeloop_runtime import Context, InputMessage, Module, ModuleSettings, SdkHubClient
from edgeloop_runtime.testing import within

ROUTES = {
    "toGated": "FROM /messages/modules/feeder/outputs/* INTO BrokeredEndpoint('/modules/gated/inputs/in')"
}


async def inflight(hub: HubProcess) -> int:
    status = await asyncio.to_thread(hub.status)
    return int(status["inflight"].get("gated", 0))


async def until(predicate: Callable[[], Awaitable[bool]], timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not await predicate():
            await asyncio.sleep(0.05)


async def test_hub_keeps_inputs_unacknowledged_until_the_handler_returns(
    hub_factory: Callable[..., HubProcess],
    sdk_module: Callable[..., SdkModule],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    hub = hub_factory(make_manifest(ROUTES, {"gated": {}, "feeder": {}}))
    for key, value in hub.env("gated").items():
        monkeypatch.setenv(key, value)
    mod = Module("gated", ModuleSettings, version="1.0.0")
    gate = asyncio.Event()
    handled: list[str] = []

    @mod.input("in", queue_size=10)
    async def on_in(ctx: Context[ModuleSettings, None], msg: InputMessage) -> None:
        await gate.wait()
        handled.append(msg.message_id or "")

    stop = asyncio.Event()
    task = asyncio.create_task(
        mod.run(
            env={"METRICS_PORT": "-1", "STATE_DIR": str(tmp_path)},
            client=SdkHubClient.from_edge_environment(),
            stop=stop,
        )
    )
    try:
        feeder = await asyncio.to_thread(sdk_module, hub.env("feeder"))
        for i in range(3):
            await asyncio.to_thread(feeder.send_json, "out", {"i": i}, message_id=f"m-{i}")

        async def all_held() -> bool:
            return await inflight(hub) == 3

        await until(all_held)
        await asyncio.sleep(0.3)
        assert await inflight(hub) == 3, "PUBACKs must wait for the handler"
        status = await asyncio.to_thread(hub.invoke, "gated", "getStatus")
        assert status["payload"]["unacknowledged"] == 3
        gate.set()

        async def all_acked() -> bool:
            return await inflight(hub) == 0

        await until(all_acked)
        assert handled == ["m-0", "m-1", "m-2"]
        status = await asyncio.to_thread(hub.invoke, "gated", "getStatus")
        assert status["payload"]["unacknowledged"] == 0
    finally:
        stop.set()
        await within(task, 30, "the module to exit after stop")
