"""UseCyclicRead: nodes read with the Read service at their sampling interval instead of being monitored."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from asyncua import Client, ua

from .plan import NodePlan
from .pubsub import Sample

CyclicNode = tuple[str, str, NodePlan, ua.NodeId]  # writer, group, node, resolved id


async def cyclic_reads(
    client: Client, nodes: list[CyclicNode], submit: Callable[[list[Sample]], None]
) -> None:
    """Read every node at its sampling interval (one Read per interval) until cancelled or a read fails."""
    by_interval: dict[float, list[CyclicNode]] = {}
    for item in nodes:
        by_interval.setdefault(max(item[2].sampling_ms, 10.0), []).append(item)
    await asyncio.gather(*(_every(client, ms, items, submit) for ms, items in by_interval.items()))


async def _every(
    client: Client, interval_ms: float, items: list[CyclicNode], submit: Callable[[list[Sample]], None]
) -> None:
    params = ua.ReadParameters()
    params.TimestampsToReturn = ua.TimestampsToReturn.Both
    params.NodesToRead = [
        ua.ReadValueId(
            NodeId=nid, AttributeId=getattr(ua.AttributeIds, n.attribute), IndexRange=n.index_range
        )
        for _w, _g, n, nid in items
    ]
    period = interval_ms / 1000.0
    next_at = time.monotonic()
    while True:
        results = await client.uaclient.read(params)
        samples = []
        for (writer, group, node, _nid), dv in zip(items, results, strict=True):
            code = dv.StatusCode.value if dv.StatusCode is not None else 0
            samples.append(
                Sample(
                    writer, group, node.field, dv.Value.Value if dv.Value is not None else None,
                    dv.SourceTimestamp, dv.ServerTimestamp, code, dv.StatusCode.name if code else "Good",
                )
            )  # fmt: skip
        submit(samples)
        next_at = max(next_at + period, time.monotonic())  # late reads are not made up in a burst
        await asyncio.sleep(next_at - time.monotonic())
