"""The closed loop first: a decision's write requests leave before its anomaly and summary events."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from af_factories import T0, score

from edgeloop_runtime.testing import FakeHubClient

RULE: dict[str, Any] = {
    "name": "vib",
    "raise": 1.0,
    "clear": 0.8,
    "levels": [{"severity": "warning", "above": 1.0}],
    "actions": [{"on": ["open"], "target": "{asset}AnomalyFlag", "value": True}],
}


class HeldEvents(FakeHubClient):
    """Every output but `actions` waits at the hub until `gate` opens."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gate = asyncio.Event()

    async def send_to_output(self, message: Any, output: str) -> None:
        if output != "actions":
            await self.gate.wait()
        await super().send_to_output(message, output)


async def test_the_write_request_goes_out_while_the_anomaly_event_is_still_being_sent(tmp_path: Path) -> None:
    from anomaly_filter.app import module

    client = HeldEvents(twin={"desired": {"$version": 1, "rules": {"rules": [RULE]}}, "reported": {}})
    stop = asyncio.Event()
    task = asyncio.create_task(module.run(env={"METRICS_PORT": "-1", "STATE_DIR": str(tmp_path)},
                                          client=client, stop=stop))  # fmt: skip
    try:
        async with asyncio.timeout(20):  # wait for: the module running and subscribed
            while client.reported.get("status") != "running" or client.message_handler is None:
                await asyncio.sleep(0.01)
        await client.deliver("scores", score("pump", T0, 1.5), delivery="1.1")
        async with asyncio.timeout(20):  # wait for: the write request sent (the anomaly is held)
            while not client.outputs("actions"):
                await asyncio.sleep(0.01)
        assert client.outputs("anomalies") == []
        client.gate.set()
        async with asyncio.timeout(20):  # wait for: the score acknowledged, every effect out
            while client.settled != ["1.1"]:
                await asyncio.sleep(0.01)
    finally:
        client.gate.set()
        stop.set()
        await asyncio.wait_for(task, 20)
    assert [m.json()["data"]["state"] for m in client.outputs("anomalies")] == ["open"]
    assert [m.json()["data"]["target"] for m in client.outputs("actions")] == ["pumpAnomalyFlag"]
