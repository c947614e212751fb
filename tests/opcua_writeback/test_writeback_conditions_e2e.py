"""Acknowledge and Confirm of a real node-opcua alarm through opcua_writeback, guarded and audited like a write,
and the whole chain (alarm -> opcua_ingest -> anomaly_filter's ackCondition rule -> opcua_writeback); the
condition's own state and node-opcua's count of A&C calls are the judge."""

from __future__ import annotations

import importlib.util
import json
import random
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from edgeloop_dev.hub.harness import HubProcess, SdkModule, make_manifest, wait_for
from edgeloop_dev.plant.testing import ModuleProcess

_HARNESS = Path(__file__).resolve().parents[1] / "opcua_ingest" / "conftest.py"
_spec = importlib.util.spec_from_file_location("nodeopcua_harness", _HARNESS)
assert _spec is not None and _spec.loader is not None
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)

NSU = "nsu=urn:edgeloop:nodeopcua:plant"
ROUTES = {
    "actions": "FROM /messages/modules/filter/outputs/actions INTO BrokeredEndpoint('/modules/opcua_writeback/inputs/requests')",
    "audit": "FROM /messages/modules/opcua_writeback/outputs/audit INTO $upstream",
}
TARGETS = {
    "levelAck": {"kind": "acknowledge", "nodeId": f"{NSU};s=LevelAlarm"},
    "levelConfirm": {"kind": "confirm", "nodeId": f"{NSU};s=LevelAlarm"},
}


@pytest.fixture
def plant(tmp_path: Path) -> Iterator[Any]:
    if shutil.which("node") is None or not harness.NODE_OPCUA.exists():
        pytest.skip("node or node-opcua missing: run scripts/bootstrap")
    server = harness.NodeOpcuaServer(tmp_path / "nodeopcua", f"127.0.0.{random.randint(2, 254)}", tickMs=100)
    server.state.mkdir()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def writeback(
    plant: Any, tmp_path: Path, hub_factory: Callable[..., HubProcess], sdk_module: Callable[..., SdkModule]
) -> Iterator[tuple[HubProcess, SdkModule]]:
    desired = {"endpoint": plant.endpoint, "targets": TARGETS}
    hub = hub_factory(make_manifest(ROUTES, {"opcua_writeback": desired, "filter": {}}))
    feeder = sdk_module(hub.env("filter"))
    env = {**hub.env("opcua_writeback"), "METRICS_PORT": "0", "METRICS_HOST": "127.0.0.1",
           "PKI_DIR": str(tmp_path / "pki"), "AUTO_ACCEPT_UNTRUSTED": "true", "STATE_DIR": str(tmp_path / "state")}  # fmt: skip
    module = ModuleProcess("opcua_writeback", env, tmp_path / "wb.log")
    try:
        yield hub, feeder
    finally:
        assert module.stop() == 0


def send(feeder: SdkModule, target: str, value: Any, rid: str | None = None) -> str:
    rid = rid or str(uuid.uuid4())
    env = {"v": 1, "kind": "writeRequest", "id": rid, "ts": "2026-11-22T10:00:00.000Z",
           "source": {"module": "anomaly_filter", "version": "0.1.0"}, "correlationId": f"evt-{rid}",
           "data": {"requestId": rid, "target": target, "value": value, "reason": "test"}}  # fmt: skip
    feeder.send_json("actions", env, message_id=rid)
    return rid


def audits(hub: HubProcess, rid: str) -> list[dict[str, Any]]:
    bodies = [e["event"]["payload"] for e in hub.upstream()]
    return [b["data"] for b in bodies if isinstance(b, dict) and b.get("kind") == "audit"
            and b["data"].get("requestId") == rid]  # fmt: skip


def audit_for(hub: HubProcess, rid: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = wait_for(lambda: audits(hub, rid), 60)
    return found[0]


def test_an_alarm_is_acknowledged_then_confirmed_once_each_with_the_event_id_of_the_alarm(
    plant: Any, writeback: tuple[HubProcess, SdkModule]
) -> None:
    hub, feeder = writeback
    plant.command("set", name="Level", value=95.0)
    raised = plant.command("condition")
    assert raised["active"] is True and raised["acked"] is False

    bad = audit_for(hub, send(feeder, "levelAck", {"eventId": "not base64!", "comment": "x"}))
    assert bad["result"] == "refused" and "eventId" in bad["reason"], bad

    rid = send(feeder, "levelAck", {"eventId": raised["eventId"], "comment": "seen by edgeloop"})
    ack = audit_for(hub, rid)
    assert ack["result"] == "applied" and ack["nodeId"] == f"{NSU};s=LevelAlarm", ack
    send(feeder, "levelAck", {"eventId": raised["eventId"], "comment": "seen by edgeloop"}, rid=rid)  # again
    wait_for(lambda: len(audits(hub, rid)) == 2, 60)  # the repeat's audit: the first one again
    acked = plant.command("condition")
    assert (acked["acked"], acked["comment"], acked["acknowledgeCalls"]) == (True, "seen by edgeloop", 1), (
        acked
    )

    stale = audit_for(hub, send(feeder, "levelConfirm", {"eventId": raised["eventId"]}))
    assert stale["result"] == "failed" and "BadEventIdUnknown" in stale["reason"], stale
    done = audit_for(hub, send(feeder, "levelConfirm", {"eventId": acked["eventId"], "comment": "ok"}))
    assert done["result"] == "applied", done
    final = plant.command("condition")
    assert (final["confirmed"], final["confirmCalls"], final["acknowledgeCalls"]) == (True, 1, 1), final


SELECT = [
    {"TypeDefinitionId": "i=2041", "BrowsePath": ["EventId"]},
    {"TypeDefinitionId": "i=2041", "BrowsePath": ["SourceName"]},
    {"TypeDefinitionId": "i=2041", "BrowsePath": ["Severity"]},
    {"TypeDefinitionId": "i=2782", "BrowsePath": ["ConditionName"]},
    {"TypeDefinitionId": "i=2915", "BrowsePath": ["ActiveState", "Id"], "DisplayName": "Active"},
]
CHAIN = {
    "alarms": "FROM /messages/modules/opcua_ingest/outputs/telemetry INTO BrokeredEndpoint('/modules/anomaly_filter/inputs/telemetry')",
    "scores": "FROM /messages/modules/inference/outputs/scores INTO BrokeredEndpoint('/modules/anomaly_filter/inputs/scores')",
    "actions": "FROM /messages/modules/anomaly_filter/outputs/actions INTO BrokeredEndpoint('/modules/opcua_writeback/inputs/requests')",
    "audit": "FROM /messages/modules/opcua_writeback/outputs/audit INTO $upstream",
}
RULES = {"rules": [{"name": "level", "raise": 1.0, "clear": 0.8, "actions": [
    {"on": ["open"], "target": "levelAck", "ackCondition": "LevelAlarm", "reason": "AI sees it too ({rule})"}]}]}  # fmt: skip


def score(asset: str, end: str) -> dict[str, Any]:
    data = {"type": "window", "asset": asset, "model": {"name": "pca", "version": "1"}, "score": 2.0,
            "threshold": 1.0, "contributions": {"Level": 2.0}, "quality": "good", "windowStart": end,
            "windowEnd": end, "sourceTimestamp": end, "sourceMessageIds": []}  # fmt: skip
    return {"v": 1, "kind": "score", "id": str(uuid.uuid4()), "ts": end,
            "source": {"module": "inference", "version": "0"}, "correlationId": None, "data": data}  # fmt: skip


def test_a_plant_alarm_is_acknowledged_by_a_rule_through_ingest_filter_and_writeback(
    plant: Any, tmp_path: Path, hub_factory: Callable[..., HubProcess], sdk_module: Callable[..., SdkModule]
) -> None:
    pn = tmp_path / "publishednodes.json"
    pn.write_text(json.dumps([{"EndpointUrl": plant.endpoint, "DataSetWriterId": "tank", "DataSetPublishingInterval": 100,
        "OpcNodes": [{"Id": f"{NSU};s=Plant", "DisplayName": "Plant",
                      "EventFilter": {"TypeDefinitionId": "i=2915", "SelectClauses": SELECT}}]}]))  # fmt: skip
    desired = {"opcua_writeback": {"endpoint": plant.endpoint, "targets": TARGETS},
               "anomaly_filter": {"rules": RULES}, "opcua_ingest": {}, "inference": {}}  # fmt: skip
    hub = hub_factory(make_manifest(CHAIN, desired))
    inference = sdk_module(hub.env("inference"), inputs=False)
    common = {"METRICS_PORT": "0", "METRICS_HOST": "127.0.0.1", "PKI_DIR": str(tmp_path / "pki")}
    procs = [
        ModuleProcess("opcua_ingest", {**hub.env("opcua_ingest"), **common, "PUBLISHED_NODES_FILE": str(pn)},
                      tmp_path / "ingest.log"),
        ModuleProcess("anomaly_filter", {**hub.env("anomaly_filter"), **common}, tmp_path / "filter.log"),
        ModuleProcess("opcua_writeback", {**hub.env("opcua_writeback"), **common, "AUTO_ACCEPT_UNTRUSTED": "true"},
                      tmp_path / "wb.log"),
    ]  # fmt: skip
    try:
        plant.command("set", name="Level", value=95.0)

        def alarms_seen() -> int:
            try:
                answer = hub.invoke("anomaly_filter", "getStatus")
            except Exception:  # not connected yet
                return 0
            return int(answer["payload"].get("counts", {}).get("dcs_alarm_events", 0))

        assert wait_for(alarms_seen, 90), procs[0].log.read_text()[-2000:]
        inference.send_json("scores", score("tank", "2026-12-05T06:00:00.000Z"))

        def audits_up() -> list[dict[str, Any]]:
            payloads = [e["event"]["payload"] for e in hub.upstream()]
            return [p["data"] for p in payloads if isinstance(p, dict) and p.get("kind") == "audit"]

        [audit] = wait_for(audits_up, 60)
    finally:
        for p in procs:
            p.stop()
    assert audit["target"] == "levelAck" and audit["result"] == "applied", audit
    state = plant.command("condition")
    assert (state["acked"], state["acknowledgeCalls"], state["comment"]) == (
        True,
        1,
        "AI sees it too (level)",
    ), state
