"""opcua_ingest for real: the plant on loopback, the local hub, the real SDK, routes from a manifest."""

from __future__ import annotations

import json
import queue
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from edgeloop_dev.hub.harness import HubProcess, SdkModule, make_manifest, wait_for
from edgeloop_dev.plant import PlantOptions, PlantProcess, free_port
from edgeloop_dev.plant.testing import ModuleProcess, published_nodes

ROUTES = {
    "telemetry": "FROM /messages/modules/opcua_ingest/outputs/telemetry INTO BrokeredEndpoint('/modules/sink/inputs/telemetry')"
}


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlantProcess]:
    opts = PlantOptions(state_dir=tmp_path_factory.mktemp("plant"), port=free_port(), scenario="steady")
    with PlantProcess(opts) as p:
        yield p


def start_ingest(
    tmp_path: Path, hub_factory: Callable[..., HubProcess], sdk_module: Callable[..., SdkModule],
    env: dict[str, str], desired: dict[str, Any] | None = None,
) -> tuple[HubProcess, ModuleProcess, SdkModule]:  # fmt: skip
    hub = hub_factory(make_manifest(ROUTES, {"opcua_ingest": desired or {}, "sink": {}}))
    sink = sdk_module(hub.env("sink"))
    full = {**hub.env("opcua_ingest"), "METRICS_PORT": "0", "METRICS_HOST": "127.0.0.1",
            "PKI_DIR": str(tmp_path / "pki"), "RECONNECT_MAX_BACKOFF_S": "1", "REPORT_INTERVAL_S": "1", **env}  # fmt: skip
    module = ModuleProcess("opcua_ingest", full, tmp_path / "ingest.log")
    return hub, module, sink


def bodies(sink: SdkModule, seconds: float) -> list[dict[str, Any]]:
    out = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            msg = sink.next_input(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            break
        assert msg.content_type == "application/json"
        out.append(json.loads(msg.data))
    return out


def started(sink: SdkModule, seconds: float, wait: float = 30.0) -> list[dict[str, Any]]:
    """The first message (the module process may take seconds to import and connect on a busy machine),
    then everything that arrives in the next `seconds`."""
    msg = sink.next_input(timeout=wait)
    return [json.loads(msg.data), *bodies(sink, seconds)]


def fields(messages: list[dict[str, Any]]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (d["DataSetWriterId"], k, v) for m in messages for d in m["Messages"] for k, v in d["Payload"].items()
    ]


def reported(hub: HubProcess) -> dict[str, Any]:
    return dict(hub.twin("opcua_ingest").get("reported", {}))


def test_file_then_twin_reconfiguration_then_refused_patch(
    plant: PlantProcess, tmp_path: Path, hub_factory: Callable[..., HubProcess],
    sdk_module: Callable[..., SdkModule],
) -> None:  # fmt: skip
    pn = tmp_path / "publishednodes.json"
    pn.write_text(json.dumps(published_nodes(plant.endpoint, ("pump",))))
    hub, module, sink = start_ingest(tmp_path, hub_factory, sdk_module, {"PUBLISHED_NODES_FILE": str(pn)})
    try:
        first = started(sink, 3.0)
        assert first, module.log.read_text()[-2000:]
        m = first[-1]
        assert m["MessageType"] == "ua-data" and m["PublisherId"] and m["MessageId"]
        got = fields(first)
        assert {w for w, _, _ in got} == {"pump"}
        assert {"Flow", "Speed", "Vibration", "DischargePressure"} <= {f for _, f, _ in got}
        v = next(v for _, f, v in got if f == "Flow")
        assert isinstance(v["Value"], float) and v["SourceTimestamp"].endswith("Z") and "StatusCode" not in v
        assert len([1 for _, f, _ in got if f == "Flow"]) >= 5, "every change at 10 Hz, not one per second"
        wait_for(lambda: reported(hub).get("ingest", {}).get("publishedNodes", {}).get("nodes") == 8, 10)

        hub.push_desired("opcua_ingest", {"publishedNodes": published_nodes(plant.endpoint, ("crusher",))})
        wait_for(lambda: {w for w, _, _ in fields(bodies(sink, 0.5))} == {"crusher"}, 15)
        assert module.alive()

        hub.push_desired("opcua_ingest", {"publishedNodes": [{"EndpointUrl": "http://nope", "OpcNodes": []}]})
        cfg = wait_for(
            lambda: reported(hub).get("config", {}).get("status") == "refused" and reported(hub), 10
        )
        assert "EndpointUrl" in cfg["config"]["error"]
        assert {w for w, _, _ in fields(bodies(sink, 1.0))} == {"crusher"}, "old configuration stays"
        errors = [line for line in module.log_lines() if line.get("level") in ("error", "ERROR")]
        assert any("refused" in json.dumps(e) for e in errors)
    finally:
        assert module.stop() == 0


def test_bad_input_unknown_nodes_and_unreachable_endpoint_keep_running(
    plant: PlantProcess, tmp_path: Path, hub_factory: Callable[..., HubProcess],
    sdk_module: Callable[..., SdkModule],
) -> None:  # fmt: skip
    pn = tmp_path / "pn.json"
    pn.write_text("[{not json")
    hub, module, sink = start_ingest(tmp_path, hub_factory, sdk_module, {"PUBLISHED_NODES_FILE": str(pn)})
    try:
        state = wait_for(lambda: reported(hub).get("ingest", {}).get("publishedNodes", {}).get("status"), 20)
        assert state == "invalid" and "not valid JSON" in reported(hub)["ingest"]["publishedNodes"]["error"]
        doc = published_nodes(plant.endpoint, ("pump",))
        doc[0]["OpcNodes"].append({"Id": "nsu=urn:edgeloop:plant;s=No.Such.Tag", "DisplayName": "Ghost"})
        doc.append({"EndpointUrl": f"opc.tcp://127.0.0.1:{free_port()}", "DataSetWriterId": "gone",
                    "OpcNodes": [{"Id": "i=2258", "DisplayName": "Time"}]})  # fmt: skip
        hub.push_desired("opcua_ingest", {"publishedNodes": doc})
        assert fields(bodies(sink, 3.0)), "the good nodes flow"

        def endpoints() -> dict[str, Any]:
            return dict(reported(hub).get("ingest", {}).get("endpoints", {}))

        eps = wait_for(lambda: len(endpoints()) == 2 and endpoints(), 10)
        good = next(v for k, v in eps.items() if str(plant.options.port) in k)
        assert "BadNodeIdUnknown" in json.dumps(good["nodeErrors"]) and good["monitoredItems"] == 8
        bad = wait_for(lambda: next(v for k, v in endpoints().items() if str(plant.options.port) not in k)
                       if any(v["state"] == "reconnecting" for v in endpoints().values()) else None, 10)  # fmt: skip
        assert bad["lastError"] and bad["reconnects"] >= 1
        assert module.alive()
    finally:
        assert module.stop() == 0


def test_server_restart_marks_the_gap_and_data_resumes(
    tmp_path: Path, hub_factory: Callable[..., HubProcess], sdk_module: Callable[..., SdkModule]
) -> None:
    opts = PlantOptions(state_dir=tmp_path / "plant", port=free_port(), scenario="steady")
    with PlantProcess(opts) as plant:
        pn = tmp_path / "pn.json"
        pn.write_text(json.dumps(published_nodes(plant.endpoint, ("pump",))))
        hub, module, sink = start_ingest(tmp_path, hub_factory, sdk_module, {"PUBLISHED_NODES_FILE": str(pn)})
        try:
            assert fields(started(sink, 3.0))
            plant.kill()
            down = bodies(sink, 3.0)
            bad = [(f, v) for _, f, v in fields(down) if v.get("StatusCode")]
            assert {v["StatusCode"]["Symbol"] for _, v in bad} == {"BadNoCommunication"}
            assert {f for f, _ in bad} >= {"Flow", "Speed"} and all(v["Value"] is None for _, v in bad)
            assert not fields(bodies(sink, 1.0)), "no stale values while the server is down"
            plant.start()
            resumed = wait_for(lambda: [x for x in fields(bodies(sink, 0.3)) if "StatusCode" not in x[2]], 10)
            assert resumed, "Good values resume once the server is back"
            ing = wait_for(lambda: reported(hub).get("ingest", {}).get("endpoints"), 5)
            assert next(iter(ing.values()))["reconnects"] >= 1
        finally:
            assert module.stop() == 0
