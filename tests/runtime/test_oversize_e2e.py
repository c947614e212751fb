"""Every oversize policy through the local hub with the real SDK: what one module sends, the next reads."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from edgeloop_dev.hub.harness import HubProcess, SdkModule, make_manifest
from edgeloop_runtime import Context, InputMessage, Module, ModuleSettings, SdkHubClient
from edgeloop_runtime.testing import within

ROUTES = {
    "go": "FROM /messages/modules/feeder/outputs/* INTO BrokeredEndpoint('/modules/wide/inputs/go')",
    "read": "FROM /messages/modules/wide/outputs/* INTO BrokeredEndpoint('/modules/reader/inputs/in')",
}
BIG = [{"i": i, "tag": f"sensor-{i}", "pad": "x" * 1000} for i in range(400)]  # ~420 KB as JSON


def wide_module() -> Module[ModuleSettings, None]:
    """Sends BIG on the output named after the policy asked for, with that oversize policy."""
    mod = Module("wide", ModuleSettings, version="1.0.0")

    @mod.input("go")
    async def on_go(ctx: Context[ModuleSettings, None], msg: InputMessage) -> None:
        policy = msg.json()["policy"]
        await ctx.send(policy, BIG, kind="wide", oversize=policy)

    return mod


def reader_module(got: list[tuple[InputMessage, Any]]) -> Module[ModuleSettings, None]:
    """Reads every message the way a module does (InputMessage.json), failing loudly if it cannot."""
    mod = Module("reader", ModuleSettings, version="1.0.0")

    @mod.input("in")
    async def on_in(ctx: Context[ModuleSettings, None], msg: InputMessage) -> None:
        got.append((msg, None if "edgeloopError" in msg.properties else msg.json()))

    return mod


@pytest.mark.parametrize("policy", ["compress", "split", "error"])
async def test_oversize_output_is_readable_by_the_input_it_is_routed_to(
    policy: str,
    hub_factory: Callable[..., HubProcess],
    sdk_module: Callable[..., SdkModule],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    hub = hub_factory(make_manifest(ROUTES, {"wide": {}, "reader": {}, "feeder": {}}))
    got: list[tuple[InputMessage, Any]] = []
    clients = {}
    for name in ("wide", "reader"):
        for key, value in hub.env(name).items():
            monkeypatch.setenv(key, value)
        clients[name] = SdkHubClient.from_edge_environment()
    stop = asyncio.Event()
    env = {"METRICS_PORT": "-1"}
    tasks = [
        asyncio.create_task(
            wide_module().run(
                env={**env, "STATE_DIR": str(tmp_path / "w")}, client=clients["wide"], stop=stop
            )
        ),
        asyncio.create_task(
            reader_module(got).run(
                env={**env, "STATE_DIR": str(tmp_path / "r")}, client=clients["reader"], stop=stop
            )
        ),
    ]
    try:
        feeder = await asyncio.to_thread(sdk_module, hub.env("feeder"), inputs=False)
        await asyncio.to_thread(feeder.send_json, "out", {"policy": policy}, message_id="go-1")
        wanted = 2 if policy == "split" else 1
        async with asyncio.timeout(60):  # wait for: the message (or the parts) at the reader
            while len(got) < wanted:
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await within(asyncio.gather(*tasks), 30, "both modules to exit after stop")
    if policy == "compress":
        [(msg, body)] = got
        assert msg.content_encoding == "gzip" and body["data"] == BIG
    elif policy == "split":
        assert all(m.correlation_id == got[0][0].correlation_id for m, _b in got)
        assert [x for _m, b in sorted(got, key=lambda g: g[0].message_id or "") for x in b["data"]] == BIG
    else:
        [(msg, _body)] = got
        assert "MessageTooLargeError" in msg.properties["edgeloopError"]
        assert msg.properties["edgeloopOriginalMessageId"] == "go-1"
