"""opcua_writeback against an OPC UA server that is not ours: a plain asyncua server written here, with
numeric NodeIds in its own namespace, that records every write it receives (the judge)."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from asyncua import Server, ua
from asyncua.crypto.permission_rules import User, UserRole

from edgeloop_dev.hub.harness import HubProcess, SdkModule, make_manifest, wait_for
from edgeloop_dev.plant import free_port
from edgeloop_dev.plant.testing import ModuleProcess

URI = "urn:foreign:dcs"
ROUTES = {
    "actions": "FROM /messages/modules/filter/outputs/actions INTO BrokeredEndpoint('/modules/opcua_writeback/inputs/requests')",
    "audit": "FROM /messages/modules/opcua_writeback/outputs/audit INTO $upstream",
}
TARGETS = {
    "flow": {"nodeId": f"nsu={URI};i=1001", "min": 0, "max": 100, "maxRatePerS": 5},
    "mode": {"nodeId": f"nsu={URI};i=1002", "type": "Int32", "min": 0, "max": 9},
    "setFlow": {"kind": "method", "objectId": f"nsu={URI};i=2000", "nodeId": f"nsu={URI};i=2001",
                "min": 0, "max": 100, "maxRatePerS": 5, "readNodeId": f"nsu={URI};i=1001"},
    "recipe": {"kind": "method", "objectId": f"nsu={URI};i=2000", "nodeId": f"nsu={URI};i=2100",
               "arguments": {"Setpoint": {"min": 0, "max": 100}, "Mode": {"type": "Int32", "min": 0, "max": 3}}},
    "recipeMistyped": {"kind": "method", "objectId": f"nsu={URI};i=2000", "nodeId": f"nsu={URI};i=2100",
                       "arguments": {"Setpoint": {"type": "Float", "min": 0, "max": 100},
                                     "Mode": {"type": "Int32", "min": 0, "max": 3}}},
}  # fmt: skip
_ADMIN = User(role=UserRole.Admin)


class ForeignDcs:
    """An asyncua server on its own thread and loop; `writes` is its record of client writes."""

    def __init__(self) -> None:
        self.endpoint = f"opc.tcp://127.0.0.1:{free_port()}"
        self.writes: list[tuple[int, Any, str]] = []
        self.calls: list[Any] = []
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def __enter__(self) -> ForeignDcs:
        self._thread.start()
        assert self._ready.wait(30), "the foreign server did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(15)

    async def _run(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        server = Server()
        await server.init()
        server.set_endpoint(self.endpoint)
        idx = await server.register_namespace(URI)
        objects = server.nodes.objects
        flow = await objects.add_variable(
            ua.NodeId(1001, idx), "FlowSP", ua.Variant(50.0, ua.VariantType.Double)
        )
        mode = await objects.add_variable(ua.NodeId(1002, idx), "Mode", ua.Variant(0, ua.VariantType.Int32))
        for var in (flow, mode):
            await var.set_writable()
        dcs = await objects.add_object(ua.NodeId(2000, idx), "Dcs")

        async def set_flow(parent: ua.NodeId, arg: ua.Variant) -> list[ua.Variant]:  # the DCS's own method
            self.calls.append((arg.Value, arg.VariantType.name))
            await flow.write_value(ua.Variant(arg.Value, ua.VariantType.Double))
            return []

        await dcs.add_method(ua.NodeId(2001, idx), "SetFlow", set_flow, [ua.VariantType.Double], [])

        async def set_recipe(parent: ua.NodeId, mode: ua.Variant, setpoint: ua.Variant) -> list[ua.Variant]:
            self.calls.append(
                ("SetRecipe", mode.Value, mode.VariantType.name, setpoint.Value, setpoint.VariantType.name)
            )
            return []

        def arg(name: str, vtype: ua.VariantType) -> ua.Argument:
            return ua.Argument(Name=name, DataType=ua.NodeId(vtype.value), ValueRank=-1)

        await dcs.add_method(ua.NodeId(2100, idx), "SetRecipe", set_recipe,
                             [arg("Mode", ua.VariantType.Int32), arg("Setpoint", ua.VariantType.Double)], [])  # fmt: skip
        service = server.iserver.attribute_service
        original = service.write

        async def write(params: ua.WriteParameters, user: User = _ADMIN) -> list[ua.StatusCode]:
            results: list[ua.StatusCode] = await original(params, user)
            if user.role != UserRole.Admin:
                for wv, status in zip(params.NodesToWrite, results, strict=True):
                    if status.is_good():
                        v = wv.Value.Value
                        self.writes.append((wv.NodeId.Identifier, v.Value, v.VariantType.name))
            return results

        service.write = write
        async with server:
            self._ready.set()
            await self._stop.wait()


@pytest.fixture
def foreign(
    tmp_path: Path, hub_factory: Callable[..., HubProcess], sdk_module: Callable[..., SdkModule]
) -> Iterator[tuple[ForeignDcs, HubProcess, SdkModule]]:
    with ForeignDcs() as dcs:
        hub = hub_factory(make_manifest(ROUTES, {"opcua_writeback": {"endpoint": dcs.endpoint, "targets": TARGETS},
                                                 "filter": {}}))  # fmt: skip
        feeder = sdk_module(hub.env("filter"))
        env = {**hub.env("opcua_writeback"), "METRICS_PORT": "0", "METRICS_HOST": "127.0.0.1",
               "PKI_DIR": str(tmp_path / "pki"), "STATE_DIR": str(tmp_path / "state")}  # fmt: skip
        module = ModuleProcess("opcua_writeback", env, tmp_path / "wb.log")
        try:
            yield dcs, hub, feeder
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
    return [b for b in bodies if isinstance(b, dict) and b.get("kind") == "audit"
            and b["data"].get("requestId") == rid]  # fmt: skip


def audit_for(hub: HubProcess, rid: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = wait_for(lambda: audits(hub, rid), 30)  # the request's audit upstream
    return dict(found[0]["data"])


def test_writes_land_once_with_the_right_types_on_a_server_that_is_not_ours(
    foreign: tuple[ForeignDcs, HubProcess, SdkModule],
) -> None:
    dcs, hub, feeder = foreign
    rid = send(feeder, "flow", 53.0)  # 3 from the server's 50 at 5/s x 1 s: allowed
    assert audit_for(hub, rid)["result"] == "applied"
    assert audit_for(hub, send(feeder, "flow", 70.0))["reason"].startswith("rate_of_change")
    assert audit_for(hub, send(feeder, "mode", 3.0))["result"] == "applied"
    send(feeder, "flow", 53.0, rid=rid)  # delivered again
    wait_for(lambda: len(audits(hub, rid)) == 2, 30)  # the repeat's audit (the first one again)
    assert dcs.writes == [(1001, 53.0, "Double"), (1002, 3, "Int32")], "the server's own record"


def test_a_method_is_called_as_a_guarded_action_on_a_server_that_is_not_ours(
    foreign: tuple[ForeignDcs, HubProcess, SdkModule],
) -> None:
    dcs, hub, feeder = foreign
    jump = audit_for(hub, send(feeder, "setFlow", 80.0))  # 30 from FlowSP's 50 at 5/s x 1 s
    assert jump["result"] == "refused" and jump["reason"].startswith("rate_of_change"), jump
    rid = send(feeder, "setFlow", 54.0)
    assert audit_for(hub, rid)["result"] == "applied"
    send(feeder, "setFlow", 54.0, rid=rid)  # delivered again
    wait_for(lambda: len(audits(hub, rid)) == 2, 30)  # the repeat's audit (the first one again)
    assert dcs.calls == [(54.0, "Double")], "called once, by the server's own record"


def test_a_method_of_several_arguments_is_typed_from_its_input_arguments_and_called_once(
    foreign: tuple[ForeignDcs, HubProcess, SdkModule],
) -> None:
    dcs, hub, feeder = foreign
    out = audit_for(hub, send(feeder, "recipe", {"Setpoint": 55.0, "Mode": 7}))
    assert out["result"] == "refused" and "argument 'Mode'" in out["reason"], out
    missing = audit_for(hub, send(feeder, "recipe", {"Setpoint": 55.0}))
    assert missing["result"] == "refused" and "missing ['Mode']" in missing["reason"], missing
    mistyped = audit_for(hub, send(feeder, "recipeMistyped", {"Setpoint": 55.0, "Mode": 2}))
    assert mistyped["result"] == "failed" and "signature" in mistyped["reason"], mistyped
    rid = send(feeder, "recipe", {"Setpoint": 55, "Mode": 2.0})  # JSON numbers: typed by the signature
    assert audit_for(hub, rid)["result"] == "applied"
    send(feeder, "recipe", {"Setpoint": 55, "Mode": 2.0}, rid=rid)  # delivered again
    wait_for(lambda: len(audits(hub, rid)) == 2, 30)  # the repeat's audit (the first one again)
    assert dcs.calls == [("SetRecipe", 2, "Int32", 55.0, "Double")], "called once, in the server's order"
