"""Store and forward: offline modules, module and hub restarts (SIGTERM, SIGKILL), TTL, priorities, order."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

import pytest

from edgeloop_dev.hub.harness import HubProcess, SdkModule, make_manifest, wait_for
from edgeloop_runtime import Context, InputMessage, Module, ModuleSettings, SdkHubClient
from edgeloop_runtime.testing import within

ROUTE = 'FROM /messages/modules/a/outputs/out INTO BrokeredEndpoint("/modules/b/inputs/in")'


def _bodies(msgs: list) -> list[str]:
    return [m.data.decode() for m in msgs]


@contextlib.asynccontextmanager
async def receiving_module(
    hub: HubProcess, name: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[list[str]]:
    """An edgeloop Module on the real SDK recording the body of every input on `in`, in handling order.

    Where order is the point, receive this way: the SDK's sync client (SdkModule) runs message handlers on
    four threads, so a burst can reach its handler out of order although the hub sent it in order; the
    async client the runtime uses starts its handlers one after another.
    """
    for key, value in hub.env(name).items():
        monkeypatch.setenv(key, value)
    mod = Module(name, ModuleSettings, version="1.0.0")
    got: list[str] = []

    @mod.input("in")
    async def on_in(ctx: Context[ModuleSettings, None], msg: InputMessage) -> None:
        got.append(msg.data.decode())

    stop = asyncio.Event()
    task = asyncio.create_task(
        mod.run(env={"METRICS_PORT": "-1"}, client=SdkHubClient.from_edge_environment(), stop=stop)
    )
    try:
        yield got
    finally:
        stop.set()
        await within(task, 30, "the receiving module to exit after stop")


async def _until(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.05)


def test_offline_module_gets_stored_messages_in_order_when_it_subscribes(
    hub_factory: Callable[..., HubProcess], sdk_module: Callable[..., SdkModule]
) -> None:
    hub = hub_factory(make_manifest({"r": ROUTE}, {"a": {}, "b": {}}))
    a = sdk_module(hub.env("a"), inputs=False)
    for i in range(5):
        a.send("out", f"m{i}")
    assert hub.status()["queues"] == {"b/in": 5}
    b = sdk_module(hub.env("b"))
    assert _bodies(b.collect(5)) == [f"m{i}" for i in range(5)]
    wait_for(lambda: hub.status()["queues"] == {"b/in": 0})


def test_module_restart_keeps_messages_sent_while_it_was_down(
    hub_factory: Callable[..., HubProcess], sdk_module: Callable[..., SdkModule]
) -> None:
    hub = hub_factory(make_manifest({"r": ROUTE}, {"a": {}, "b": {}}))
    a = sdk_module(hub.env("a"), inputs=False)
    b = sdk_module(hub.env("b"))
    a.send("out", "before")
    assert _bodies(b.collect(1)) == ["before"]
    b.shutdown()
    a.send("out", "while-down-1")
    a.send("out", "while-down-2")
    b2 = sdk_module(hub.env("b"))
    assert _bodies(b2.collect(2)) == ["while-down-1", "while-down-2"]


@pytest.mark.parametrize(
    "how", [pytest.param("sigterm", id="graceful-stop"), pytest.param("sigkill", id="kill-9")]
)
def test_hub_restart_loses_nothing_stored(
    how: str, hub_factory: Callable[..., HubProcess], sdk_module: Callable[..., SdkModule]
) -> None:
    hub = hub_factory(make_manifest({"r": ROUTE}, {"a": {}, "b": {}}))
    a = sdk_module(hub.env("a"), inputs=False)
    for i in range(20):
        a.send("out", f"m{i}")  # each returns after the hub's PUBACK, i.e. after the store commit
    if how == "sigkill":
        hub.kill()
        hub.start()
    else:
        hub.restart()
    b = sdk_module(hub.env("b"))
    assert _bodies(b.collect(20)) == [f"m{i}" for i in range(20)]


def test_connected_module_keeps_receiving_after_hub_restart_without_resubscribing(
    hub_factory: Callable[..., HubProcess], sdk_module: Callable[..., SdkModule]
) -> None:
    hub = hub_factory(make_manifest({"r": ROUTE}, {"a": {}, "b": {}}))
    b = sdk_module(hub.env("b"))
    a = sdk_module(hub.env("a"), inputs=False)
    hub.kill()
    hub.start()
    a.send("out", "after-restart")  # blocks until a has reconnected and the hub PUBACKed
    assert _bodies(b.collect(1, timeout=20)) == ["after-restart"]


def test_expired_messages_are_dropped_and_counted(
    hub_factory: Callable[..., HubProcess], sdk_module: Callable[..., SdkModule]
) -> None:
    routes = {
        "short": {"route": ROUTE, "priority": 1, "timeToLiveSecs": 1},
        "long": {
            "route": 'FROM /messages/modules/a/outputs/keep INTO BrokeredEndpoint("/modules/b/inputs/keep")',
            "priority": 1,
            "timeToLiveSecs": 3600,
        },
    }
    hub = hub_factory(make_manifest(routes, {"a": {}, "b": {}}))
    a = sdk_module(hub.env("a"), inputs=False)
    a.send("out", "short-lived")
    a.send("keep", "long-lived")
    time.sleep(1.5)
    b = sdk_module(hub.env("b"))
    assert _bodies(b.collect(1)) == ["long-lived"]
    assert b.no_input(0.5)
    wait_for(lambda: hub.metric("edgehub_messages_dropped_total", reason="ttl_expiry") == 1)


async def test_higher_priority_is_delivered_first(
    hub_factory: Callable[..., HubProcess],
    sdk_module: Callable[..., SdkModule],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    routes = {
        "low": {"route": ROUTE, "priority": 5},
        "high": {
            "route": 'FROM /messages/modules/a/outputs/alarm INTO BrokeredEndpoint("/modules/b/inputs/in")',
            "priority": 0,
        },
    }
    hub = hub_factory(make_manifest(routes, {"a": {}, "b": {}}))
    a = await asyncio.to_thread(sdk_module, hub.env("a"), inputs=False)
    for output, body in (("out", "low-1"), ("out", "low-2"), ("alarm", "high-1")):
        await asyncio.to_thread(a.send, output, body)
    async with receiving_module(hub, "b", monkeypatch) as got:
        await _until(lambda: len(got) >= 3)
        assert got == ["high-1", "low-1", "low-2"]


async def test_burst_arrives_in_order(
    hub_factory: Callable[..., HubProcess],
    sdk_module: Callable[..., SdkModule],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hub = hub_factory(make_manifest({"r": ROUTE}, {"a": {}, "b": {}}))
    n = 300
    async with receiving_module(hub, "b", monkeypatch) as got:
        a = await asyncio.to_thread(sdk_module, hub.env("a"), inputs=False)

        def burst() -> None:
            for i in range(n):
                a.client.send_message_to_output(str(i), "out")

        await asyncio.to_thread(burst)
        await _until(lambda: len(got) >= n)
        assert [int(x) for x in got] == list(range(n))
    assert await asyncio.to_thread(hub.metric, "edgehub_messages_received_total") == n


def test_unacknowledged_deliveries_are_sent_again_after_reconnect(
    hub_factory: Callable[..., HubProcess], sdk_module: Callable[..., SdkModule]
) -> None:
    from edgeloop_dev.hub.mqtt import codec
    from edgeloop_dev.hub.rawclient import RawClient

    hub = hub_factory(make_manifest({"r": ROUTE}, {"a": {}, "b": {}}))
    a = sdk_module(hub.env("a"), inputs=False)
    with RawClient(hub.state_dir, hub.host) as raw:
        assert raw.connect_module("b") == 0
        raw.send(codec.Subscribe(1, (("devices/edgeloop-device/modules/b/inputs/#", 1),)))
        assert raw.recv() == codec.Suback(1, (1,))
        a.send("out", "unacked")
        first = raw.recv()
        assert isinstance(first, codec.Publish) and first.payload == b"unacked"
    # no PUBACK was sent: the session keeps the message and the subscription
    with RawClient(hub.state_dir, hub.host) as again:
        assert again.connect_module("b") == 0
        second = again.recv()
        assert isinstance(second, codec.Publish) and second.payload == b"unacked"
        assert second.packet_id is not None
        again.send(codec.Puback(second.packet_id))
        wait_for(lambda: hub.status()["queues"] == {"b/in": 0} and not hub.status()["inflight"])


def test_identity_created_after_the_hub_started(
    hub_factory: Callable[..., HubProcess], sdk_module: Callable[..., SdkModule]
) -> None:
    hub = hub_factory(make_manifest({}, {}))
    late = sdk_module(hub.env("late"), inputs=False)  # not in the manifest; identity created now
    assert late.get_twin() == {"desired": {"$version": 1}, "reported": {"$version": 1}}
