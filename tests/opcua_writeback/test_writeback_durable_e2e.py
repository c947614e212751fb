"""opcua_writeback's safety state across restarts and kill -9, judged by the plant's own record of writes.

The real module process, the local hub and the real SDK, the plant simulator as the DCS: the plant
appends every write it receives to `plant-writes.jsonl` (`read_audit`), independent of the module.
"""

from __future__ import annotations

import asyncio
import json
import signal
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from asyncua import Client, ua

from edgeloop_dev.hub.errors import MethodError
from edgeloop_dev.hub.harness import HubProcess, SdkModule, make_manifest, wait_for
from edgeloop_dev.plant import (
    HEARTBEAT_TAG,
    PERMISSIVE_TAG,
    PlantOptions,
    PlantProcess,
    free_port,
    read_audit,
)
from edgeloop_dev.plant.testing import ModuleProcess

NS = "nsu=urn:edgeloop:plant;s="
ROUTES = {
    "actions": "FROM /messages/modules/filter/outputs/actions INTO BrokeredEndpoint('/modules/opcua_writeback/inputs/requests')",
    "audit": "FROM /messages/modules/opcua_writeback/outputs/audit INTO $upstream",
}
TARGETS = {
    "pumpSpeed": {"nodeId": f"{NS}Pump.SpeedSetpoint", "min": 600, "max": 1500, "maxRatePerS": 20},
    "feed": {"nodeId": f"{NS}Crusher.FeedRateSetpoint", "min": 200, "max": 1200, "minIntervalS": 600},
    "advisory": {"nodeId": f"{NS}AI.Advisory", "type": "String"},
}  # fmt: skip


def until(what: str, predicate: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Wait for `what`; a timeout names it."""
    try:
        return wait_for(predicate, timeout)
    except TimeoutError as exc:
        raise TimeoutError(f"waited {timeout} s for {what}") from exc


class Rig:
    """A plant, a hub, a feeder standing in for anomaly_filter, and the module as a process."""

    def __init__(self, tmp: Path, plant: PlantProcess, hub: HubProcess, feeder: SdkModule) -> None:
        self.tmp, self.plant, self.hub, self.feeder = tmp, plant, hub, feeder
        self.module: ModuleProcess | None = None
        self.starts = 0

    def start(self, **env: str) -> ModuleProcess:
        """Start the module (same state dir every time) and wait until it answers a method."""
        self.starts += 1
        full = {**self.hub.env("opcua_writeback"), "METRICS_PORT": "0", "METRICS_HOST": "127.0.0.1",
                "PKI_DIR": str(self.tmp / "pki"), "RETRY_BACKOFF_S": "0.1",
                "STATE_DIR": str(self.tmp / "wb-state"), **env}  # fmt: skip
        self.module = ModuleProcess("opcua_writeback", full, self.tmp / f"wb-{self.starts}.log")
        until("the module to answer ping", self._pong)
        return self.module

    def _pong(self) -> bool:
        try:
            return bool(self.hub.invoke("opcua_writeback", "ping")["status"] == 200)
        except MethodError:  # not connected yet
            return False

    def stop(self) -> None:
        assert self.module is not None
        assert self.module.stop() == 0
        self.module = None

    def send(self, target: str, value: Any, rid: str | None = None, **extra: Any) -> str:
        rid = rid or str(uuid.uuid4())
        env = {"v": 1, "kind": "writeRequest", "id": rid, "ts": "2026-11-22T10:00:00.000Z",
               "source": {"module": "anomaly_filter", "version": "0.1.0"}, "correlationId": f"evt-{rid}",
               "data": {"requestId": rid, "target": target, "value": value, "reason": "test", "rule": "r1",
                        "asset": "pump", "sourceTimestamp": "2026-11-22T10:00:00.000Z", **extra}}  # fmt: skip
        self.feeder.send_json("actions", env, message_id=rid)
        return rid

    def audits(self, rid: str) -> list[dict[str, Any]]:
        """Every audit event upstream for one request id (repeats included), in order."""
        bodies = [e["event"]["payload"] for e in self.hub.upstream()]
        return [b for b in bodies if isinstance(b, dict) and b.get("kind") == "audit"
                and b["data"].get("requestId") == rid]  # fmt: skip

    def audit(self, rid: str) -> dict[str, Any]:
        found = until(f"the audit of {rid}", lambda: self.audits(rid))
        return dict(found[0]["data"])

    def plant_writes(self, node: str) -> list[dict[str, Any]]:
        """The plant's own record of writes received on one node."""
        return [r for r in read_audit(self.plant.options.state_dir) if r["node"] == node]

    def desired(self, patch: dict[str, Any]) -> None:
        version = self.hub.push_desired("opcua_writeback", patch)
        assert version is not None
        until("the patch to be applied", lambda: self._applied(patch))

    def _applied(self, patch: dict[str, Any]) -> bool:
        reported = self.hub.twin("opcua_writeback")["reported"]
        desired = self.hub.twin("opcua_writeback")["desired"]
        return bool(reported.get("config", {}).get("desiredVersion") == desired.get("$version"))


@pytest.fixture
def rig(
    tmp_path: Path, hub_factory: Callable[..., HubProcess], sdk_module: Callable[..., SdkModule]
) -> Iterator[Rig]:
    opts = PlantOptions(
        state_dir=tmp_path / "plant", port=free_port(), scenario="steady", ai_permissive=False
    )
    with PlantProcess(opts) as plant:
        desired = {"endpoint": plant.endpoint, "targets": TARGETS}
        hub = hub_factory(make_manifest(ROUTES, {"opcua_writeback": desired, "filter": {}}))
        r = Rig(tmp_path, plant, hub, sdk_module(hub.env("filter")))
        try:
            yield r
        finally:
            if r.module is not None:
                r.module.stop()


def test_an_operator_stop_survives_an_unrelated_patch_and_a_restart(rig: Rig) -> None:
    rig.start()
    assert rig.hub.invoke("opcua_writeback", "setEnabled", {"enabled": False})["status"] == 200
    rig.desired({"retryBackoffS": 0.2})  # an unrelated patch does not undo an emergency stop
    assert rig.audit(rig.send("advisory", "after patch"))["reason"].startswith("disabled")
    rig.stop()
    rig.start()
    assert rig.audit(rig.send("advisory", "after restart"))["reason"].startswith("disabled")
    reported = rig.hub.twin("opcua_writeback")["reported"]["writeback"]
    assert (reported["enabled"], reported["switchedBy"]) == (False, "setEnabled")
    rig.desired({"enabled": False})  # the desired `enabled` itself changes: the twin rules again ...
    rig.desired({"enabled": True})  # ... and an explicit enable there switches write-back on
    assert rig.audit(rig.send("advisory", "enabled again"))["result"] == "applied"
    assert [r["value"] for r in rig.plant_writes("AI.Advisory")] == ["enabled again"]


def test_interval_history_and_duplicate_window_survive_a_restart(rig: Rig) -> None:
    rig.start()
    rid = rig.send("feed", 810.0)
    assert rig.audit(rid)["result"] == "applied"
    rig.stop()
    rig.start()
    rig.send("feed", 810.0, rid=rid)  # edgeHub delivers it again after the restart
    too_soon = rig.audit(rig.send("feed", 820.0))  # FIFO: the repeat was handled before this one
    assert too_soon["result"] == "refused" and too_soon["reason"].startswith("too_soon"), too_soon
    repeats = rig.audits(rid)
    assert len(repeats) == 2 and len({a["id"] for a in repeats}) == 1, "the first audit again, same id"
    assert [r["value"] for r in rig.plant_writes("Crusher.FeedRateSetpoint")] == [810.0]


def test_the_first_write_after_a_start_is_bounded_by_the_rate(rig: Rig) -> None:
    rig.start()
    jump = rig.audit(rig.send("pumpSpeed", 1125.0))  # 25 from the server's 1100 at 20/s x 1 s
    assert jump["result"] == "refused" and jump["reason"].startswith("rate_of_change"), jump
    assert rig.plant_writes("Pump.SpeedSetpoint") == []


@pytest.mark.parametrize(
    ("point", "result", "writes"),
    [
        pytest.param("before-write", "indeterminate", 0, id="intent-on-disk-write-not-sent"),
        pytest.param("after-write", "indeterminate", 1, id="written-outcome-not-recorded"),
        pytest.param("after-outcome", "applied", 1, id="outcome-recorded-audit-not-sent"),
    ],
)
def test_kill_9_between_write_and_audit_gives_one_write_at_most_and_exactly_one_audit(
    rig: Rig, point: str, result: str, writes: int
) -> None:
    module = rig.start(EDGELOOP_TEST_CRASH_AT=point)
    rid = rig.send("advisory", f"killed {point}")
    assert module.proc.wait(30) == -signal.SIGKILL
    rig.module = None
    assert rig.audits(rid) == [], "the module died before sending the audit"
    rig.start()  # recovery audits the outbox; edgeHub delivers the unacknowledged request again
    barrier = rig.audit(rig.send("advisory", "after restart"))  # FIFO: the redelivery came first
    assert barrier["result"] == "applied"
    audits = rig.audits(rid)
    assert len({a["id"] for a in audits}) == 1, "one audit id for the request, however often it is sent"
    assert {a["data"]["result"] for a in audits} == {result}
    values = [r["value"] for r in rig.plant_writes("AI.Advisory")]
    assert values.count(f"killed {point}") == writes, "never written again after the restart"


async def _dcs_sets_permissive(endpoint: str, value: bool) -> None:
    async with Client(endpoint) as client:
        ns = await client.get_namespace_index("urn:edgeloop:plant")
        node = client.get_node(ua.NodeId(PERMISSIVE_TAG, ns))
        await node.write_attribute(
            ua.AttributeIds.Value, ua.DataValue(ua.Variant(value, ua.VariantType.Boolean))
        )


def test_the_dcs_permissive_gates_writes_and_the_heartbeat_counts(rig: Rig) -> None:
    rig.start(PERMISSIVE_NODE_ID=f"{NS}{PERMISSIVE_TAG}", HEARTBEAT_NODE_ID=f"{NS}{HEARTBEAT_TAG}",
              HEARTBEAT_INTERVAL_S="0.2")  # fmt: skip
    refused = rig.audit(rig.send("advisory", "not yet"))
    assert refused["result"] == "refused" and refused["reason"].startswith("not_permitted"), refused
    beats = until(
        "three heartbeats in the plant's record", lambda: len(b := rig.plant_writes(HEARTBEAT_TAG)) >= 3 and b
    )
    values = [b["value"] for b in beats]
    assert values == sorted(values) and len(set(values)) == len(values), "a counter that moves"
    assert {b["variantType"] for b in beats} == {"Int32"} and {b["status"] for b in beats} == {"Good"}
    asyncio.run(_dcs_sets_permissive(rig.plant.endpoint, True))
    assert rig.audit(rig.send("advisory", "permitted"))["result"] == "applied"
    assert [r["value"] for r in rig.plant_writes("AI.Advisory")] == ["permitted"]


def test_an_int32_target_takes_an_integral_float_and_refuses_a_fraction_up_front(rig: Rig) -> None:
    rig.start()
    counter = {"nodeId": f"{NS}{HEARTBEAT_TAG}", "type": "Int32", "min": 0, "max": 100}  # the plant's Int32
    rig.desired({"targets": {"counter": counter}})
    fraction = rig.audit(rig.send("counter", 8.5))
    assert (fraction["result"], fraction["attempts"]) == ("refused", 0) and "wrong_type" in fraction["reason"]
    integral = rig.audit(rig.send("counter", 8.0))
    assert integral["result"] == "applied" and integral["attempts"] == 1 and integral["readBack"] == 8
    assert [(r["value"], r["variantType"]) for r in rig.plant_writes(HEARTBEAT_TAG)] == [(8, "Int32")]


def test_huge_nan_and_400_digit_values_are_refused_with_one_small_audit_each(rig: Rig) -> None:
    module = rig.start()
    rids = {
        "huge": rig.send("advisory", "x" * 200_000),  # the request fits edgeHub's 256 KB; its audit must too
        "nan": rig.send("pumpSpeed", float("nan")),
        "digits": rig.send("pumpSpeed", 10**400),
    }
    for what, rid in rids.items():
        [audit] = until(f"the audit of the {what} request", lambda rid=rid: rig.audits(rid))
        assert audit["data"]["result"] == "refused", audit["data"]
        assert len(json.dumps(audit)) < 4096, "the audit is small whatever the request"
    assert until("the huge value's audit", lambda: rig.audits(rids["huge"]))[0]["data"]["value"]["truncated"]
    assert rig.plant_writes("AI.Advisory") == [] and rig.plant_writes("Pump.SpeedSetpoint") == []
    failed = [line for line in module.log_lines() if line.get("event") == "input handler failed"]
    assert failed == [], "nothing dead-lettered, no traceback"
