"""The third-party internals the runtime and edgeloop_opcua reach into are still there, each named on failure.

`edgeloop_runtime.acks` wraps two methods of the paho client inside azure-iot-device's MQTT pipeline, and
`edgeloop_opcua.subscription` subclasses asyncua's Subscription and forgets callbacks in its session. A new
release of either may move them; pyproject.toml bounds their versions and this test says what moved.
"""

from __future__ import annotations

import inspect
from typing import Any

import paho.mqtt.client as paho
import pytest
from asyncua import Client
from asyncua.common.subscription import Subscription
from azure.iot.device.aio import IoTHubModuleClient

from edgeloop_runtime.acks import HeldAcks

# A syntactically valid connection string; nothing connects.
CONNECTION = "HostName=127.0.0.27;DeviceId=d;ModuleId=m;SharedAccessKey=" + "QUJD" * 11 + "="


def _has(obj: Any, path: str) -> Any:
    """Follow a dotted attribute path, failing with the first attribute that is missing."""
    for name in path.split("."):
        if not hasattr(obj, name):
            pytest.fail(f"{type(obj).__module__}.{type(obj).__qualname__} has no attribute {name!r} ({path})")
        obj = getattr(obj, name)
    return obj


@pytest.fixture
def sdk_client() -> Any:
    return IoTHubModuleClient.create_from_connection_string(CONNECTION)


def test_the_sdk_pipeline_holds_a_transport_stage_with_a_paho_client(sdk_client: Any) -> None:
    stage = _has(sdk_client, "_mqtt_pipeline._pipeline")
    while stage is not None and getattr(stage, "transport", None) is None:
        stage = _has(stage, "next")
    assert stage is not None, "no stage of the SDK's MQTT pipeline has a `transport`"
    assert isinstance(_has(stage, "transport._mqtt_client"), paho.Client)


@pytest.mark.parametrize("name", ["_handle_on_message", "_send_puback"])
def test_paho_has_the_methods_held_acks_wraps(name: str) -> None:
    assert callable(_has(paho.Client(), name))


def test_paho_keeps_its_socket_where_held_acks_reads_it() -> None:
    _has(paho.Client(), "_sock")


def test_held_acks_attaches_to_a_fresh_sdk_client(sdk_client: Any) -> None:
    assert HeldAcks.attach(sdk_client) is not None


def test_asyncua_subscription_takes_what_batch_subscription_passes() -> None:
    params = inspect.signature(Subscription.__init__).parameters
    missing = [p for p in ("server", "params", "handler", "queue_maxsize") if p not in params]
    assert missing == [], f"asyncua Subscription.__init__ lacks {missing}"


@pytest.mark.parametrize("name", ["publish_callback", "set_overflow_disconnect_handler", "delete"])
def test_asyncua_subscription_has_what_batch_subscription_uses(name: str) -> None:
    assert callable(_has(Subscription, name))


def test_asyncua_client_session_keeps_subscription_callbacks() -> None:
    client = Client("opc.tcp://127.0.0.27:4840")
    assert isinstance(_has(client, "uaclient.session._subscription_callbacks"), dict)
    assert callable(_has(client, "uaclient.notify_transport_lost"))
