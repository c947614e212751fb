"""Hold each input's MQTT PUBACK until the module has handled the message (at-least-once intake).

azure-iot-device 2.x on paho-mqtt 1.6 acknowledges a QoS 1 PUBLISH as soon as paho has read it, before
the module's handler runs, so edgeHub forgets a message the module may never process: a kill -9 loses
whatever waits in the module's queues. Neither library offers manual acknowledgement (paho 2 does; the
SDK pins paho < 2), so this adapter wraps two methods of the SDK's own paho client *instance* (nothing
global): an input PUBLISH gets a delivery ticket in its property bag instead of an immediate PUBACK, and
`settle(ticket)` sends the PUBACK once the runtime is done with it. PUBACKs leave in the order their
PUBLISHes arrived, as MQTT 3.1.1 (4.6) requires and edgeHub's protocol gateway expects. A ticket from a
connection that has since dropped is ignored: edgeHub re-sends that message on the new connection.
Because PUBACKs keep their order, a ticket never settled (a message the SDK dropped before any handler
saw it) holds back every PUBACK behind it until the connection drops; the runtime settles on every path
a message can take once it has it (handled, dead-lettered, dropped by policy).
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from .logs import get_logger

DELIVERY_PROPERTY = "edgeloop.delivery"
_MQTT_ERR_SUCCESS = 0

_log = get_logger("edgeloop.acks")


class AckOrder:
    """The held PUBACKs of one connection, released in arrival order (pure logic, no I/O)."""

    def __init__(self) -> None:
        self._pending: OrderedDict[int, bool] = OrderedDict()

    def __len__(self) -> int:
        return len(self._pending)

    def hold(self, mid: int) -> None:
        """A PUBLISH arrived; its PUBACK waits."""
        self._pending.setdefault(mid, False)

    def settle(self, mid: int) -> list[int]:
        """The message is handled; return the packet ids whose PUBACKs may go now, in order."""
        if mid not in self._pending:
            return []
        self._pending[mid] = True
        release: list[int] = []
        while self._pending:
            first, done = next(iter(self._pending.items()))
            if not done:
                break
            self._pending.popitem(last=False)
            release.append(first)
        return release


def with_delivery(topic: str, ticket: str) -> str | None:
    """The input topic with the ticket added to its property bag; None if it is not an input topic."""
    parts = topic.split("/")
    if len(parts) < 6 or parts[4] != "inputs":
        return None
    prop = f"{DELIVERY_PROPERTY}={ticket}"
    if len(parts) == 6:
        return f"{topic}/{prop}"
    return f"{topic}&{prop}" if parts[6] else f"{topic}{prop}"


@dataclass
class _Connection:
    number: int
    sock: Any
    order: AckOrder = field(default_factory=AckOrder)


class HeldAcks:
    """Wraps one paho client so that input PUBACKs wait for `settle`; thread-safe."""

    def __init__(self, mqtt_client: Any) -> None:
        self._client = mqtt_client
        self._lock = threading.Lock()
        self._numbers = itertools.count(1)
        self._conn: _Connection | None = None
        self._skip: set[int] = set()  # touched only on paho's thread
        self._handle_on_message = mqtt_client._handle_on_message
        self._send_puback = mqtt_client._send_puback
        mqtt_client._handle_on_message = self._on_message
        mqtt_client._send_puback = self._maybe_puback

    @classmethod
    def attach(cls, sdk_client: Any) -> HeldAcks | None:
        """Find the paho client inside an azure-iot-device client and wrap it; None if not recognised."""
        try:
            stage = sdk_client._mqtt_pipeline._pipeline
            while stage is not None and getattr(stage, "transport", None) is None:
                stage = stage.next
            mqtt_client = stage.transport._mqtt_client
            mqtt_client._handle_on_message  # noqa: B018 - the two methods this adapter wraps
            mqtt_client._send_puback  # noqa: B018
        except AttributeError as exc:
            _log.warning("SDK internals not recognised; inputs are acknowledged on receipt", error=str(exc))
            return None
        return cls(mqtt_client)

    def pending(self) -> int:
        """PUBACKs held on the current connection."""
        with self._lock:
            return len(self._conn.order) if self._conn else 0

    def _on_message(self, message: Any) -> None:
        """paho's thread: hold the PUBACK of an input and tag the message with its ticket."""
        if message.qos == 1:
            with self._lock:
                conn = self._conn
                if conn is None or conn.sock is not self._client._sock:
                    conn = self._conn = _Connection(next(self._numbers), self._client._sock)
                    self._skip.clear()
                topic = with_delivery(message.topic, f"{conn.number}.{message.mid}")
                if topic is not None:
                    conn.order.hold(message.mid)
                    self._skip.add(message.mid)
                    message.topic = topic.encode()
        self._handle_on_message(message)

    def _maybe_puback(self, mid: int) -> int:
        if mid in self._skip:
            self._skip.discard(mid)
            return _MQTT_ERR_SUCCESS
        return int(self._send_puback(mid))

    def settle(self, ticket: str) -> None:
        """The message with this ticket is handled (or consciously dropped): let its PUBACK go."""
        number, _, mid = ticket.partition(".")
        if not mid.isdecimal():
            return
        with self._lock:
            conn = self._conn
            if conn is None or str(conn.number) != number or conn.sock is not self._client._sock:
                return  # its connection is gone; edgeHub delivers the message again
            for released in conn.order.settle(int(mid)):
                self._send_puback(released)
