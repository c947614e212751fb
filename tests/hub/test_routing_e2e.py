"""Module outputs reach module inputs and $upstream through the hub, with the real SDK on both ends."""

from __future__ import annotations

import json
from collections.abc import Callable

from edgeloop_dev.hub.harness import HubProcess, SdkModule, make_manifest, wait_for


def test_output_reaches_input_with_edgehub_properties(
    hub_factory: Callable[..., HubProcess], sdk_module: Callable[..., SdkModule]
) -> None:
    manifest = make_manifest(
        {
            "toB": 'FROM /messages/modules/a/outputs/out1 INTO BrokeredEndpoint("/modules/b/inputs/in1")',
            "up": "FROM /messages/modules/a/* WHERE alert = 'yes' INTO $upstream",
        },
        {"a": {}, "b": {}},
    )
    hub = hub_factory(manifest)
    b = sdk_module(hub.env("b"))
    a = sdk_module(hub.env("a"), inputs=False)
    a.send_json(
        "out1",
        {"t": 31.5},
        properties={"alert": "yes", "weird key/&=": "v a/l&u=e"},
        message_id="mid-1",
        correlation_id="cid-1",
    )
    msg = b.next_input()
    assert msg.input_name == "in1"
    assert json.loads(msg.data) == {"t": 31.5}
    assert msg.message_id == "mid-1"
    assert msg.correlation_id == "cid-1"
    assert msg.content_type == "application/json"
    assert msg.content_encoding == "utf-8"
    assert msg.custom_properties == {
        "alert": "yes",
        "weird key/&=": "v a/l&u=e",
        "$.cdid": "edgeloop-device",
        "$.cmid": "a",
    }
    events = wait_for(hub.upstream)
    event = events[0]["event"]
    assert event["origin"] == "edgeloop-device"
    assert event["module"] == "a"
    assert event["payload"] == {"t": 31.5}
    assert event["properties"]["application"]["alert"] == "yes"
    assert event["properties"]["system"]["message_id"] == "mid-1"
    assert event["annotations"]["iothub-connection-module-id"] == "a"
