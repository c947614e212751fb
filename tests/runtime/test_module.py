"""The runtime through the SDK seam: inputs, outputs, dead-letter, methods, twin patches, shutdown."""

from __future__ import annotations

import asyncio
import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from runtime_harness import run_module, wait_for

from edgeloop_runtime import Context, InputMessage, MessageTooLargeError, Module, ModuleSettings
from edgeloop_runtime.testing import FakeHubClient, within
from example_module.app import module as example


async def test_input_handler_sends_enveloped_json_with_content_type() -> None:
    async with run_module(example, env={"GAIN": "2"}) as running:
        await running.client.deliver("values", {"value": 21}, message_id="m-1")
        await wait_for(lambda: bool(running.client.outputs("scaled")))
    sent = running.client.outputs("scaled")[0]
    assert sent.message.content_type == "application/json"
    assert sent.message.content_encoding == "utf-8"
    body = sent.json()
    assert body["v"] == 1 and body["kind"] == "scaled"
    assert body["data"] == {"value": 42.0, "gain": 2.0}
    assert body["correlationId"] == "m-1"
    assert body["id"] == sent.message.message_id
    assert body["source"] == {"module": "example_module", "version": "0.1.0"}


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"{not json", id="malformed-json"),
        pytest.param({"value": "NaN"}, id="wrong-type"),
        pytest.param({"other": 1}, id="missing-field"),
    ],
)
async def test_failing_handler_dead_letters_the_message_and_keeps_running(body: Any) -> None:
    async with run_module(example) as running:
        await running.client.deliver("values", body, message_id="bad-1")
        await running.client.deliver("values", {"value": 1}, message_id="good-1")
        await wait_for(lambda: bool(running.client.outputs("scaled")))
        dead = running.client.outputs("deadletter")
        assert len(dead) == 1
        assert dead[0].message.properties["edgeloopOriginalMessageId"] == "bad-1"
        assert dead[0].message.properties["edgeloopInput"] == "values"
        assert "ContractError" in dead[0].message.properties["edgeloopError"]
        status, payload = await running.client.call("getStatus")
        assert status == 200
        assert payload["lastError"]["where"] == "input:values"
    assert running.task.result() == 0


async def test_enveloped_input_is_read_from_its_data() -> None:
    async with run_module(example, env={"GAIN": "3"}) as running:
        await running.client.deliver("values", {"v": 1, "kind": "scaled", "data": {"value": 2}})
        await wait_for(lambda: bool(running.client.outputs("scaled")))
    assert running.client.outputs("scaled")[0].json()["data"]["value"] == 6.0


async def test_message_for_unknown_input_goes_to_deadletter() -> None:
    async with run_module(example) as running:
        await running.client.deliver("nope", {"value": 1}, message_id="x")
        await wait_for(lambda: bool(running.client.outputs("deadletter")))
        assert "no handler" in running.client.outputs("deadletter")[0].message.properties["edgeloopError"]


@pytest.mark.parametrize(
    ("method", "payload", "status"),
    [
        pytest.param("ping", None, 200, id="ping"),
        pytest.param("getStatus", None, 200, id="getStatus"),
        pytest.param("scale", {"value": 3}, 200, id="custom"),
        pytest.param("scale", {"value": "x"}, 400, id="custom-bad-payload"),
        pytest.param("explode", None, 404, id="unknown"),
    ],
)
async def test_direct_methods(method: str, payload: Any, status: int) -> None:
    async with run_module(example, env={"GAIN": "2"}) as running:
        got_status, got = await running.client.call(method, payload)
    assert got_status == status
    if method == "ping":
        assert got == {"pong": True, "module": "example_module", "version": "0.1.0"}
    if method == "scale" and status == 200:
        assert got == {"value": 6.0}
    if status == 404:
        assert "unknown method 'explode'" in got["error"]
        assert "ping" in got["methods"]


async def test_desired_patch_is_applied_and_acknowledged() -> None:
    async with run_module(example, env={"GAIN": "2"}) as running:
        await running.client.patch_desired({"gain": 5})
        await wait_for(lambda: running.client.reported.get("config", {}).get("desiredVersion") == 2)
        assert running.client.reported["config"]["status"] == "applied"
        await running.client.deliver("values", {"value": 1})
        await wait_for(lambda: bool(running.client.outputs("scaled")))
        assert running.client.outputs("scaled")[0].json()["data"]["value"] == 5.0


@pytest.mark.parametrize(
    "patch",
    [
        pytest.param({"gain": "loud"}, id="invalid-type"),
        pytest.param({"gian": 3}, id="unknown-property"),
        pytest.param({"gain": 0}, id="refused-by-hook"),
    ],
)
async def test_invalid_patch_is_refused_and_old_config_stays(patch: dict[str, Any]) -> None:
    async with run_module(example, env={"GAIN": "2"}) as running:
        await running.client.patch_desired(patch)
        await wait_for(lambda: running.client.reported.get("config", {}).get("status") == "refused")
        assert running.client.reported["config"]["desiredVersion"] == 2
        assert running.client.reported["config"]["error"]
        await running.client.deliver("values", {"value": 1})
        await wait_for(lambda: bool(running.client.outputs("scaled")))
        assert running.client.outputs("scaled")[0].json()["data"]["value"] == 2.0


async def test_twin_at_start_overrides_env() -> None:
    async with run_module(example, env={"GAIN": "2"}, desired={"gain": 7}) as running:
        assert running.client.reported["config"]["status"] == "applied"
        _status, got = await running.client.call("scale", {"value": 1})
    assert got == {"value": 7.0}


async def test_invalid_env_exits_with_code_2_before_connecting() -> None:
    client = FakeHubClient()
    code = await example.run(env={"GAIN": "two"}, client=client)
    assert code == 2
    assert not client.connected


async def test_reported_properties_show_version_status_and_config() -> None:
    async with run_module(example) as running:
        reported = running.client.reported
        assert reported["module"] == {"name": "example_module", "version": "0.1.0"}
        assert reported["status"] == "running"
    assert running.client.reported["status"] == "stopped"


async def test_metrics_and_health_endpoints_serve_prometheus_text() -> None:
    async with run_module(example, env={"METRICS_PORT": "0", "METRICS_HOST": "127.0.0.1"}) as running:
        await running.client.deliver("values", {"value": 1})
        await wait_for(lambda: bool(running.client.outputs("scaled")))
        url = running.client.reported["endpoints"]["metrics"]
        async with ClientSession() as http:
            async with http.get(url) as resp:
                text = await resp.text()
            async with http.get(url.replace("/metrics", "/healthz")) as resp:
                health = await resp.json()
                health_status = resp.status
    assert 'edgeloop_messages_received_total{input="values",module="example_module"} 1.0' in text
    assert 'edgeloop_messages_sent_total{module="example_module",output="scaled"} 1.0' in text
    assert "edgeloop_example_module_values_scaled_total" in text
    assert 'edgeloop_inputs_unacknowledged{module="example_module"} 0.0' in text
    assert health_status == 200 and health["status"] == "running"


async def test_stop_drains_queued_messages_before_exit() -> None:
    slow = Module("slow", ModuleSettings, version="1.0.0")
    handled: list[str] = []

    @slow.input("in", queue_size=10)
    async def on_in(ctx: Context[ModuleSettings, None], msg: InputMessage) -> None:
        await asyncio.sleep(0.05)
        handled.append(msg.message_id or "")

    async with run_module(slow) as running:
        for i in range(5):
            await running.client.deliver("in", {"i": i}, message_id=str(i))
        code = await running.finish()
    assert code == 0
    assert handled == ["0", "1", "2", "3", "4"]
    assert running.client.message_handler is None  # intake closed first


@pytest.mark.parametrize(
    ("overflow", "kept"),
    [
        pytest.param("drop_oldest", ["2", "3"], id="drop-oldest"),
        pytest.param("drop_newest", ["0", "1"], id="drop-newest"),
    ],
)
async def test_overflow_policy_drops_and_counts(overflow: Any, kept: list[str]) -> None:
    mod = Module("bounded", ModuleSettings, version="1.0.0")
    gate = asyncio.Event()
    seen: list[str] = []

    @mod.input("in", queue_size=2, overflow=overflow)
    async def on_in(ctx: Context[ModuleSettings, None], msg: InputMessage) -> None:
        if msg.message_id == "first":
            await gate.wait()
            return
        seen.append(msg.message_id or "")

    async with run_module(mod) as running:
        await running.client.deliver("in", {}, message_id="first")
        await asyncio.sleep(0.05)  # the worker holds "first"; the queue is empty
        for i in range(4):
            await running.client.deliver("in", {}, message_id=str(i))
        gate.set()
        await wait_for(lambda: len(seen) == 2)
        _status, got = await running.client.call("getStatus")
    assert seen == kept
    assert got["inputs"]["in"] == {"queued": 0, "capacity": 2, "overflow": overflow}


async def test_oversize_policies() -> None:
    mod = Module("big", ModuleSettings, version="1.0.0")
    results: dict[str, Any] = {}
    big = [{"i": i, "pad": "x" * 1000} for i in range(400)]  # ~400 KB as JSON

    @mod.on_start
    async def send_big(ctx: Context[ModuleSettings, None]) -> None:
        try:
            await ctx.send("out", big)
        except MessageTooLargeError as exc:
            results["error"] = exc
        await ctx.send("out", big, oversize="compress")
        await ctx.send("parts", big, oversize="split")

    async with run_module(mod) as running:
        pass
    assert results["error"].size > 262144
    compressed = running.client.outputs("out")[0].message
    assert compressed.content_encoding == "gzip"
    assert json.loads(gzip.decompress(compressed.data))["data"] == big
    parts = running.client.outputs("parts")
    assert len(parts) >= 2
    assert all(len(p.message.data) < 262144 for p in parts)
    assert [x for p in parts for x in p.json()["data"]] == big


async def test_dead_letter_of_a_message_at_the_size_limit_is_compressed_or_cut_never_lost() -> None:
    import os

    text = b'{"value": "' + b"a" * 261_500 + b'"'  # compressible, fails to parse
    noise = os.urandom(261_500)  # incompressible, not JSON either
    async with run_module(example) as running:
        await running.client.deliver("values", text, message_id="big-text")
        await running.client.deliver("values", noise, message_id="big-noise")
        await wait_for(lambda: len(running.client.outputs("deadletter")) == 2)
    compressed, cut = (m.message for m in running.client.outputs("deadletter"))
    assert compressed.content_encoding == "gzip" and gzip.decompress(compressed.data) == text
    assert cut.properties["edgeloopTruncatedFrom"] == str(len(noise))
    assert noise.startswith(cut.data[:1000]) and len(cut.data) < len(noise)


async def test_standalone_runs_without_edgehub_on_environment_settings(tmp_path: Path) -> None:
    # STANDALONE=true (e.g. the inference REST API on Kubernetes): no IoT Edge variables are needed
    stop = asyncio.Event()
    task = asyncio.create_task(
        example.run(
            env={"STANDALONE": "true", "GAIN": "2", "METRICS_PORT": "-1", "STATE_DIR": str(tmp_path)},
            stop=stop,
        )
    )
    await asyncio.sleep(0.5)
    assert not task.done()
    stop.set()
    assert await within(task, 10, "the module to exit after stop") == 0


async def test_without_standalone_a_missing_edge_environment_is_fatal() -> None:
    assert await example.run(env={"METRICS_PORT": "-1"}) == 1


def gated_module(overflow: Any = "block", queue_size: int = 10) -> tuple[Module[Any, Any], asyncio.Event]:
    """A module whose handler waits for a gate, and fails on messages whose id starts with 'bad'."""
    mod = Module("gated", ModuleSettings, version="1.0.0")
    gate = asyncio.Event()

    @mod.input("in", queue_size=queue_size, overflow=overflow)
    async def on_in(ctx: Context[ModuleSettings, None], msg: InputMessage) -> None:
        await gate.wait()
        if (msg.message_id or "").startswith("bad"):
            raise ValueError("refused")

    return mod, gate


async def test_input_is_acknowledged_to_edgehub_only_after_its_handler_returned() -> None:
    mod, gate = gated_module()
    async with run_module(mod) as running:
        await running.client.deliver("in", {}, message_id="m-1", delivery="1.7")
        await asyncio.sleep(0.05)
        assert running.client.settled == []
        gate.set()
        await wait_for(lambda: running.client.settled == ["1.7"])


async def test_failed_input_is_acknowledged_after_its_dead_letter_is_sent() -> None:
    mod, gate = gated_module()
    gate.set()
    async with run_module(mod) as running:
        await running.client.deliver("in", {}, message_id="bad-1", delivery="1.1")
        await wait_for(lambda: running.client.settled == ["1.1"])
        assert len(running.client.outputs("deadletter")) == 1


async def test_input_dropped_by_overflow_policy_is_acknowledged_at_once() -> None:
    mod, gate = gated_module(overflow="drop_newest", queue_size=1)
    async with run_module(mod) as running:
        await running.client.deliver("in", {}, delivery="1.1")  # the worker holds it
        await asyncio.sleep(0.05)
        await running.client.deliver("in", {}, delivery="1.2")  # queued
        await running.client.deliver("in", {}, delivery="1.3")  # dropped
        assert running.client.settled == ["1.3"]
        gate.set()
        await wait_for(lambda: sorted(running.client.settled) == ["1.1", "1.2", "1.3"])


async def test_input_cut_short_at_shutdown_stays_unacknowledged() -> None:
    mod, _gate = gated_module()
    async with run_module(mod, env={"SHUTDOWN_GRACE_SECONDS": "0.1"}) as running:
        await running.client.deliver("in", {}, delivery="1.1")
        await asyncio.sleep(0.05)
        assert await running.finish() == 0
    assert running.client.settled == []  # edgeHub keeps it and delivers it to the next run


class _OrderRecordingClient(FakeHubClient):
    """Notes whether methods were subscribed when each status was reported."""

    def __init__(self) -> None:
        super().__init__()
        self.methods_when: dict[str, bool] = {}

    async def patch_reported(self, patch: dict[str, Any]) -> None:
        if "status" in patch:
            self.methods_when.setdefault(str(patch["status"]), self.method_handler is not None)
        await super().patch_reported(patch)


async def test_running_is_reported_only_once_methods_can_be_called() -> None:
    client = _OrderRecordingClient()
    async with run_module(example, client=client) as running:
        await wait_for(lambda: "running" in client.methods_when)
        assert client.methods_when["running"], "reported running before subscribing to direct methods"
        assert running.client.reported["status"] == "running"
