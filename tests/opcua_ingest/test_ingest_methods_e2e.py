"""OPC Publisher's method scripts against opcua_ingest: the local hub invokes them over the real SDK, the
changes reach node-opcua, persist to the file and show in the reported properties."""

from __future__ import annotations

import json
import queue
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

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


@dataclass
class Ingest:
    """opcua_ingest publishing one node (Counter) of a node-opcua server, configured from a file."""

    hub: HubProcess
    sink: SdkModule
    entry: dict[str, Any]
    file: Path
    endpoint: str

    def invoke(self, method: str, payload: Any) -> dict[str, Any]:
        return dict(self.hub.invoke("opcua_ingest", method, payload))

    def publish_temperature(self) -> None:
        temperature = {"Id": f"{NSU};s=Temperature", "DisplayName": "Temperature"}
        assert self.invoke("PublishNodes_V1", {**self.entry, "OpcNodes": [temperature]}) == {
            "status": 200, "payload": {}}  # fmt: skip
        wait_for(lambda: fields_within(self.sink, 1.0) >= {"Counter", "Temperature"}, 30, what="both fields")


COUNTER = {"Id": f"{NSU};s=Counter"}


@pytest.fixture
def ingest(
    node_server: Any, tmp_path: Path, hub_factory: Callable[..., HubProcess],
    sdk_module: Callable[..., SdkModule],
) -> Iterator[Ingest]:  # fmt: skip
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
        yield Ingest(hub, sink, entry, pn, node_server.endpoint)
    finally:
        assert module.stop() == 0


def test_publish_nodes_adds_a_node_and_persists_it(ingest: Ingest) -> None:
    ingest.publish_temperature()
    on_disk = json.loads(ingest.file.read_text())
    assert [n["DisplayName"] for n in on_disk[0]["OpcNodes"]] == ["Counter", "Temperature"], "persisted"


def test_the_getters_answer_the_configuration_as_opc_publisher_does(ingest: Ingest) -> None:
    ingest.publish_temperature()
    endpoints = ingest.invoke("GetConfiguredEndpoints_V1", {})["payload"]["endpoints"]
    assert endpoints == [{"endpointUrl": ingest.endpoint, "dataSetWriterGroup": "Asset0",
                          "dataSetWriterId": "line1", "dataSetPublishingInterval": 200}]  # fmt: skip
    nodes = ingest.invoke("GetConfiguredNodesOnEndpoint_V1", ingest.entry)["payload"]["opcNodes"]
    assert [n["displayName"] for n in nodes] == ["Counter", "Temperature"]
    diag = wait_for(lambda: (d := ingest.invoke("GetDiagnosticInfo_V1", {})["payload"])[0][
        "monitoredOpcNodesSucceededCount"] == 2 and d, 10, what="two monitored nodes in the diagnostics")  # fmt: skip
    assert diag[0]["endpoint"]["endpointUrl"] == ingest.endpoint


def test_unpublish_nodes_stops_a_node_and_a_second_time_is_404(ingest: Ingest) -> None:
    ingest.publish_temperature()
    assert ingest.invoke("UnpublishNodes_V1", {**ingest.entry, "OpcNodes": [COUNTER]})["status"] == 200
    wait_for(lambda: fields_within(ingest.sink, 1.0) == {"Temperature"}, 30, what="Temperature alone")
    missing = ingest.invoke("UnpublishNodes_V1", {**ingest.entry, "OpcNodes": [COUNTER]})
    assert missing["status"] == 404 and "not configured" in missing["payload"]["error"]


def test_reverse_connect_is_refused_naming_it(ingest: Ingest) -> None:
    refused = ingest.invoke("PublishNodes_V1",
                            {**ingest.entry, "DataSetWriterId": "x", "UseReverseConnect": True, "OpcNodes": [COUNTER]})  # fmt: skip
    assert refused["status"] == 400 and "UseReverseConnect" in json.dumps(refused["payload"])


def test_unpublish_all_empties_file_and_report_and_add_or_update_brings_nodes_back(ingest: Ingest) -> None:
    assert ingest.invoke("UnpublishAllNodes_V1", {})["status"] == 200
    assert json.loads(ingest.file.read_text()) == []
    published = wait_for(lambda: (p := ingest.hub.twin("opcua_ingest").get("reported", {}).get("ingest", {})
                                  .get("publishedNodes", {})).get("nodes") == 0 and p, 15)  # fmt: skip
    assert published["lastChange"]["method"] == "UnpublishAllNodes_V1"
    back = [{**ingest.entry, "OpcNodes": [{**COUNTER, "DisplayName": "Counter"}]}]
    assert ingest.invoke("AddOrUpdateEndpoints_V1", back)["status"] == 200
    assert wait_for(lambda: "Counter" in fields_within(ingest.sink, 1.0), 30)
