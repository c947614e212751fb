"""A handler that says "retry later" keeps its message unacknowledged, retried, counted and visible."""

from __future__ import annotations

import asyncio
import gzip
import json

import pytest
from aiohttp import ClientSession
from runtime_harness import Running, run_module, wait_for

from edgeloop_runtime import Backpressure, Context, ContractError, InputMessage, Module, ModuleSettings


async def held_attempts(running: Running) -> int:
    """How often the held message was tried, as getStatus shows it (0 when nothing is held)."""
    _status, got = await running.client.call("getStatus")
    return max((int(h["attempts"]) for h in got["heldBack"]), default=0)


async def until_held(running: Running, attempts: int) -> None:
    async with asyncio.timeout(10):
        while await held_attempts(running) < attempts:
            await asyncio.sleep(0.01)


def full_disk_module() -> tuple[Module[ModuleSettings, None], asyncio.Event, list[str]]:
    """A module whose handler refuses with Backpressure until `room` is set."""
    mod = Module("disk", ModuleSettings, version="1.0.0")
    room = asyncio.Event()
    stored: list[str] = []

    @mod.input("in", queue_size=10)
    async def on_in(ctx: Context[ModuleSettings, None], msg: InputMessage) -> None:
        if not room.is_set():
            raise Backpressure("database or disk is full", retry_after_s=0.01)
        stored.append(msg.message_id or "")

    return mod, room, stored


async def test_backpressure_keeps_the_message_unacknowledged_until_the_handler_takes_it() -> None:
    mod, room, stored = full_disk_module()
    async with run_module(mod) as running:
        await running.client.deliver("in", {}, message_id="m-1", delivery="1.1")
        await until_held(running, 3)
        assert running.client.settled == [] and stored == []
        room.set()
        await wait_for(lambda: running.client.settled == ["1.1"])
    assert stored == ["m-1"]
    assert running.client.outputs("deadletter") == []


async def test_held_message_is_counted_in_metrics_and_shown_by_get_status() -> None:
    mod, room, _stored = full_disk_module()
    async with run_module(mod, env={"METRICS_PORT": "0", "METRICS_HOST": "127.0.0.1"}) as running:
        await running.client.deliver("in", {}, message_id="m-1", delivery="1.1")
        await until_held(running, 2)
        _status, got = await running.client.call("getStatus")
        async with ClientSession() as http, http.get(running.client.reported["endpoints"]["metrics"]) as resp:
            text = await resp.text()
        room.set()
        await wait_for(lambda: running.client.settled == ["1.1"])
        _status, after = await running.client.call("getStatus")
    (held,) = got["heldBack"]
    assert held["input"] == "in" and held["messageId"] == "m-1" and held["attempts"] >= 2
    assert "disk is full" in held["reason"]
    assert after["heldBack"] == []
    retries = 'edgeloop_input_retries_total{input="in",module="disk",reason="Backpressure"}'
    assert retries in text
    assert 'edgeloop_inputs_held{input="in",module="disk"} 1.0' in text


async def test_held_message_cut_short_at_shutdown_stays_with_edgehub() -> None:
    mod, _room, _stored = full_disk_module()
    async with run_module(mod, env={"SHUTDOWN_GRACE_SECONDS": "0.1"}) as running:
        await running.client.deliver("in", {}, message_id="m-1", delivery="1.1")
        await until_held(running, 1)
        assert await running.finish() == 0
    assert running.client.settled == [] and running.client.outputs("deadletter") == []


@pytest.mark.parametrize("encoding", ["gzip", "GZIP"])
def test_gzip_body_is_decoded_not_taken_for_a_charset(encoding: str) -> None:
    doc = {"v": 1, "kind": "anomaly", "data": {"asset": "wide", "x": "é" * 10}}
    msg = InputMessage("in", gzip.compress(json.dumps(doc).encode()), content_encoding=encoding)
    assert msg.json() == doc
    assert msg.envelope("anomaly").data["asset"] == "wide"


def test_a_body_that_says_gzip_but_is_not_is_a_contract_error() -> None:
    with pytest.raises(ContractError, match="gzip"):
        InputMessage("in", b"{}", content_encoding="gzip").json()


def test_a_charset_encoding_still_decodes_as_that_charset() -> None:
    assert InputMessage("in", "é".encode("latin-1"), content_encoding="latin-1").text() == "é"


async def test_a_send_that_cannot_reach_edgehub_is_retried_not_dead_lettered() -> None:
    mod = Module("relay", ModuleSettings, version="1.0.0")

    @mod.input("in", queue_size=10)
    async def on_in(ctx: Context[ModuleSettings, None], msg: InputMessage) -> None:
        await ctx.send("out", {"relayed": msg.message_id})

    async with run_module(mod) as running:
        running.client.fail_sends = True  # edgeHub unreachable: a dead letter could not leave either
        await running.client.deliver("in", {}, message_id="m-1", delivery="1.1")
        await until_held(running, 2)
        assert running.client.settled == []
        running.client.fail_sends = False
        await wait_for(lambda: running.client.settled == ["1.1"])
    assert [m.json()["data"] for m in running.client.outputs("out")] == [{"relayed": "m-1"}]
    assert running.client.outputs("deadletter") == []
