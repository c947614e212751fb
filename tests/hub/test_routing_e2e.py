"""Module outputs reach module inputs and $upstream through the hub, with the real SDK on both ends."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable

from edgeloop_dev.hub.az_payload import NON_DECODABLE_PAYLOAD
from edgeloop_dev.hub.harness import HubProcess, SdkModule, make_manifest, wait_for
from edgeloop_dev.hub.upstream import raw_body


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


def _to(inp: str) -> str:
    return f'BrokeredEndpoint("/modules/b/inputs/{inp}")'


def test_sources_and_conditions_as_edgehub_evaluates_them(
    hub_factory: Callable[..., HubProcess], sdk_module: Callable[..., SdkModule]
) -> None:
    routes = {
        "all": f"FROM /* INTO {_to('all')}",
        "all_again": {"route": f"FROM /messages/* INTO {_to('all')}", "priority": 0},
        "msgs": f"FROM /messages/* INTO {_to('msgs')}",
        "moda": f"FROM /messages/modules/a/* INTO {_to('moda')}",
        "out1": f"FROM /messages/modules/a/outputs/out1 INTO {_to('out1')}",
        "sys": f"FROM /messages/* WHERE $connectionModuleId = 'sensor' AND $outputName = 'x' INTO {_to('sys')}",
        "app": f"FROM /messages/* WHERE as_number(level) > 3 INTO {_to('app')}",
        "body": f"FROM /messages/* WHERE $body.machine.temperature > 30 INTO {_to('body')}",
        "up": "FROM /messages/modules/sensor/* WHERE is_defined(alert) INTO $upstream",
    }
    hub = hub_factory(make_manifest(routes, {"a": {}, "b": {}, "sensor": {}}))
    b = sdk_module(hub.env("b"))
    a = sdk_module(hub.env("a"), inputs=False)
    sensor = sdk_module(hub.env("sensor"), inputs=False)
    a.send_json("out1", {"machine": {"temperature": 31}}, message_id="1")
    a.send("out10", "hi", properties={"level": "5"}, message_id="2")
    sensor.send(
        "x",
        json.dumps({"machine": {"temperature": 20}}),
        content_type="application/json",
        properties={"alert": "1"},
        message_id="3",
    )
    sensor.send(
        "y",
        json.dumps({"machine": {"temperature": 40}}),
        content_type="text/plain",
        content_encoding="utf-8",
        message_id="4",
    )
    expected = {
        "1": {"all", "msgs", "moda", "out1", "body"},
        "2": {"all", "msgs", "moda", "app"},
        "3": {"all", "msgs", "sys"},
        "4": {"all", "msgs"},
    }
    got: dict[str, set[str]] = {}
    for msg in b.collect(sum(len(v) for v in expected.values())):
        got.setdefault(msg.message_id, set()).add(msg.input_name)
    assert got == expected
    assert b.no_input(0.5)  # "all" was chosen by two routes but delivered once
    up = wait_for(hub.upstream)
    assert [e["event"]["properties"]["system"]["message_id"] for e in up] == ["3"]
    assert hub.metric("edgehub_messages_sent_total", to="b", to_route_input="all", priority="0") == 4


def test_upstream_file_and_command(
    hub_factory: Callable[..., HubProcess], sdk_module: Callable[..., SdkModule]
) -> None:
    hub = hub_factory(make_manifest({"up": "FROM /messages/* INTO $upstream"}, {"a": {}}))
    a = sdk_module(hub.env("a"), inputs=False)
    a.send("o", "plain text")
    a.send("o", b"\xff\xfe\x00binary")
    a.send_json("o", {"k": [1, 2]})
    events = wait_for(lambda: len(hub.upstream()) == 3 and hub.upstream())
    payloads = [e["event"]["payload"] for e in events]
    assert payloads[0] == "plain text"
    assert payloads[1] == NON_DECODABLE_PAYLOAD  # as az prints a body no unicode codec reads
    assert (
        raw_body(hub.state_dir, events[1]) == b"\xff\xfe\x00binary"
    )  # kept beside the log, by sequence number
    assert raw_body(hub.state_dir, events[0]) is None
    assert payloads[2] == {"k": [1, 2]}
    assert [e["event"]["annotations"]["x-opt-sequence-number"] for e in events] == [1, 2, 3]
    out = subprocess.run(
        [sys.executable, "-m", "edgeloop_dev.hub", "upstream", "--state-dir", str(hub.state_dir)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.splitlines()
    assert [json.loads(line) for line in out] == events
    hub.restart()  # sequence numbers continue after a restart
    a.send("o", "after")
    last = wait_for(lambda: len(hub.upstream()) == 4 and hub.upstream())[-1]
    assert last["event"]["annotations"]["x-opt-sequence-number"] == 4
