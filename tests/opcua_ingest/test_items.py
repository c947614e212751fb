"""Monitored-item requests, the per-item watchdog and the publish callback, without a session."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from asyncua import ua

from opcua_ingest.items import item_request, late_items, sample_callback
from opcua_ingest.plan import NodePlan, SubscriptionPlan
from opcua_ingest.pubsub import Sample


def node(**kw: Any) -> NodePlan:
    base: dict[str, Any] = dict(
        node_id="ns=2;s=X", field="Flow", sampling_ms=100, queue_size=5, trigger="StatusValue",
        deadband_type=None, deadband_value=0.0, heartbeat_s=0.0, skip_first=False,
    )  # fmt: skip
    base.update(kw)
    return NodePlan(**base)


def writer(watchdog_s: float, all_late: bool) -> SubscriptionPlan:
    return SubscriptionPlan("pump", "plant", 100.0, (), item_watchdog_s=watchdog_s, watchdog_all=all_late)


def test_a_plain_item_asks_for_no_filter_and_keeps_its_sampling_queue_and_discard_policy() -> None:
    request = item_request(ua.NodeId(5, 2), 7, node(discard_new=True))
    params = request.RequestedParameters
    assert (params.ClientHandle, params.SamplingInterval, params.QueueSize) == (7, 100, 5)
    assert params.DiscardOldest is False
    assert not isinstance(params.Filter, ua.DataChangeFilter)  # asyncua's empty ExtensionObject


def test_an_absolute_deadband_goes_to_the_server_as_a_data_change_filter() -> None:
    request = item_request(ua.NodeId(5, 2), 1, node(deadband_type="Absolute", deadband_value=0.5))
    flt = request.RequestedParameters.Filter
    assert (flt.DeadbandType, flt.DeadbandValue) == (ua.DeadbandType.Absolute, 0.5)


def test_a_percent_deadband_is_not_sent_to_the_server_it_is_applied_by_the_module() -> None:
    request = item_request(ua.NodeId(5, 2), 1, node(deadband_type="Percent", deadband_value=5.0))
    assert not isinstance(request.RequestedParameters.Filter, ua.DataChangeFilter)


@pytest.mark.parametrize(
    ("all_late", "seen", "late"),
    [
        pytest.param(False, {1: 0.0, 2: 9.5}, True, id="any-one-late-fires"),
        pytest.param(False, {1: 9.5, 2: 9.5}, False, id="none-late"),
        pytest.param(True, {1: 0.0, 2: 9.5}, False, id="when-all-one-late-waits"),
        pytest.param(True, {1: 0.0, 2: 1.0}, True, id="when-all-all-late-fires"),
        pytest.param(False, {}, False, id="no-item-seen-yet"),
    ],
)
def test_the_item_watchdog_fires_on_any_or_all_late_items(
    all_late: bool, seen: dict[int, float], late: bool
) -> None:
    reason = late_items(writer(5.0, all_late), seen, now=10.0)
    assert (reason is not None) == late, reason


def test_the_publish_callback_turns_known_items_into_one_batch_of_samples() -> None:
    batches: list[list[Sample]] = []
    callback = sample_callback({1: ("pump", "plant", "Flow")}, batches.append)
    ts = datetime(2026, 12, 5, tzinfo=UTC)
    bad = ua.StatusCode(ua.StatusCodes.BadSensorFailure)
    items = [
        SimpleNamespace(ClientHandle=1, Value=ua.DataValue(ua.Variant(3.5), SourceTimestamp=ts)),
        SimpleNamespace(ClientHandle=99, Value=ua.DataValue(ua.Variant(1.0))),  # not ours: left out
        SimpleNamespace(ClientHandle=1, Value=ua.DataValue(ua.Variant(None), StatusCode=bad)),
    ]
    callback(items)
    [batch] = batches
    assert [(s.field, s.value, s.status_symbol) for s in batch] == [
        ("Flow", 3.5, "Good"),
        ("Flow", None, "BadSensorFailure"),
    ]
    assert batch[0].source_ts == ts
