"""Input PUBACKs wait for the handler: the ordering logic, and the wrap of a real paho client."""

from __future__ import annotations

import contextlib
import socket
import struct
from collections.abc import Iterator
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from edgeloop_runtime.acks import AckOrder, HeldAcks, with_delivery

PUBACK = 0x40


@pytest.mark.parametrize(
    ("settled", "released"),
    [
        pytest.param([1], [[1]], id="first-goes-at-once"),
        pytest.param([2, 1], [[], [1, 2]], id="later-waits-for-earlier"),
        pytest.param([3, 1, 2], [[], [1], [2, 3]], id="releases-the-settled-prefix"),
        pytest.param([1, 1], [[1], []], id="settled-twice-released-once"),
        pytest.param([9], [[]], id="unknown-id-ignored"),
    ],
)
def test_acks_leave_in_arrival_order(settled: list[int], released: list[list[int]]) -> None:
    order = AckOrder()
    for mid in (1, 2, 3):
        order.hold(mid)
    assert [order.settle(mid) for mid in settled] == released


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        pytest.param(
            "devices/d/modules/m/inputs/in",
            "devices/d/modules/m/inputs/in/edgeloop.delivery=1.5",
            id="no-bag",
        ),
        pytest.param(
            "devices/d/modules/m/inputs/in/",
            "devices/d/modules/m/inputs/in/edgeloop.delivery=1.5",
            id="empty-bag",
        ),
        pytest.param(
            "devices/d/modules/m/inputs/in/%24.mid=x&a=b",
            "devices/d/modules/m/inputs/in/%24.mid=x&a=b&edgeloop.delivery=1.5",
            id="with-bag",
        ),
        pytest.param("$iothub/methods/POST/ping/?$rid=1", None, id="method-is-not-an-input"),
        pytest.param("devices/d/messages/devicebound/a=b", None, id="c2d-is-not-an-input"),
    ],
)
def test_delivery_ticket_joins_the_property_bag(topic: str, expected: str | None) -> None:
    assert with_delivery(topic, "1.5") == expected


class Paho:
    """A real paho client fed raw PUBLISH packets, as its network loop would feed them."""

    def __init__(self) -> None:
        self.client = mqtt.Client(client_id="dev/mod", protocol=mqtt.MQTTv311)
        self.received: list[tuple[str, int]] = []
        self.client.on_message = lambda _c, _u, m: self.received.append((m.topic, m.mid))
        self.sockets = socket.socketpair()
        self.wire = b""
        self.client._sock = self.sockets[0]  # what paho compares to tell one connection from the next

    def publish(self, topic: str, mid: int) -> None:
        raw = topic.encode()
        self.client._in_packet = {
            "command": 0x32,  # PUBLISH, QoS 1
            "packet": struct.pack("!H", len(raw)) + raw + struct.pack("!H", mid) + b"{}",
        }
        assert self.client._handle_publish() == mqtt.MQTT_ERR_SUCCESS

    def pubacks(self) -> list[int]:
        """The PUBACKs paho wrote to the broker's end of the socket so far."""
        self.sockets[1].setblocking(False)
        with contextlib.suppress(BlockingIOError):
            self.wire += self.sockets[1].recv(65536)
        assert len(self.wire) % 4 == 0 and all(b == PUBACK for b in self.wire[::4])
        return [struct.unpack("!H", self.wire[i + 2 : i + 4])[0] for i in range(0, len(self.wire), 4)]

    def reconnect(self) -> None:
        self.sockets[0].close()
        self.sockets[1].close()
        self.sockets = socket.socketpair()
        self.wire = b""
        self.client._sock = self.sockets[0]

    def close(self) -> None:
        self.client._sock = None
        for s in self.sockets:
            s.close()


@pytest.fixture
def paho() -> Iterator[Paho]:
    p = Paho()
    yield p
    p.close()


def ticket(received: tuple[str, int]) -> str:
    return received[0].rsplit("edgeloop.delivery=", 1)[1]


def test_input_puback_waits_for_settle_and_others_go_at_once(paho: Paho) -> None:
    acks = HeldAcks(paho.client)
    paho.publish("devices/dev/modules/mod/inputs/in/a=b", 5)
    paho.publish("$iothub/methods/POST/ping/?$rid=1", 6)
    assert paho.pubacks() == [6]
    assert acks.pending() == 1
    acks.settle(ticket(paho.received[0]))
    assert paho.pubacks() == [6, 5]
    assert acks.pending() == 0


def test_pubacks_follow_arrival_order_whatever_order_handlers_finish(paho: Paho) -> None:
    acks = HeldAcks(paho.client)
    for mid in (1, 2, 3):
        paho.publish("devices/dev/modules/mod/inputs/in", mid)
    acks.settle(ticket(paho.received[2]))
    acks.settle(ticket(paho.received[1]))
    assert paho.pubacks() == []
    acks.settle(ticket(paho.received[0]))
    assert paho.pubacks() == [1, 2, 3]


@pytest.mark.parametrize("bad", ["", "x", "1.", "1.x", "99.1"], ids=repr)
def test_malformed_or_foreign_ticket_is_ignored(paho: Paho, bad: str) -> None:
    acks = HeldAcks(paho.client)
    paho.publish("devices/dev/modules/mod/inputs/in", 1)
    acks.settle(bad)
    assert paho.pubacks() == []
    assert acks.pending() == 1


def test_ticket_from_a_dropped_connection_sends_nothing(paho: Paho) -> None:
    acks = HeldAcks(paho.client)
    paho.publish("devices/dev/modules/mod/inputs/in", 1)
    old = ticket(paho.received[0])
    paho.reconnect()  # edgeHub re-sends the unacknowledged message, maybe under the same packet id
    paho.publish("devices/dev/modules/mod/inputs/in", 1)
    acks.settle(old)
    assert paho.pubacks() == []
    acks.settle(ticket(paho.received[1]))
    assert paho.pubacks() == [1]


async def test_attach_finds_the_paho_client_inside_the_sdk() -> None:
    from azure.iot.device.aio import IoTHubModuleClient

    client: Any = IoTHubModuleClient.create_from_connection_string(
        "HostName=localhost;DeviceId=dev;ModuleId=mod;SharedAccessKey=" + "a" * 44
    )
    try:
        acks = HeldAcks.attach(client)
        assert acks is not None
        assert isinstance(acks._client, mqtt.Client)
    finally:
        await client.shutdown()


def test_attach_to_something_else_declines() -> None:
    assert HeldAcks.attach(object()) is None
