"""opcua_writeback for real: write requests through the local hub into the plant, audit events upstream."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from edgeloop_dev.hub.harness import HubProcess, SdkModule, make_manifest, wait_for
from edgeloop_dev.plant import PlantOptions, PlantProcess, free_port, read_audit
from edgeloop_dev.plant.testing import ModuleProcess

ROUTES = {
    "actions": "FROM /messages/modules/filter/outputs/actions INTO BrokeredEndpoint('/modules/opcua_writeback/inputs/requests')",
    "audit": "FROM /messages/modules/opcua_writeback/outputs/audit INTO $upstream",
}
TARGETS = {
    "pumpSpeed": {"nodeId": "nsu=urn:edgeloop:plant;s=Pump.SpeedSetpoint", "min": 600, "max": 1500,
                  "maxRatePerS": 20, "minIntervalS": 3},
    "advisory": {"nodeId": "nsu=urn:edgeloop:plant;s=AI.Advisory", "type": "String"},
    "flowGhost": {"nodeId": "nsu=urn:edgeloop:plant;s=No.Such", "min": 0, "max": 1},
}  # fmt: skip


@pytest.fixture
def rig(
    tmp_path: Path, hub_factory: Callable[..., HubProcess], sdk_module: Callable[..., SdkModule]
) -> Iterator[tuple[PlantProcess, HubProcess, ModuleProcess, SdkModule]]:
    opts = PlantOptions(state_dir=tmp_path / "plant", port=free_port(), scenario="steady")
    with PlantProcess(opts) as plant:
        desired = {"endpoint": plant.endpoint, "targets": TARGETS}
        hub = hub_factory(make_manifest(ROUTES, {"opcua_writeback": desired, "filter": {}}))
        feeder = sdk_module(hub.env("filter"))
        env = {**hub.env("opcua_writeback"), "METRICS_PORT": "0", "METRICS_HOST": "127.0.0.1",
               "PKI_DIR": str(tmp_path / "pki"), "RETRY_BACKOFF_S": "0.1",
               "STATE_DIR": str(tmp_path / "wb-state")}  # fmt: skip
        module = ModuleProcess("opcua_writeback", env, tmp_path / "wb.log")
        try:
            wait_for(lambda: hub.twin("opcua_writeback").get("reported", {}).get("status") == "running", 30)
            yield plant, hub, module, feeder
        finally:
            assert module.stop() == 0


def send(feeder: SdkModule, target: str, value: Any, rid: str | None = None, **extra: Any) -> str:
    rid = rid or str(uuid.uuid4())
    env = {"v": 1, "kind": "writeRequest", "id": rid, "ts": "2026-11-22T10:00:00.000Z",
           "source": {"module": "anomaly_filter", "version": "0.1.0"}, "correlationId": f"evt-{rid}",
           "data": {"requestId": rid, "target": target, "value": value, "reason": "test", "rule": "r1",
                    "asset": "pump", "sourceTimestamp": "2026-11-22T10:00:00.000Z", **extra}}  # fmt: skip
    feeder.send_json("actions", env, message_id=rid)
    return rid


def audits(hub: HubProcess, rid: str) -> list[dict[str, Any]]:
    """The audit events upstream for one request id, in order."""
    bodies = [e["event"]["payload"] for e in hub.upstream()]
    return [
        dict(b)
        for b in bodies
        if isinstance(b, dict) and b.get("kind") == "audit" and b["data"].get("requestId") == rid
    ]


def audit_for(hub: HubProcess, rid: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = wait_for(lambda: audits(hub, rid), 15)
    return found[0]


Rig = tuple[PlantProcess, HubProcess, ModuleProcess, SdkModule]


def plant_writes(plant: PlantProcess, node: str) -> list[dict[str, Any]]:
    """What the plant's own write record holds for one node."""
    return [r for r in read_audit(plant.options.state_dir) if r["node"] == node]


def test_a_write_in_range_is_applied_read_back_and_audited(rig: Rig) -> None:
    plant, hub, _module, feeder = rig
    rid = send(feeder, "pumpSpeed", 1110.0)  # a first write moves at most 20/s x 1 s from 1100
    audit = audit_for(hub, rid)
    assert audit["correlationId"] == f"evt-{rid}" and audit["source"]["module"] == "opcua_writeback"
    data = audit["data"]
    assert data["result"] == "applied" and data["readBack"] == 1110.0 and data["attempts"] == 1
    assert (
        data["nodeId"].endswith("Pump.SpeedSetpoint")
        and data["sourceTimestamp"] == "2026-11-22T10:00:00.000Z"
    )
    rec = plant_writes(plant, "Pump.SpeedSetpoint")[-1]
    assert (rec["value"], rec["status"], rec["sourceTimestamp"]) == (1110.0, "Good", None), (
        "written without timestamps, accepted by a strict server"
    )
    assert rec["writer"] == "anonymous"


def test_a_redelivered_request_is_audited_again_with_its_id_and_not_written_again(rig: Rig) -> None:
    plant, hub, _module, feeder = rig
    rid = send(feeder, "pumpSpeed", 1110.0)
    audit = audit_for(hub, rid)
    send(feeder, "pumpSpeed", 1110.0, rid=rid)  # delivered again (at least once): not written again
    repeats = wait_for(lambda: len(found := audits(hub, rid)) == 2 and found, 15, what="the repeat's audit")
    assert [a["id"] for a in repeats] == [audit["id"]] * 2, "a repeat carries the same id upstream"
    assert repeats[1]["data"] == audit["data"]
    assert len(plant_writes(plant, "Pump.SpeedSetpoint")) == 1


def test_requests_outside_the_limits_are_refused_and_never_reach_the_plant(rig: Rig) -> None:
    plant, hub, _module, feeder = rig
    assert audit_for(hub, send(feeder, "pumpSpeed", 1110.0))["data"]["result"] == "applied"
    too_soon = audit_for(hub, send(feeder, "pumpSpeed", 1160.0))["data"]
    assert too_soon["result"] == "refused" and too_soon["reason"].startswith("too_soon")
    for target, value, code in [("nope", 1.0, "not_allowed"), ("pumpSpeed", 1600.0, "out_of_range"),
                                ("pumpSpeed", "fast", "wrong_type")]:  # fmt: skip
        d = audit_for(hub, send(feeder, target, value))["data"]
        assert d["result"] == "refused" and d["reason"].startswith(code), d
    time.sleep(3.1)  # the minimum interval (3 s) passes
    fast = audit_for(hub, send(feeder, "pumpSpeed", 1400.0))["data"]
    assert fast["result"] == "refused" and fast["reason"].startswith("rate_of_change")
    assert len(plant_writes(plant, "Pump.SpeedSetpoint")) == 1, "refused requests never reach the plant"


def test_a_bad_status_from_the_server_fails_the_write_without_retrying(rig: Rig) -> None:
    _plant, hub, _module, feeder = rig
    ghost = audit_for(hub, send(feeder, "flowGhost", 0.5))["data"]
    assert ghost["result"] == "failed" and ghost["attempts"] == 1, "a Bad status is not retried"
    assert "BadNodeIdUnknown" in ghost["reason"] or "BadUserAccessDenied" in ghost["reason"]


def test_dry_run_audits_without_writing(rig: Rig) -> None:
    plant, hub, _module, feeder = rig
    hub.push_desired("opcua_writeback", {"dryRun": True})
    wait_for(
        lambda: hub.twin("opcua_writeback")["reported"].get("writeback", {}).get("dryRun") is True,
        10,
        what="dryRun reported",
    )
    dry = audit_for(hub, send(feeder, "advisory", "check pump bearing"))["data"]
    assert dry["result"] == "dry-run"
    assert plant_writes(plant, "AI.Advisory") == []


def test_switched_off_by_method_refuses_and_a_bad_switch_is_400(rig: Rig) -> None:
    plant, hub, _module, feeder = rig
    assert hub.invoke("opcua_writeback", "setEnabled", {"enabled": False})["status"] == 200
    off = audit_for(hub, send(feeder, "advisory", "x"))["data"]
    assert off["result"] == "refused" and off["reason"].startswith("disabled")
    assert hub.invoke("opcua_writeback", "setEnabled", {"enabled": "yes"})["status"] == 400
    assert plant_writes(plant, "AI.Advisory") == []


def test_a_malformed_request_is_refused_audited_and_logged(rig: Rig) -> None:
    _plant, hub, module, feeder = rig
    feeder.send_json("actions", {"v": 1, "kind": "writeRequest", "id": "m1", "data": {"target": "advisory"}},
                     message_id="m1")  # fmt: skip
    bad = wait_for(lambda: [e["event"]["payload"]["data"] for e in hub.upstream()
                            if e["event"]["payload"]["data"].get("reason", "").startswith("malformed")], 10)  # fmt: skip
    assert bad[0]["result"] == "refused" and "requestId" in bad[0]["reason"]
    assert module.alive()
    errors = [line for line in module.log_lines() if str(line.get("level")).lower() == "error"]
    assert any("malformed" in json.dumps(e) for e in errors)
