"""A real node-opcua alarm through opcua_ingest, the local hub's route on `dataSetMessageType` and
upstream_router to `$upstream`: the active alarm goes ahead of every lower class waiting in the store."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgeloop_dev.hub.errors import MethodError as HubMethodError
from edgeloop_dev.hub.harness import HubProcess, SdkModule, make_manifest, wait_for
from edgeloop_dev.plant.testing import ModuleProcess

NSU = "nsu=urn:edgeloop:nodeopcua:plant"
ROUTER = "upstream_router"
SELECT = [
    {"TypeDefinitionId": "i=2041", "BrowsePath": ["EventId"]},
    {"TypeDefinitionId": "i=2041", "BrowsePath": ["SourceName"]},
    {"TypeDefinitionId": "i=2041", "BrowsePath": ["Severity"]},
    {"TypeDefinitionId": "i=2041", "BrowsePath": ["Message"]},
    {"TypeDefinitionId": "i=2782", "BrowsePath": ["ConditionName"]},
    {"TypeDefinitionId": "i=2915", "BrowsePath": ["ActiveState", "Id"], "DisplayName": "Active"},
]
ROUTES = {  # as in deployment/*.template.json
    "alarmsToRouter": "FROM /messages/modules/opcua_ingest/outputs/telemetry WHERE dataSetMessageType = 'ua-event' "
    "INTO BrokeredEndpoint('/modules/upstream_router/inputs/alarms')",
    "summaries": "FROM /messages/modules/src/outputs/summaries INTO BrokeredEndpoint('/modules/upstream_router/inputs/summaries')",
    "drift": "FROM /messages/modules/src/outputs/drift INTO BrokeredEndpoint('/modules/upstream_router/inputs/drift')",
    "up": "FROM /messages/modules/upstream_router/outputs/upstream INTO $upstream",
}


def upstream(hub: HubProcess) -> list[dict[str, Any]]:
    """Every event the router delivered, unpacked from batches, in arrival order, with its class."""
    out = []
    for rec in hub.upstream():
        ev = rec["event"]
        if ev["module"] != ROUTER:
            continue
        cls = ev["properties"]["application"]["class"]
        payload = ev["payload"]
        events = payload["data"]["events"] if payload.get("kind") == "batch" else [payload]
        out.extend({**e, "_class": cls} for e in events)
    return out


def depth(hub: HubProcess, cls: str) -> float:
    try:
        answer = hub.invoke(ROUTER, "getQueueStatus")
    except HubMethodError:
        return -1
    return answer["payload"]["queues"][cls]["messages"] if answer["status"] == 200 else -1


def envelope(kind: str, i: int, data: dict[str, Any]) -> dict[str, Any]:
    return {"v": 1, "kind": kind, "id": f"{kind}-{i}", "ts": "2027-01-15T08:00:00.000Z",
            "source": {"module": "src", "version": "0"}, "correlationId": None, "data": data}  # fmt: skip


def summary(i: int) -> dict[str, Any]:
    return envelope("summary", i, {"asset": "pump", "periodStart": f"2027-01-15T08:{i:02d}:00.000Z",
                                   "periodEnd": f"2027-01-15T08:{i:02d}:59.999Z", "anomalies": 0,
                                   "fields": {"Flow": {"min": 1.0, "max": 2.0, "mean": 1.5, "count": 10}}})  # fmt: skip


def test_a_node_opcua_alarm_reaches_upstream_ahead_of_lower_classes(
    node_server: Any, tmp_path: Path, hub_factory: Callable[..., HubProcess],
    sdk_module: Callable[..., SdkModule],
) -> None:  # fmt: skip
    pn = tmp_path / "publishednodes.json"
    pn.write_text(json.dumps([{
        "EndpointUrl": node_server.endpoint, "DataSetWriterId": "tank", "DataSetPublishingInterval": 100,
        "OpcNodes": [{"Id": f"{NSU};s=Plant", "DisplayName": "Plant",
                      "EventFilter": {"TypeDefinitionId": "i=2915", "SelectClauses": SELECT}},
                     {"Id": f"{NSU};s=Counter", "DisplayName": "Counter"}]}]))  # fmt: skip
    node_server.command("set", name="Level", value=95.0)  # active before ingest connects: ConditionRefresh
    hub = hub_factory(make_manifest(ROUTES, {"opcua_ingest": {}, ROUTER: {"linkUp": False}, "src": {}}))
    router = ModuleProcess(ROUTER, {**hub.env(ROUTER), "METRICS_PORT": "0", "SHUTDOWN_GRACE_SECONDS": "2",
                                    "BATCH_INTERVAL_SECONDS": json.dumps({"event": 0, "drift": 0.2, "summary": 0.2}),
                                    "ALARM_MIN_SEVERITY": "100"},  # node-opcua's HighHigh is severity 150
                           tmp_path / "router.log")  # fmt: skip
    ingest = ModuleProcess("opcua_ingest", {**hub.env("opcua_ingest"), "PUBLISHED_NODES_FILE": str(pn),
                                            "METRICS_PORT": "0", "METRICS_HOST": "127.0.0.1",
                                            "PKI_DIR": str(tmp_path / "pki")}, tmp_path / "ingest.log")  # fmt: skip
    try:
        src = sdk_module(hub.env("src"), inputs=False)
        for i in range(5):  # lower classes already waiting while the link is down
            src.send_json("summaries", summary(i), message_id=f"summary-{i}")
            src.send_json("drift", envelope("drift", i, {"drifted": ["Flow"]}), message_id=f"drift-{i}")
        wait_for(lambda: depth(hub, "summary") == 5 and depth(hub, "drift") == 5, timeout=60)
        assert wait_for(lambda: depth(hub, "alarm") >= 1, timeout=60), ingest.log.read_text()[-2000:]
        node_server.command("set", name="Level", value=50.0)  # back to normal: a lower-class `event`
        assert wait_for(lambda: depth(hub, "event") >= 1, timeout=30), router.log.read_text()[-2000:]
        hub.push_desired(ROUTER, {"linkUp": True})
        events = wait_for(
            lambda: (
                (evs := upstream(hub))
                and sum(e["_class"] == "summary" for e in evs) == 5
                and any(e["_class"] == "event" for e in evs)
                and evs
            ),
            timeout=60,
        )
    finally:
        ingest.stop()
        router.stop()
    order = [e["_class"] for e in events]
    alarm = events[order.index("alarm")]
    assert alarm["kind"] == "alarm" and alarm["data"]["asset"] == "tank" and alarm["data"]["active"] is True
    assert alarm["data"]["condition"] == "LevelAlarm" and alarm["data"]["severity"] >= 100
    assert alarm["data"]["eventId"], "the OPC UA EventId travels with the alarm"
    assert not any(e["kind"] == "alarm" and "Counter" in e["data"]["fields"] for e in events), (
        "values stay out"
    )
    back_to_normal = events[order.index("event")]
    assert back_to_normal["kind"] == "alarm" and back_to_normal["data"]["active"] is False
    last = {c: len(order) - 1 - order[::-1].index(c) for c in ("alarm", "event", "drift")}
    assert last["alarm"] < order.index("event") and last["event"] < order.index("drift"), order
    assert last["drift"] < order.index("summary"), order
