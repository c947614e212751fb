"""Module twins via the hub: desired from the manifest, reported persisted, desired pushes with $version."""

from __future__ import annotations

import json
from collections.abc import Callable

from edgeloop_dev.hub.harness import HubProcess, SdkModule, make_manifest, wait_for


def test_twin_get_patch_push_and_persistence(
    hub_factory: Callable[..., HubProcess], sdk_module: Callable[..., SdkModule]
) -> None:
    manifest = make_manifest({}, {"m": {"gain": 2.0, "nested": {"a": 1}}})
    hub = hub_factory(manifest)
    m = sdk_module(hub.env("m"), desired=True, inputs=False)

    twin = m.get_twin()
    assert twin["desired"] == {"gain": 2.0, "nested": {"a": 1}, "$version": 1}
    assert twin["reported"] == {"$version": 1}

    m.patch_reported({"status": "ok", "n": 1})
    m.patch_reported({"n": None, "config": {"gain": 2.0}})
    assert hub.twin("m")["reported"] == {"status": "ok", "config": {"gain": 2.0}, "$version": 3}

    hub.push_desired("m", {"gain": 3.5, "nested": {"b": 2}})
    patch = m.desired_patches.get(timeout=10)
    if patch["$version"] == 1:  # the SDK's own full-desired event after its first twin GET
        patch = m.desired_patches.get(timeout=10)
    assert patch == {"gain": 3.5, "nested": {"b": 2}, "$version": 2}
    assert m.get_twin()["desired"] == {"gain": 3.5, "nested": {"a": 1, "b": 2}, "$version": 2}

    hub.restart()
    assert hub.twin("m")["reported"]["status"] == "ok"
    assert hub.twin("m")["desired"]["$version"] == 2
    # after the reconnect the SDK re-reads the twin; the same $version means no spurious patch
    wait_for(lambda: "m" in hub.status()["connected"], timeout=15)
    assert m.desired_patches.empty()


def test_reported_patch_routes_a_twin_change_notification(
    hub_factory: Callable[..., HubProcess], sdk_module: Callable[..., SdkModule]
) -> None:
    manifest = make_manifest(
        {"changes": 'FROM /twinChangeNotifications INTO BrokeredEndpoint("/modules/watch/inputs/twin")'},
        {"m": {}, "watch": {}},
    )
    hub = hub_factory(manifest)
    watch = sdk_module(hub.env("watch"))
    m = sdk_module(hub.env("m"), inputs=False)
    m.patch_reported({"temperature": 21})
    msg = watch.next_input()
    assert msg.input_name == "twin"
    assert json.loads(msg.data)["temperature"] == 21
    assert msg.custom_properties["$.cmid"] == "m"
