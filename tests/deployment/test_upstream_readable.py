"""What the router sends upstream is JSON text by default, and `edgeloop upstream --decode` reads both encodings."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Callable
from typing import Any

from deploy_helpers import TEMPLATES, load

from edgeloop_dev.hub.az_payload import NON_DECODABLE_PAYLOAD, az_payload, unicode_text
from edgeloop_dev.hub.harness import HubProcess, SdkModule, make_manifest, wait_for
from edgeloop_dev.hub.upstream import raw_body
from upstream_router.batching import decode, encode
from upstream_router.settings import Settings
from upstream_router.store import Item


def _items(n: int) -> list[Item]:
    out = []
    for seq in range(n):
        env = {"v": 1, "kind": "anomaly", "id": str(uuid.uuid4()), "data": {"asset": "pump", "n": seq}}
        body = json.dumps(env).encode()
        out.append(Item(seq, env["id"], "anomaly", 0.0, len(body), body))
    return out


def test_the_router_and_the_shipped_template_default_to_json_text() -> None:
    assert Settings().compress is False
    desired = load(TEMPLATES["production"])["modulesContent"]["upstream_router"]["properties.desired"]
    assert desired.get("compress", False) is False


def test_a_json_batch_is_utf8_text_that_routing_queries_can_read() -> None:
    enc = encode(_items(3), compress=False, source={"module": "upstream_router", "version": "0"})
    assert enc.content_encoding == "utf-8"
    body = json.loads(enc.payload.decode("utf-8"))
    assert body["kind"] == "batch" and body["data"]["count"] == 3
    assert [e["data"]["n"] for e in decode(enc.payload, enc.content_encoding)] == [0, 1, 2]


def test_upstream_decode_prints_every_event_of_json_and_gzip_batches(
    hub_factory: Callable[..., HubProcess], sdk_module: Callable[..., SdkModule]
) -> None:
    hub = hub_factory(
        make_manifest({"up": "FROM /messages/modules/router/outputs/upstream INTO $upstream"}, {"router": {}})
    )
    router = sdk_module(hub.env("router"))
    source = {"module": "router", "version": "0"}
    sent: list[Any] = []
    raws: list[bytes] = []
    for compress in (False, True):
        items = _items(2)
        enc = encode(items, compress=compress, source=source)
        router.send(
            "upstream",
            enc.payload,
            message_id=enc.message_id,
            content_type="application/json",
            content_encoding=enc.content_encoding,
            properties=enc.properties,
        )
        sent += [it.envelope() for it in items]
        raws.append(enc.payload)
    wait_for(lambda: len(hub.upstream()) == 2, timeout=30)  # both upstream messages logged by the hub
    result = subprocess.run(
        [sys.executable, "-m", "edgeloop_dev.cli", "upstream", "--decode", "--state-dir", str(hub.state_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    for record in hub.upstream():  # as `az iot hub monitor-events --properties all` prints one
        event = record["event"]
        assert set(event) == {
            "origin",
            "module",
            "interface",
            "component",
            "payload",
            "properties",
            "annotations",
        }
        annotations = event["annotations"]
        assert not [key for key in annotations if key.startswith("edgeloop")]
        assert annotations["iothub-connection-module-id"] == "router"
        assert annotations["iothub-connection-auth-generation-id"].isdigit()
        assert "dt-subject" not in event["properties"]["system"]
        assert "payload-encoding" not in event["properties"]["system"]  # az prints no such property
        assert event["properties"]["application"]["class"] == "anomaly"
        assert event["properties"]["application"]["events"] == "2"
    json_record, gzip_record = hub.upstream()
    assert json_record["event"]["payload"] == json.loads(raws[0])  # parsed, as az does for JSON text
    # az prints a body no unicode codec decodes as a placeholder; the hub keeps the bytes for --decode
    assert gzip_record["event"]["payload"] == az_payload(raws[1], "application/json")
    assert unicode_text(raws[1]) is not None or gzip_record["event"]["payload"] == NON_DECODABLE_PAYLOAD
    assert raw_body(hub.state_dir, gzip_record) == raws[1] and raw_body(hub.state_dir, json_record) is None
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["event"] for line in lines] == sent
    assert {line["class"] for line in lines} == {"anomaly"} and {line["module"] for line in lines} == {
        "router"
    }
