"""Monitored items as asyncua requests, and the per-item watchdog's bookkeeping (pure, no session)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from asyncua import ua

from .plan import NodePlan, SubscriptionPlan
from .pubsub import Sample

_TRIGGERS = {
    "Status": ua.DataChangeTrigger.Status,
    "StatusValue": ua.DataChangeTrigger.StatusValue,
    "StatusValueTimestamp": ua.DataChangeTrigger.StatusValueTimestamp,
}


def item_request(nid: ua.NodeId, handle: int, node: NodePlan) -> ua.MonitoredItemCreateRequest:
    mparams = ua.MonitoringParameters()
    mparams.ClientHandle = handle
    mparams.SamplingInterval = node.sampling_ms
    mparams.QueueSize = node.queue_size
    mparams.DiscardOldest = not node.discard_new
    if node.trigger != "StatusValue" or node.deadband_type == "Absolute":
        flt = ua.DataChangeFilter()
        flt.Trigger = _TRIGGERS[node.trigger]
        if node.deadband_type == "Absolute":
            flt.DeadbandType = ua.DeadbandType.Absolute
            flt.DeadbandValue = node.deadband_value
        mparams.Filter = flt
    mir = ua.MonitoredItemCreateRequest()
    mir.ItemToMonitor = ua.ReadValueId(
        NodeId=nid, AttributeId=getattr(ua.AttributeIds, node.attribute), IndexRange=node.index_range
    )
    mir.MonitoringMode = ua.MonitoringMode.Reporting
    mir.RequestedParameters = mparams
    return mir


def stamping(on_items: Callable[[list[Any]], None], seen: dict[int, float]) -> Callable[[list[Any]], None]:
    """on_items that also notes when each item last had a value (the per-item watchdog)."""

    def stamped(items: list[Any]) -> None:
        now = time.monotonic()
        for item in items:
            seen[item.ClientHandle] = now
        on_items(items)

    return stamped


def late_items(sp: SubscriptionPlan, seen: dict[int, float] | None, now: float) -> str | None:
    """OpcNodeWatchdogTimespan: the reason when the writer's items are late (any, or all with
    OpcNodeWatchdogCondition WhenAllAreLate), else None."""
    if not seen:
        return None
    late = sum(1 for t in seen.values() if now - t > sp.item_watchdog_s)
    if not late or (sp.watchdog_all and late < len(seen)):
        return None
    return (
        f"{late} of {len(seen)} monitored items of {sp.writer_id} ({sp.publishing_ms:g} ms) without a "
        f"value for more than {sp.item_watchdog_s:g} s (OpcNodeWatchdogTimespan): recreated"
    )


def sample_callback(
    handles: dict[int, tuple[str, str, str]], submit: Callable[[list[Sample]], None]
) -> Callable[[list[Any]], None]:
    """The publish-response callback of one subscription: its items as Samples, in one submit."""

    def on_items(items: list[Any]) -> None:
        samples = []
        for item in items:
            target = handles.get(item.ClientHandle)
            if target is None:
                continue
            dv = item.Value
            status = dv.StatusCode
            code = status.value if status is not None else 0
            variant = dv.Value
            samples.append(
                Sample(
                    target[0], target[1], target[2], variant.Value if variant is not None else None,
                    dv.SourceTimestamp, dv.ServerTimestamp, code, status.name if code else "Good",
                )
            )  # fmt: skip
        submit(samples)

    return on_items
