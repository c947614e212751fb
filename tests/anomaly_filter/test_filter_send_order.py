"""The closed loop first: a decision's write requests leave before its anomaly and summary events."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from af_factories import T0, score, telemetry

from anomaly_filter.engine import FilterEngine
from anomaly_filter.rules import parse_rules
from anomaly_filter.signals import AssetBuffer
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


def opened_with_history() -> tuple[FilterEngine, list[Any]]:
    """An engine with 30 s of pump vibration, and the emits of the score that opens an anomaly."""
    eng = FilterEngine(parse_rules({"rules": [RULE], "summaryPeriodS": 3600}))
    for i in range(30):
        eng.on_telemetry(telemetry("pump", T0 - 30 + i, {"Vibration": 3.0 + i * 0.01}))
    return eng, eng.on_score(score("pump", T0, 1.5))


def test_the_anomaly_events_raw_window_is_built_after_its_write_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built: list[float] = []
    window = AssetBuffer.window

    def counted(self: AssetBuffer, start: float, end: float, max_samples: int) -> dict[str, object]:
        built.append(end)
        return window(self, start, end, max_samples)

    monkeypatch.setattr(AssetBuffer, "window", counted)
    _, out = opened_with_history()
    [action] = [e for e in out if e.output == "actions"]
    assert action.data["target"] == "pumpAnomalyFlag" and built == [], "decided without the raw window"
    [event] = [e for e in out if e.output == "anomalies"]
    assert len(event.data["window"]["timestamps"]) == 30 and built == [T0]


def test_an_event_read_after_more_telemetry_still_holds_the_window_of_its_decision() -> None:
    eng, out = opened_with_history()
    for i in range(5):
        eng.on_telemetry(telemetry("pump", T0 + 1 + i, {"Vibration": 9.0}))
    [event] = [e for e in out if e.output == "anomalies"]
    assert (
        len(event.data["window"]["timestamps"]) == 30
        and 9.0 not in event.data["window"]["fields"]["Vibration"]
    )
