"""Fail safe at start, judged by the plant: a write-back with a refused twin and nothing saved writes nothing."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgeloop_dev.hub.harness import HubProcess, SdkModule, make_manifest, wait_for
from edgeloop_dev.plant import PlantOptions, PlantProcess, free_port, read_audit
from edgeloop_dev.plant.testing import ModuleProcess

WB = "opcua_writeback"
ROUTES = {
    "actions": f"FROM /messages/modules/filter/outputs/actions INTO BrokeredEndpoint('/modules/{WB}/inputs/requests')",
    "audit": f"FROM /messages/modules/{WB}/outputs/audit INTO $upstream",
}
TARGETS = {"advisory": {"nodeId": "nsu=urn:edgeloop:plant;s=AI.Advisory", "type": "String"}}


def request(rid: str) -> dict[str, Any]:
    return {
        "v": 1,
        "kind": "writeRequest",
        "id": rid,
        "ts": "2026-11-22T10:00:00.000Z",
        "source": {"module": "anomaly_filter", "version": "0.1.0"},
        "correlationId": f"evt-{rid}",
        "data": {"requestId": rid, "target": "advisory", "value": "check the pump", "reason": "test",
                 "rule": "r1", "asset": "pump", "sourceTimestamp": "2026-11-22T10:00:00.000Z"},
    }  # fmt: skip


def audits(hub: HubProcess, rid: str) -> list[dict[str, Any]]:
    bodies = [e["event"]["payload"] for e in hub.upstream()]
    return [b["data"] for b in bodies if isinstance(b, dict) and b.get("data", {}).get("requestId") == rid]


def test_refused_twin_with_nothing_saved_starts_writeback_disabled_and_the_plant_gets_no_write(
    tmp_path: Path, hub_factory: Callable[..., HubProcess], sdk_module: Callable[..., SdkModule]
) -> None:
    opts = PlantOptions(state_dir=tmp_path / "plant", port=free_port(), scenario="steady")
    with PlantProcess(opts) as plant:
        # `retryBackoffS: -1` is refused: the whole document, with its valid targets, cannot apply.
        desired = {"endpoint": plant.endpoint, "targets": TARGETS, "retryBackoffS": -1}
        hub = hub_factory(make_manifest(ROUTES, {WB: desired, "filter": {}}))
        feeder = sdk_module(hub.env("filter"))
        env = {**hub.env(WB), "METRICS_PORT": "-1", "PKI_DIR": str(tmp_path / "pki"),
               "STATE_DIR": str(tmp_path / "wb-state"), "ENDPOINT": plant.endpoint,
               "TARGETS": '{"advisory": {"nodeId": "nsu=urn:edgeloop:plant;s=AI.Advisory", "type": "String"}}'}  # fmt: skip
        module = ModuleProcess(WB, env, tmp_path / "wb.log")
        try:
            reported = wait_for(
                lambda: (r := hub.twin(WB).get("reported", {})).get("status") == "running" and r, 30
            )
            assert reported["config"]["status"] == "refused-using-fail-safe"
            assert reported["writeback"]["enabled"] is False
            rid = str(uuid.uuid4())
            feeder.send_json("actions", request(rid), message_id=rid)
            [audit] = wait_for(lambda: audits(hub, rid), 20)
        finally:
            assert module.stop() == 0
        writes = [r for r in read_audit(plant.options.state_dir) if r.get("node") == "AI.Advisory"]
    assert audit["result"] == "refused" and audit["reason"].startswith("disabled")
    assert writes == []
