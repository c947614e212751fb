"""Companion commands against a running hub: twin, upstream --follow, and the metrics endpoint."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable

from edgeloop_dev.hub.harness import HubProcess, SdkModule, make_manifest

HUB_CMD = [sys.executable, "-m", "edgeloop_dev.hub"]


def test_twin_command_prints_and_pushes(
    hub_factory: Callable[..., HubProcess], sdk_module: Callable[..., SdkModule]
) -> None:
    hub = hub_factory(make_manifest({}, {"m": {"gain": 1}}))
    m = sdk_module(hub.env("m"), inputs=False, desired=True)
    base = [*HUB_CMD, "twin", "--state-dir", str(hub.state_dir), "m"]
    shown = json.loads(subprocess.run(base, capture_output=True, text=True, check=True).stdout)
    assert shown["desired"] == {"gain": 1, "$version": 1}
    pushed = subprocess.run([*base, "--desired", '{"gain": 2}'], capture_output=True, text=True, check=True)
    assert json.loads(pushed.stdout)["desired"] == {"gain": 2, "$version": 2}
    patch = m.desired_patches.get(timeout=10)
    if patch["$version"] == 1:  # the SDK's own full-desired event after its first twin GET
        patch = m.desired_patches.get(timeout=10)
    assert patch == {"gain": 2, "$version": 2}
    bad = subprocess.run([*base, "--desired", "{nope"], capture_output=True, text=True, check=False)
    assert bad.returncode != 0
    assert "not JSON" in bad.stderr


def test_upstream_follow_prints_new_messages(
    hub_factory: Callable[..., HubProcess], sdk_module: Callable[..., SdkModule]
) -> None:
    hub = hub_factory(make_manifest({"up": "FROM /messages/* INTO $upstream"}, {"a": {}}))
    a = sdk_module(hub.env("a"), inputs=False)
    with subprocess.Popen(
        [*HUB_CMD, "upstream", "--state-dir", str(hub.state_dir), "--follow"],
        stdout=subprocess.PIPE,
        text=True,
    ) as follow:
        assert follow.stdout is not None
        a.send_json("o", {"n": 1})
        a.send_json("o", {"n": 2})
        lines = [follow.stdout.readline(), follow.stdout.readline()]
        follow.terminate()
    assert [json.loads(line)["event"]["payload"] for line in lines] == [{"n": 1}, {"n": 2}]


def test_metrics_use_edgehub_names(
    hub_factory: Callable[..., HubProcess], sdk_module: Callable[..., SdkModule]
) -> None:
    hub = hub_factory(
        make_manifest(
            {"r": 'FROM /messages/modules/a/outputs/o INTO BrokeredEndpoint("/modules/b/inputs/i")'},
            {"a": {}, "b": {}},
        )
    )
    a = sdk_module(hub.env("a"), inputs=False)
    a.send("o", "to-offline-b")
    a.send("nowhere", "no route")
    text = hub.metrics_text()
    for name in (
        "edgehub_messages_received_total",
        "edgehub_messages_dropped_total",
        "edgehub_queue_length",
        "edgehub_connected_clients",
    ):
        assert name in text
    assert hub.metric("edgehub_messages_received_total", id="edgeloop-device/a") == 2
    assert hub.metric("edgehub_messages_dropped_total", reason="no_route") == 1
    assert hub.metric("edgehub_connected_clients") == 1
