"""The hub's I/O-free logic: topic classification, delivery queues, SAS verification, twin merging."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from edgeloop_dev.hub import topics
from edgeloop_dev.hub.delivery import EndpointQueue
from edgeloop_dev.hub.errors import AuthError, TwinError
from edgeloop_dev.hub.identity import IdentityStore, make_sas_token, module_environment
from edgeloop_dev.hub.store import Store, StoredMessage
from edgeloop_dev.hub.twins import Twins, merge_patch


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        pytest.param(
            "devices/d/modules/m/messages/events/%24.on=o",
            topics.Telemetry("d", "m", "%24.on=o"),
            id="telemetry",
        ),
        pytest.param(
            "devices/d/modules/m/messages/events/", topics.Telemetry("d", "m", ""), id="telemetry-no-bag"
        ),
        pytest.param("$iothub/twin/GET/?$rid=a+b", topics.TwinGet("a+b"), id="twin-get-plus-literal"),
        pytest.param(
            "$iothub/twin/PATCH/properties/reported/?$rid=7", topics.TwinPatchReported("7"), id="reported"
        ),
        pytest.param(
            "$iothub/methods/res/200/?$rid=1f", topics.MethodResponse(200, "1f"), id="method-response"
        ),
    ],
)
def test_classify(topic: str, expected: topics.Incoming) -> None:
    assert topics.classify(topic) == expected


@pytest.mark.parametrize(
    "topic",
    ["devices/d/messages/events/", "$iothub/twin/GET/", "$iothub/methods/res/abc/?$rid=1", "foo/bar"],
)
def test_classify_unknown(topic: str) -> None:
    assert isinstance(topics.classify(topic), topics.Unknown)


def test_filter_matching() -> None:
    assert topics.filter_matches("devices/d/modules/m/inputs/#", "devices/d/modules/m/inputs/i/x=y")
    assert topics.filter_matches("a/+/c", "a/b/c")
    assert not topics.filter_matches("a/+/c", "a/b/d")
    assert not topics.filter_matches("devices/d/modules/m/inputs/#", "devices/d/modules/n/inputs/i")


def _msg(i: int, priority: int = 0, expires: float = math.inf) -> StoredMessage:
    return StoredMessage(i, "m/in", priority, 0.0, expires, "", str(i).encode())


def test_queue_priority_fifo_ttl_and_requeue() -> None:
    q = EndpointQueue("m/in")
    for m in (_msg(1, 5), _msg(2, 0), _msg(3, 5, expires=10.0), _msg(4, 0)):
        q.push(m)
    expired: list[int] = []
    got = [q.pop(20.0, lambda m: expired.append(m.id)) for _ in range(4)]
    assert [m.id if m else None for m in got] == [2, 4, 1, None]
    assert expired == [3]
    assert got[0] is not None and got[1] is not None
    q.push_front([got[1], got[0]])  # in-flight messages come back first, oldest first
    assert [q.pop(20.0, lambda m: None).id for _ in range(2)] == [2, 4]  # type: ignore[union-attr]


def test_sas_verification(tmp_path: Path) -> None:
    store = IdentityStore(tmp_path)
    store.ensure("m")
    token = make_sas_token(store, "m").encode()
    store.verify_sas("m", token)
    with pytest.raises(AuthError) as wrong_module:
        store.verify_sas("ghost", token)
    assert wrong_module.value.code == 5
    other = IdentityStore(tmp_path)
    other.ensure("n")
    with pytest.raises(AuthError, match="another resource"):
        store.verify_sas("n", token)
    with pytest.raises(AuthError, match="expired"):
        store.verify_sas("m", make_sas_token(store, "m", ttl=-1).encode())
    tampered = token.replace(b"sig=", b"sig=AA")
    with pytest.raises(AuthError, match="signature"):
        store.verify_sas("m", tampered)


def test_identities_created_later_are_found(tmp_path: Path) -> None:
    hub_view = IdentityStore(tmp_path)
    module_environment(tmp_path, "late")  # e.g. by the supervisor, after the hub started
    assert hub_view.get("late") is not None


def test_merge_patch() -> None:
    doc = {"a": 1, "b": {"c": 2, "d": 3}, "$version": 4}
    merge_patch(doc, {"a": None, "b": {"c": None, "e": 5}, "f": [1], "$version": 99})
    assert doc == {"b": {"d": 3, "e": 5}, "f": [1], "$version": 4}


def test_twins_versions_and_manifest_changes(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    twins = Twins(store, {"m": {"x": 1}})
    assert twins.patch_desired("m", {"y": 2}) == {"y": 2, "$version": 2}
    assert twins.patch_reported("m", {"r": 1}) == 2
    with pytest.raises(TwinError):
        twins.patch_reported("m", [1])
    same = Twins(store, {"m": {"x": 1}})  # restart, same manifest: pushed patches kept
    assert same.get("m")["desired"] == {"x": 1, "y": 2, "$version": 2}
    changed = Twins(store, {"m": {"x": 7}})  # the manifest changed: it wins, with a new version
    assert changed.get("m")["desired"] == {"x": 7, "$version": 3}
    assert changed.get("m")["reported"] == {"r": 1, "$version": 2}
    store.close()
