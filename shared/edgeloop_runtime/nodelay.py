"""TCP_NODELAY on the SDK's MQTT socket: each packet leaves at once, as edgeHub's own sockets do."""

from __future__ import annotations

import socket
from typing import Any

from .logs import get_logger

_log = get_logger(__name__)


def send_without_delay(sdk_client: Any) -> bool:
    """Make the paho client inside an azure-iot-device client open its sockets with TCP_NODELAY.

    paho 1.x leaves Nagle's algorithm on: a small PUBLISH sent while the previous segment is still
    unacknowledged waits for the peer's delayed ACK (40 ms on Linux), on every hop of the closed loop.
    Uses paho's public `on_socket_open` hook, so every reconnection gets it too. False (logged) when the
    SDK's internals are not recognised; messages still flow, only with that delay.
    """
    try:
        stage = sdk_client._mqtt_pipeline._pipeline
        while stage is not None and getattr(stage, "transport", None) is None:
            stage = stage.next
        mqtt_client = stage.transport._mqtt_client
        if mqtt_client.on_socket_open is not None:
            raise AttributeError("on_socket_open is already in use")
    except AttributeError as exc:
        _log.warning("SDK internals not recognised; MQTT packets may wait for Nagle", error=str(exc))
        return False
    mqtt_client.on_socket_open = _no_delay
    return True


def _no_delay(client: Any, userdata: Any, sock: Any) -> None:
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError) as exc:  # not a TCP socket (a proxy's, websockets): nothing to do
        _log.debug("TCP_NODELAY not set", error=str(exc))
