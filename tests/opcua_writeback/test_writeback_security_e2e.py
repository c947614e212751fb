"""opcua_writeback with a user name and password over SignAndEncrypt, through the local hub into the plant."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
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
TARGETS = {"advisory": {"nodeId": "nsu=urn:edgeloop:plant;s=AI.Advisory", "type": "String"}}


def send(feeder: SdkModule, value: Any) -> str:
    rid = str(uuid.uuid4())
    env = {"v": 1, "kind": "writeRequest", "id": rid, "ts": "2026-11-22T10:00:00.000Z",
           "source": {"module": "anomaly_filter", "version": "0.1.0"}, "correlationId": f"evt-{rid}",
           "data": {"requestId": rid, "target": "advisory", "value": value, "reason": "test", "rule": "r1",
                    "asset": "pump", "sourceTimestamp": "2026-11-22T10:00:00.000Z"}}  # fmt: skip
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


def test_user_and_password_over_sign_and_encrypt_applied_and_wrong_password_failed(
    tmp_path: Path, hub_factory: Callable[..., HubProcess], sdk_module: Callable[..., SdkModule]
) -> None:
    opts = PlantOptions(state_dir=tmp_path / "plant", port=free_port(), scenario="steady",
                        security="sign-encrypt", users={"operator": "s3cret-pw"})  # fmt: skip
    with PlantProcess(opts) as plant:
        pki = Pki(tmp_path / "pki", "opcua_writeback")
        asyncio.run(pki.ensure())
        shutil.copy(pki.cert, opts.state_dir / "pki" / "trusted" / "edgeloop-writeback.der")
        shutil.copy(opts.state_dir / "pki" / "own" / "cert.der", pki.trusted / "plant.der")
        hub = hub_factory(make_manifest(ROUTES, {"opcua_writeback": {"endpoint": plant.endpoint,
                                                                     "targets": TARGETS}, "filter": {}}))  # fmt: skip
        feeder = sdk_module(hub.env("filter"))

        def module(password: str, name: str) -> ModuleProcess:
            env = {**hub.env("opcua_writeback"), "METRICS_PORT": "0", "METRICS_HOST": "127.0.0.1",
                   "PKI_DIR": str(pki.root), "SECURITY_MODE": "SignAndEncrypt", "USERNAME": "operator",
                   "PASSWORD": password, "RETRY_BACKOFF_S": "0.1", "MAX_ATTEMPTS": "2",
                   "STATE_DIR": str(tmp_path / f"state-{name}")}  # fmt: skip
            return ModuleProcess("opcua_writeback", env, tmp_path / f"{name}.log")

        good = module("s3cret-pw", "good")
        try:
            applied = audit_for(hub, send(feeder, "check pump bearing"))
            assert applied["result"] == "applied" and applied["readBack"] == "check pump bearing", applied
        finally:
            assert good.stop() == 0
        rec = read_audit(opts.state_dir)[-1]
        assert rec["node"] == "AI.Advisory" and rec["status"] == "Good"
        assert rec["writer"].startswith("user:operator;cert:CN=")
        assert rec["writer"].endswith(f"sha1={hashlib.sha1(pki.cert.read_bytes()).hexdigest()}")

        wrong = module("not-the-password", "wrong")
        try:
            failed = audit_for(hub, send(feeder, "should not land"))
            assert failed["result"] == "failed", failed
            assert "BadUserAccessDenied" in failed["reason"] or "BadIdentityTokenRejected" in failed["reason"]
            assert wrong.alive()
        finally:
            assert wrong.stop() == 0
        assert [r["value"] for r in read_audit(opts.state_dir)] == ["check pump bearing"]
        logs = (tmp_path / "good.log").read_text() + (tmp_path / "wrong.log").read_text()
        assert "s3cret-pw" not in logs and "not-the-password" not in logs


def test_a_password_changed_through_the_twin_reconnects_and_never_reuses_the_old_session(
    tmp_path: Path, hub_factory: Callable[..., HubProcess], sdk_module: Callable[..., SdkModule]
) -> None:
    opts = PlantOptions(state_dir=tmp_path / "plant", port=free_port(), scenario="steady",
                        security="sign-encrypt", users={"operator": "s3cret-pw"})  # fmt: skip
    with PlantProcess(opts) as plant:
        pki = Pki(tmp_path / "pki", "opcua_writeback")
        asyncio.run(pki.ensure())
        shutil.copy(pki.cert, opts.state_dir / "pki" / "trusted" / "edgeloop-writeback.der")
        shutil.copy(opts.state_dir / "pki" / "own" / "cert.der", pki.trusted / "plant.der")
        hub = hub_factory(make_manifest(ROUTES, {"opcua_writeback": {"endpoint": plant.endpoint,
                                                                     "targets": TARGETS}, "filter": {}}))  # fmt: skip
        feeder = sdk_module(hub.env("filter"))
        env = {**hub.env("opcua_writeback"), "METRICS_PORT": "0", "METRICS_HOST": "127.0.0.1",
               "PKI_DIR": str(pki.root), "SECURITY_MODE": "SignAndEncrypt", "USERNAME": "operator",
               "PASSWORD": "s3cret-pw", "RETRY_BACKOFF_S": "0.1", "MAX_ATTEMPTS": "2",
               "STATE_DIR": str(tmp_path / "state")}  # fmt: skip
        module = ModuleProcess("opcua_writeback", env, tmp_path / "wb.log")

        def patch(password: str) -> None:
            hub.push_desired("opcua_writeback", {"password": password})
            twin = hub.twin
            wait_for(lambda: twin("opcua_writeback")["reported"].get("config", {}).get("desiredVersion")
                     == twin("opcua_writeback")["desired"]["$version"], 15)  # fmt: skip  # patch applied

        try:
            assert audit_for(hub, send(feeder, "first"))["result"] == "applied"  # a session is open now
            patch("rotated-away")
            failed = audit_for(hub, send(feeder, "over the old session?"))
            assert failed["result"] == "failed", "the open session with the old password is not reused"
            assert "BadUserAccessDenied" in failed["reason"] or "BadIdentityTokenRejected" in failed["reason"]
            patch("s3cret-pw")
            assert audit_for(hub, send(feeder, "after rotation"))["result"] == "applied"
        finally:
            assert module.stop() == 0
        assert [r["value"] for r in read_audit(opts.state_dir)] == ["first", "after rotation"]
