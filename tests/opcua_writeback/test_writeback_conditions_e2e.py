"""Acknowledge and Confirm of a real node-opcua alarm through opcua_writeback, guarded and audited like a write;
the condition's own state and node-opcua's count of A&C calls are the judge."""

from __future__ import annotations

import importlib.util
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
