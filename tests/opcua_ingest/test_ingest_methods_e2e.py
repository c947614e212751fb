"""OPC Publisher's method scripts against opcua_ingest: the local hub invokes them over the real SDK, the
changes reach node-opcua, persist to the file and show in the reported properties."""

from __future__ import annotations

import json
import queue
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgeloop_dev.hub.harness import HubProcess, SdkModule, make_manifest, wait_for
from edgeloop_dev.plant.testing import ModuleProcess

NSU = "nsu=urn:edgeloop:nodeopcua:plant"
ROUTES = {
    "telemetry": "FROM /messages/modules/opcua_ingest/outputs/telemetry INTO BrokeredEndpoint('/modules/sink/inputs/telemetry')"
}


def fields_within(sink: SdkModule, seconds: float) -> set[str]:
    """Field names of every value message that arrives within `seconds`."""
    out: set[str] = set()
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            msg = sink.next_input(timeout=left)
        except queue.Empty:
            break
        out |= {k for d in json.loads(msg.data)["Messages"] for k in d["Payload"]}
    return out


def test_the_v1_methods_manage_nodes_as_opc_publisher_does(
    node_server: Any, tmp_path: Path, hub_factory: Callable[..., HubProcess],
    sdk_module: Callable[..., SdkModule],
) -> None:  # fmt: skip
    entry = {"EndpointUrl": node_server.endpoint, "DataSetWriterGroup": "Asset0", "DataSetWriterId": "line1",
             "DataSetPublishingInterval": 200}  # fmt: skip
    pn = tmp_path / "publishednodes.json"
    pn.write_text(json.dumps([{**entry, "OpcNodes": [{"Id": f"{NSU};s=Counter", "DisplayName": "Counter"}]}]))
    hub = hub_factory(make_manifest(ROUTES, {"opcua_ingest": {}, "sink": {}}))
    sink = sdk_module(hub.env("sink"))
    env = {**hub.env("opcua_ingest"), "PUBLISHED_NODES_FILE": str(pn), "METRICS_PORT": "0",
           "METRICS_HOST": "127.0.0.1", "PKI_DIR": str(tmp_path / "pki"), "REPORT_INTERVAL_S": "1"}  # fmt: skip
    module = ModuleProcess("opcua_ingest", env, tmp_path / "ingest.log")
    try:
        assert wait_for(lambda: "Counter" in fields_within(sink, 1.0), 60), module.log.read_text()[-2000:]

        temperature = {"Id": f"{NSU};s=Temperature", "DisplayName": "Temperature"}
        assert hub.invoke("opcua_ingest", "PublishNodes_V1", {**entry, "OpcNodes": [temperature]}) == {
            "status": 200, "payload": {}}  # fmt: skip
        assert wait_for(lambda: fields_within(sink, 1.0) >= {"Counter", "Temperature"}, 30)
        on_disk = json.loads(pn.read_text())
        assert [n["DisplayName"] for n in on_disk[0]["OpcNodes"]] == ["Counter", "Temperature"], "persisted"

        endpoints = hub.invoke("opcua_ingest", "GetConfiguredEndpoints_V1", {})["payload"]["endpoints"]
        assert endpoints == [{"endpointUrl": node_server.endpoint, "dataSetWriterGroup": "Asset0",
                              "dataSetWriterId": "line1", "dataSetPublishingInterval": 200}]  # fmt: skip
        nodes = hub.invoke("opcua_ingest", "GetConfiguredNodesOnEndpoint_V1", entry)["payload"]["opcNodes"]
        assert [n["displayName"] for n in nodes] == ["Counter", "Temperature"]
        diag = hub.invoke("opcua_ingest", "GetDiagnosticInfo_V1", {})["payload"]
        assert wait_for(lambda: hub.invoke("opcua_ingest", "GetDiagnosticInfo_V1", {})["payload"][0][
            "monitoredOpcNodesSucceededCount"] == 2, 10)  # fmt: skip
        assert diag[0]["endpoint"]["endpointUrl"] == node_server.endpoint

        counter = {"Id": f"{NSU};s=Counter"}
        assert (
            hub.invoke("opcua_ingest", "UnpublishNodes_V1", {**entry, "OpcNodes": [counter]})["status"] == 200
        )
        assert wait_for(lambda: fields_within(sink, 1.0) == {"Temperature"}, 30)
        missing = hub.invoke("opcua_ingest", "UnpublishNodes_V1", {**entry, "OpcNodes": [counter]})
        assert missing["status"] == 404 and "not configured" in missing["payload"]["error"]

        refused = hub.invoke("opcua_ingest", "PublishNodes_V1",
                             {**entry, "DataSetWriterId": "x", "UseReverseConnect": True, "OpcNodes": [counter]})  # fmt: skip
        assert refused["status"] == 400 and "UseReverseConnect" in json.dumps(refused["payload"])

        assert hub.invoke("opcua_ingest", "UnpublishAllNodes_V1", {})["status"] == 200
        assert json.loads(pn.read_text()) == []
        published = wait_for(lambda: (p := hub.twin("opcua_ingest").get("reported", {}).get("ingest", {})
                                      .get("publishedNodes", {})).get("nodes") == 0 and p, 15)  # fmt: skip
        assert published["lastChange"]["method"] == "UnpublishAllNodes_V1"

        back = [{**entry, "OpcNodes": [{**counter, "DisplayName": "Counter"}]}]
        assert hub.invoke("opcua_ingest", "AddOrUpdateEndpoints_V1", back)["status"] == 200
        assert wait_for(lambda: "Counter" in fields_within(sink, 1.0), 30)
    finally:
        assert module.stop() == 0
