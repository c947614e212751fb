"""With the real SDK through the local hub: the module's MQTT socket sends each packet at once."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest

from edgeloop_dev.hub.harness import HubProcess, make_manifest
from edgeloop_runtime import SdkHubClient


async def test_the_sdk_connection_to_edgehub_has_nagle_switched_off(
    hub_factory: Callable[..., HubProcess], monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = hub_factory(make_manifest({}, {"mod": {}}))
    for key, value in hub.env("mod").items():
        monkeypatch.setenv(key, value)
    client = SdkHubClient.from_edge_environment()
    await client.connect()
    try:
        stage = client._client._mqtt_pipeline._pipeline
        while getattr(stage, "transport", None) is None:
            stage = stage.next
        sock = stage.transport._mqtt_client.socket()
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        await client.shutdown()
