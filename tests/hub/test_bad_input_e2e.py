"""Bad input never kills the hub: the offending client gets a clear error, everyone else keeps being served."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable

import pytest

from edgeloop_dev.hub.harness import HubProcess, SdkModule, make_manifest
from edgeloop_dev.hub.mqtt import codec
from edgeloop_dev.hub.rawclient import RawClient

ROUTE = 'FROM /messages/modules/a/outputs/out INTO BrokeredEndpoint("/modules/b/inputs/in")'
STORED = 'FROM /messages/modules/a/outputs/keep INTO BrokeredEndpoint("/modules/offline/inputs/in")'


@pytest.mark.parametrize(
    "attack",
    [
        pytest.param(b"\xff\xff\xff\xff\xff\xff", id="garbage"),
        pytest.param(b"\x30\x80\x80\x80\x80\x01", id="remaining-length-5-bytes"),
        pytest.param(b"\x30\xff\xff\xff\x7f", id="packet-over-size-limit"),
        pytest.param(codec.encode(codec.Publish("devices/x", b"{}", 1, 1)), id="publish-before-connect"),
        pytest.param(b"CONNECT", id="text"),
    ],
)
def test_malformed_bytes_cost_only_that_connection(
    attack: bytes, hub_factory: Callable[..., HubProcess], sdk_module: Callable[..., SdkModule]
) -> None:
    hub = hub_factory(make_manifest({"r": ROUTE, "s": STORED}, {"a": {}, "b": {}, "offline": {}}))
    b = sdk_module(hub.env("b"))
    a = sdk_module(hub.env("a"), inputs=False)
    a.send("keep", "stored")
    with RawClient(hub.state_dir, hub.host) as raw:
        raw.send_raw(attack)
        assert raw.closed_by_server()
    a.send("out", "still-served")
    assert b.next_input().data == b"still-served"
    assert hub.status()["queues"]["offline/in"] == 1
    assert hub.proc is not None and hub.proc.poll() is None


@pytest.mark.parametrize(
    "packet",
    [
        pytest.param(codec.Publish("devices/edgeloop-device/modules/m/nope", b"x", 1, 7), id="unknown-topic"),
        pytest.param(
            codec.Publish("devices/edgeloop-device/modules/b/messages/events/", b"x", 1, 7),
            id="spoofed-module",
        ),
        pytest.param(codec.Publish("$iothub/twin/DELETE/?$rid=1", b"x", 1, 7), id="unknown-twin-op"),
        pytest.param(codec.Connect("edgeloop-device/m"), id="second-connect"),
    ],
)
def test_bad_packets_after_connect_disconnect_that_client(
    packet: codec.Packet, hub_factory: Callable[..., HubProcess]
) -> None:
    hub = hub_factory(make_manifest({}, {"m": {}, "b": {}}))
    with RawClient(hub.state_dir, hub.host) as raw:
        assert raw.connect_module("m") == 0
        raw.send(packet)
        assert raw.closed_by_server()
    assert hub.metric("edgeloop_hub_protocol_errors_total") >= 1
    with RawClient(hub.state_dir, hub.host) as again:
        assert again.connect_module("m") == 0


def test_invalid_json_on_twin_topic_gets_400(hub_factory: Callable[..., HubProcess]) -> None:
    hub = hub_factory(make_manifest({}, {"m": {}}))
    with RawClient(hub.state_dir, hub.host) as raw:
        assert raw.connect_module("m") == 0
        raw.send(codec.Subscribe(1, (("$iothub/twin/res/#", 1),)))
        assert raw.recv() == codec.Suback(1, (1,))
        for pid, body in ((2, b"{not json"), (3, b"[1, 2]")):
            raw.send(codec.Publish("$iothub/twin/PATCH/properties/reported/?$rid=r1", body, 1, pid))
            assert raw.recv() == codec.Puback(pid)
            resp = raw.recv()
            assert isinstance(resp, codec.Publish)
            assert resp.topic == "$iothub/twin/res/400/?$rid=r1"
        raw.send(codec.Publish("$iothub/twin/GET/?$rid=r2", b" ", 1, 4))
        assert raw.recv() == codec.Puback(4)
        resp = raw.recv()
        assert isinstance(resp, codec.Publish)
        assert json.loads(resp.payload)["reported"] == {"$version": 1}
    assert hub.metric("edgeloop_hub_twin_errors_total") == 2


def test_message_over_256kb_as_edgehub_counts_it_is_refused(
    hub_factory: Callable[..., HubProcess], sdk_module: Callable[..., SdkModule]
) -> None:
    hub = hub_factory(make_manifest({"r": ROUTE}, {"a": {}, "b": {}}))
    b = sdk_module(hub.env("b"))
    a = sdk_module(hub.env("a"), inputs=False)
    # The SDK's own check (sys.getsizeof of values) passes; edgeHub also counts property keys: 262,144 + 1.
    body = b"x" * (256 * 1024 - 2000)
    long_key = "k" * (2000 - len("connectionDeviceIdedgeloop-deviceconnectionModuleIdaoutputNameout") + 1)
    a.send("out", body, properties={long_key: ""})
    a.send("out", body, properties={long_key[:-1]: ""})  # exactly at the limit: accepted
    got = b.next_input()
    assert len(got.data) == len(body)
    assert b.no_input(0.5)
    assert hub.metric("edgehub_messages_dropped_total", reason="message_size") == 1


def test_route_that_does_not_compile_stops_the_hub_at_start(
    tmp_path: pytest.TempPathFactory, hub_host: str
) -> None:
    manifest = make_manifest({"good": ROUTE, "broken": "FROM /messages/* WHERE temp > INTO $upstream"})
    path = tmp_path / "manifest.json"  # type: ignore[operator]
    path.write_text(json.dumps(manifest))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "edgeloop_dev.hub",
            "hub",
            "--manifest",
            str(path),
            "--state-dir",
            str(tmp_path / "state"),
            "--host",
            hub_host,
            "--metrics-port",
            "0",
        ],  # type: ignore[operator]
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 2
    assert "broken" in proc.stderr
    assert "column" in proc.stderr
