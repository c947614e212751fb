"""The local hub exposes edgeHub's built-in metric set with Microsoft's names and labels (BuiltInMetrics.md)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from prometheus_client.parser import text_string_to_metric_families

from edgeloop_dev.hub.harness import HubProcess, SdkModule, make_manifest, wait_for

BASE = {"iothub", "edge_device", "instance_number"}
# name → the labels BuiltInMetrics.md gives it (summaries add `quantile` to their samples)
EDGEHUB = {
    "edgehub_gettwin_total": {"source", "id"},
    "edgehub_messages_received_total": {"route_output", "id"},
    "edgehub_messages_sent_total": {"from", "to", "from_route_output", "to_route_input", "priority"},
    "edgehub_reported_properties_total": {"target", "id"},
    "edgehub_message_size_bytes": {"id"},
    "edgehub_gettwin_duration_seconds": {"source", "id"},
    "edgehub_message_send_duration_seconds": {"from", "to", "from_route_output", "to_route_input"},
    "edgehub_message_process_duration_seconds": {"from", "to", "priority"},
    "edgehub_reported_properties_update_duration_seconds": {"target", "id"},
    "edgehub_direct_method_duration_seconds": {"from", "to"},
    "edgehub_direct_methods_total": {"from", "to"},
    "edgehub_queue_length": {"endpoint", "priority"},
    "edgehub_messages_dropped_total": {"reason", "from", "from_route_output"},
    "edgehub_messages_unack_total": {"reason", "from", "from_route_output"},
    "edgehub_offline_count_total": {"id"},
    "edgehub_offline_duration_seconds": {"id"},
    "edgehub_operation_retry_total": {"id", "operation"},
    "edgehub_client_connect_failed_total": {"id", "reason"},
    "edgehub_connected_clients": set(),
    "edgehub_client_connect_success_total": {"id"},
    "edgehub_client_disconnect_total": {"id"},
}


def test_all_21_names_are_declared_with_edgehubs_labels(hub_factory: Callable[..., HubProcess]) -> None:
    hub = hub_factory(make_manifest({}, {}))
    text = hub.metrics_text()
    for name in EDGEHUB:
        family = name.removesuffix("_total")
        assert re.search(rf"^# TYPE ({family}|{name}) ", text, flags=re.M), name
    samples = [s for f in text_string_to_metric_families(text) for s in f.samples]
    guid = {s.labels["instance_number"] for s in samples if "instance_number" in s.labels}
    assert len(guid) == 1 and uuid.UUID(guid.pop())  # a GUID per run, as edgeHub's
    assert len(EDGEHUB) == 21


def test_a_routed_message_a_twin_and_a_method_fill_them_in(
    hub_factory: Callable[..., HubProcess], sdk_module: Callable[..., SdkModule]
) -> None:
    hub = hub_factory(
        make_manifest(
            {
                "r": 'FROM /messages/modules/a/outputs/o INTO BrokeredEndpoint("/modules/b/inputs/i")',
                "up": "FROM /messages/modules/a/outputs/o INTO $upstream",
            },
            {"a": {}, "b": {}},
        )
    )
    b = sdk_module(hub.env("b"), methods={"ping": lambda _payload: (200, {"ok": True})})
    a = sdk_module(hub.env("a"), inputs=False)
    a.send_json("o", {"n": 1})
    b.next_input(30)
    a.client.patch_twin_reported_properties({"x": 1})
    a.client.get_twin()
    assert hub.invoke("b", "ping")["status"] == 200
    wait_for(lambda: hub.metric("edgehub_messages_sent_total", to="b") == 1, timeout=30)  # delivery counted

    samples = [s for f in text_string_to_metric_families(hub.metrics_text()) for s in f.samples]

    def labelled(name: str, **labels: str) -> list[dict[str, str]]:
        return [s.labels for s in samples if s.name == name and labels.items() <= s.labels.items()]

    for name, labels in EDGEHUB.items():
        for sample_labels in labelled(name):
            assert set(sample_labels) - {"quantile"} == BASE | labels, (name, sample_labels)
    device = "edgeloop-device"
    assert labelled("edgehub_messages_received_total", route_output="o", id=f"{device}/a")
    sent = labelled("edgehub_messages_sent_total", to="b", to_route_input="i")
    assert [s["from"] for s in sent] == ["a"], labelled("edgehub_messages_sent_total")
    assert labelled("edgehub_messages_sent_total", to="upstream")
    assert labelled("edgehub_message_process_duration_seconds_count", to="b")
    assert labelled("edgehub_gettwin_total", id=f"{device}/a")
    assert labelled("edgehub_reported_properties_total", id=f"{device}/a")
    assert labelled("edgehub_direct_methods_total", to=f"{device}/b")
    assert labelled("edgehub_client_connect_success_total", id=f"{device}/b")
    assert labelled("edgehub_offline_count_total")
