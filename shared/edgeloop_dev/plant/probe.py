"""A bare asyncua subscriber that only counts value changes: the client-side ceiling for benchmarks.

    python -m edgeloop_dev.plant.probe opc.tcp://127.0.0.1:4840 --tags 1000 --mode batch --seconds 15

`--mode handler` uses asyncua's stock `datachange_notification` handler (a task per value); `batch` uses
`edgeloop_opcua.BatchSubscription` (whole publish responses), as opcua_ingest does. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import asdict, dataclass
from typing import Any, Literal

from asyncua import Client, ua

from edgeloop_opcua import create_batch_subscription, subscription_parameters

from .tags import NAMESPACE_URI, load_tags

Mode = Literal["handler", "batch"]


@dataclass
class ProbeResult:
    """What the probe saw in the measured window."""

    mode: str
    items: int
    values: int
    publishes: int
    seconds: float
    cpu_s: float


class _Counter:
    """Counts values for both modes (handler methods and batch callbacks)."""

    def __init__(self) -> None:
        self.values = 0
        self.publishes = 0

    def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
        """Stock handler path: one call per value."""
        self.values += 1

    def status_change_notification(self, status: Any) -> None:
        """Stock handler path: subscription status."""

    def on_items(self, items: list[Any]) -> None:
        """Batch path: one call per publish response."""
        self.values += len(items)
        self.publishes += 1


def _items(ns: int, tags: int, sampling_ms: float, queue_size: int) -> list[Any]:
    out = []
    for handle, spec in enumerate(load_tags(tags), start=1):
        params = ua.MonitoringParameters(
            ClientHandle=handle, SamplingInterval=sampling_ms, QueueSize=queue_size, DiscardOldest=True
        )
        out.append(
            ua.MonitoredItemCreateRequest(
                ItemToMonitor=ua.ReadValueId(
                    NodeId=ua.NodeId(spec.name, ns), AttributeId=ua.AttributeIds.Value
                ),
                MonitoringMode=ua.MonitoringMode.Reporting,
                RequestedParameters=params,
            )
        )
    return out


async def probe(
    url: str,
    *,
    tags: int,
    mode: Mode = "batch",
    seconds: float = 10.0,
    warmup: float = 2.0,
    publishing_ms: float = 100.0,
    sampling_ms: float = 100.0,
    queue_size: int = 10,
) -> ProbeResult:
    """Subscribe to the plant's first `tags` load tags and count value changes for `seconds`."""
    counter = _Counter()
    async with Client(url, timeout=10) as client:
        ns = await client.get_namespace_index(NAMESPACE_URI)
        params = subscription_parameters(publishing_ms)
        if mode == "batch":
            sub = await create_batch_subscription(client, params, counter.on_items, lambda _s: None)
        else:
            sub = await client.create_subscription(params, counter)
        results = await sub.create_monitored_items(_items(ns, tags, sampling_ms, queue_size))
        items = sum(1 for r in results if not isinstance(r, ua.StatusCode))
        await asyncio.sleep(warmup)
        v0, p0, c0, t0 = counter.values, counter.publishes, time.process_time(), time.monotonic()
        await asyncio.sleep(seconds)
        result = ProbeResult(
            mode, items, counter.values - v0, counter.publishes - p0,
            time.monotonic() - t0, time.process_time() - c0,
        )  # fmt: skip
    return result


def main(argv: list[str] | None = None) -> int:
    """Command line: run the probe and print its result as JSON."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("url")
    ap.add_argument("--tags", type=int, default=1000)
    ap.add_argument("--mode", choices=("handler", "batch"), default="batch")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--publishing-ms", type=float, default=100.0)
    ap.add_argument("--sampling-ms", type=float, default=100.0)
    ap.add_argument("--queue-size", type=int, default=10)
    a = ap.parse_args(argv)
    result = asyncio.run(
        probe(a.url, tags=a.tags, mode=a.mode, seconds=a.seconds, warmup=a.warmup,
              publishing_ms=a.publishing_ms, sampling_ms=a.sampling_ms, queue_size=a.queue_size)
    )  # fmt: skip
    print(json.dumps(asdict(result)))  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
