"""A few of the plant's signals, watched over OPC UA for the dashboard (latest value and a short history)."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import Any

from edgeloop_dev.plant import NAMESPACE_URI

WATCHED = (
    "Conveyor.Vibration",
    "Conveyor.MotorCurrent",
    "Crusher.Vibration",
    "Crusher.BearingTemp",
    "Pump.Flow",
    "Pump.SuctionPressure",
    "Pump.Vibration",
)
HISTORY = 40


class SignalWatch:
    """Subscribes to WATCHED on the plant; reconnects quietly if the plant goes away."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.latest: dict[str, float] = {}
        self.status: dict[str, str] = {}
        self.history: dict[str, deque[float]] = {tag: deque(maxlen=HISTORY) for tag in WATCHED}
        self.connected = False

    def datachange_notification(self, node: Any, value: Any, data: Any) -> None:
        tag = self._names.get(node.nodeid.to_string())
        if tag is None:
            return
        code = data.monitored_item.Value.StatusCode
        self.status[tag] = code.name if not code.is_good() else "Good"
        if isinstance(value, int | float):
            self.latest[tag] = float(value)
            self.history[tag].append(float(value))

    async def run(self) -> None:
        from asyncua import Client

        while True:
            try:
                async with Client(self.endpoint, timeout=4) as client:
                    ns = await client.get_namespace_index(NAMESPACE_URI)
                    nodes = [client.get_node(f"ns={ns};s={tag}") for tag in WATCHED]
                    self._names = {n.nodeid.to_string(): tag for n, tag in zip(nodes, WATCHED, strict=True)}
                    sub = await client.create_subscription(500, self)
                    await sub.subscribe_data_change(nodes)
                    self.connected = True
                    while True:
                        await asyncio.sleep(2)
                        await client.check_connection()
            except asyncio.CancelledError:
                raise
            except Exception:
                self.connected = False
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.sleep(2)

    _names: dict[str, str] = {}


def sparkline(values: deque[float] | list[float]) -> str:
    """A one-line plot of values with block characters."""
    blocks = " ▁▂▃▄▅▆▇█"
    if not values:
        return ""
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    return "".join(blocks[int((v - lo) / span * (len(blocks) - 1))] for v in values)
