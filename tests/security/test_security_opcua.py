"""OPC UA write-back under attack, end to end (plant in sign-encrypt mode, real hub, real module process):
a client certificate the plant does not trust cannot write; a request outside the engineering limits is
refused with an audit event; both show in the module's metrics and logs without the password."""

from __future__ import annotations

import asyncio
import json
import shutil
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgeloop_dev.hub.harness import HubProcess, SdkModule, make_manifest, wait_for
from edgeloop_dev.plant import PlantOptions, PlantProcess, free_port, read_audit
from edgeloop_dev.plant.testing import ModuleProcess
from edgeloop_opcua import Pki

ROUTES = {
    "actions": "FROM /messages/modules/filter/outputs/actions INTO BrokeredEndpoint('/modules/opcua_writeback/inputs/requests')",
    "audit": "FROM /messages/modules/opcua_writeback/outputs/audit INTO $upstream",
}
TARGETS = {
    "advisory": {"nodeId": "nsu=urn:edgeloop:plant;s=AI.Advisory", "type": "String"},
    "pumpSpeed": {"nodeId": "nsu=urn:edgeloop:plant;s=Pump.SpeedSetpoint", "min": 600, "max": 1500},
}
PASSWORD = "pw-" + uuid.uuid4().hex


def send(feeder: SdkModule, target: str, value: Any) -> str:
    rid = str(uuid.uuid4())
    env = {"v": 1, "kind": "writeRequest", "id": rid, "ts": "2026-11-22T10:00:00.000Z",
           "source": {"module": "anomaly_filter", "version": "0.1.0"}, "correlationId": f"evt-{rid}",
           "data": {"requestId": rid, "target": target, "value": value, "reason": "security test",
                    "rule": "r1", "asset": "pump", "sourceTimestamp": "2026-11-22T10:00:00.000Z"}}  # fmt: skip
    feeder.send_json("actions", env, message_id=rid)
    return rid


def audit_for(hub: HubProcess, rid: str) -> dict[str, Any]:
    def find() -> dict[str, Any] | None:
        for e in hub.upstream():
            body = e["event"]["payload"]
            if isinstance(body, dict) and body.get("kind") == "audit" and body["data"]["requestId"] == rid:
                return dict(body["data"])
        return None

    found: dict[str, Any] = wait_for(find, 30)
    return found


def module_metric(hub: HubProcess, name: str, **labels: str) -> float:
    url = hub.twin("opcua_writeback")["reported"]["endpoints"]["metrics"]
    with urllib.request.urlopen(url, timeout=5) as resp:
        text = resp.read().decode()
    total = 0.0
    for line in text.splitlines():
        head, _, value = line.rpartition(" ")
        if head.split("{", 1)[0] == name and all(f'{k}="{v}"' in head for k, v in labels.items()):
            total += float(value)
    return total


def test_untrusted_certificate_cannot_write_and_out_of_limits_is_refused(
    tmp_path: Path, hub_factory: Callable[..., HubProcess], sdk_module: Callable[..., SdkModule]
) -> None:
    opts = PlantOptions(state_dir=tmp_path / "plant", port=free_port(), scenario="steady",
                        security="sign-encrypt", users={"operator": PASSWORD})  # fmt: skip
    with PlantProcess(opts) as plant:
        pki = Pki(tmp_path / "pki", "opcua_writeback")
        asyncio.run(pki.ensure())
        # the module trusts the plant, but the plant does not (yet) trust the module's certificate
        shutil.copy(opts.state_dir / "pki" / "own" / "cert.der", pki.trusted / "plant.der")
        hub = hub_factory(make_manifest(ROUTES, {"opcua_writeback": {"endpoint": plant.endpoint,
                                                                     "targets": TARGETS}, "filter": {}}))  # fmt: skip
        feeder = sdk_module(hub.env("filter"))
        env = {**hub.env("opcua_writeback"), "METRICS_PORT": "0", "METRICS_HOST": "127.0.0.1",
               "PKI_DIR": str(pki.root), "SECURITY_MODE": "SignAndEncrypt", "USERNAME": "operator",
               "PASSWORD": PASSWORD, "RETRY_BACKOFF_S": "0.1", "MAX_ATTEMPTS": "2",
               "STATE_DIR": str(tmp_path / "writeback-state")}  # fmt: skip
        module = ModuleProcess("opcua_writeback", env, tmp_path / "writeback.log")
        try:
            wait_for(lambda: hub.twin("opcua_writeback").get("reported", {}).get("status") == "running", 30)

            untrusted = audit_for(hub, send(feeder, "advisory", "from an untrusted client"))
            assert untrusted["result"] == "failed", untrusted
            assert any(s in untrusted["reason"] for s in ("BadCertificateUntrusted", "BadSecurityChecksFailed",
                                                          "BadCertificate", "Untrusted")), untrusted  # fmt: skip
            assert read_audit(opts.state_dir) == [], "the plant applied a write from an untrusted certificate"

            limits = audit_for(hub, send(feeder, "pumpSpeed", 1600.0))
            assert limits["result"] == "refused" and limits["reason"].startswith("out_of_range"), limits
            assert limits["nodeId"].endswith("Pump.SpeedSetpoint") and limits["value"] == 1600.0

            assert module_metric(hub, "edgeloop_opcua_writeback_writes_total", result="failed") >= 1
            assert module_metric(hub, "edgeloop_opcua_writeback_writes_total", result="refused") >= 1
            assert module.alive()

            # the same module, once the plant's operator trusts its certificate: the write lands
            shutil.copy(pki.cert, opts.state_dir / "pki" / "trusted" / "edgeloop-writeback.der")
            applied = audit_for(hub, send(feeder, "advisory", "now trusted"))
            assert applied["result"] == "applied", applied
            assert [r["value"] for r in read_audit(opts.state_dir)] == ["now trusted"]
        finally:
            assert module.stop() == 0
        lines = module.log_lines()
        assert any(line.get("level", "").lower() in ("warning", "error") and "failed" in json.dumps(line)
                   for line in lines), "the refused write must be in the module's log"  # fmt: skip
        log = (tmp_path / "writeback.log").read_text()
        assert PASSWORD not in log, "the OPC UA password reached the module's log"
