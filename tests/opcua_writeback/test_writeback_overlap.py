"""Requests overlap: the next decision runs while the last write is read back, with every guard intact."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from edgeloop_runtime.testing import wait_for_async, within
from opcua_writeback.guard import WriteRequest, parse_request
from opcua_writeback.service import Decision, WriteBackService
from opcua_writeback.settings import Settings
from opcua_writeback.store import SafetyStore, Written

EP = "opc.tcp://127.0.0.1:4840"
TARGETS = {
    "advisory": {"nodeId": "ns=2;s=AI.Advisory", "type": "String"},
    "flag": {"nodeId": "ns=2;s=AI.Pump.AnomalyFlag", "type": "Boolean"},
    "rare": {"nodeId": "ns=2;s=Rare", "min": 0, "max": 100, "minIntervalS": 30},
}
NOW = 1_795_000_000.0


class GatedAccess:
    """Writes land at once; a read of the `Rare` node waits until the test opens the gate."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.writes: list[tuple[str, Any]] = []
        self.reading = 0
        self.gate = asyncio.Event()

    async def read(self, endpoint: str, node_id: str) -> Any:
        if node_id != "ns=2;s=Rare":
            return self.values.get(node_id)
        self.reading += 1
        try:
            await self.gate.wait()
        finally:
            self.reading -= 1
        return self.values.get(node_id)

    async def write(self, endpoint: str, node_id: str, value: Any, vtype: str) -> None:
        self.writes.append((node_id, value))
        self.values[node_id] = value


def settings() -> Settings:
    return Settings.model_validate({"endpoint": EP, "targets": TARGETS, "retryBackoffS": 0})


def req(target: str, value: Any, rid: str) -> WriteRequest:
    return parse_request({"requestId": rid, "target": target, "value": value, "reason": "test",
                          "sourceTimestamp": "2026-11-18T19:33:20.000Z"})  # fmt: skip


def service(tmp_path: Path, access: GatedAccess) -> WriteBackService:
    return WriteBackService(access, SafetyStore(tmp_path / "state"), clock=lambda: NOW)  # type: ignore[arg-type]


async def as_the_app(svc: WriteBackService, request: WriteRequest) -> Decision:
    """What the app's input handler does with one request: claim its id, decide, audit, mark sent."""
    async with svc.claim(request.request_id):
        decision = await svc.handle(settings(), request, enabled=True)
        if not decision.repeat:
            svc.sent(request.request_id)
        return decision


async def first_write_held_in_read_back(svc: WriteBackService, access: GatedAccess) -> asyncio.Task[Decision]:
    first = asyncio.create_task(as_the_app(svc, req("rare", 50.0, "first")))
    await wait_for_async(lambda: access.reading == 1, "the first write's read-back has started")
    return first


async def test_the_next_request_is_written_while_the_last_one_is_read_back(tmp_path: Path) -> None:
    access = GatedAccess()
    svc = service(tmp_path, access)
    first = await first_write_held_in_read_back(svc, access)
    second = await within(
        as_the_app(svc, req("flag", True, "second")), 5, "the second request, first unverified"
    )
    assert access.writes == [("ns=2;s=Rare", 50.0), ("ns=2;s=AI.Pump.AnomalyFlag", True)]
    assert second.audit["result"] == "applied" and not first.done()
    access.gate.set()
    assert (await first).audit["result"] == "applied" and (await first).audit["readBack"] == 50.0
    assert svc.store.unsent() == []


async def test_a_write_being_read_back_counts_for_the_next_interval(tmp_path: Path) -> None:
    access = GatedAccess()
    svc = service(tmp_path, access)
    first = await first_write_held_in_read_back(svc, access)
    soon = await within(as_the_app(svc, req("rare", 51.0, "soon")), 5, "a second write to the same node")
    assert soon.audit["result"] == "refused" and soon.audit["reason"].startswith("too_soon")
    assert access.writes == [("ns=2;s=Rare", 50.0)]
    access.gate.set()
    await first
    assert svc.written(f"{EP} ns=2;s=Rare") == Written(50.0, NOW), "the outcome on disk keeps the write"


async def test_a_copy_delivered_again_during_the_read_back_is_not_written_again(tmp_path: Path) -> None:
    access = GatedAccess()
    svc = service(tmp_path, access)
    first = await first_write_held_in_read_back(svc, access)
    copy = asyncio.create_task(as_the_app(svc, req("rare", 50.0, "first")))
    await asyncio.sleep(0)
    assert not copy.done(), "the copy waits for the first one's audit"
    access.gate.set()
    original, again = await first, await copy
    assert again.repeat and again.audit == original.audit and original.audit["result"] == "applied"
    assert access.writes == [("ns=2;s=Rare", 50.0)]


async def test_a_session_is_closed_only_when_no_read_back_is_in_flight(tmp_path: Path) -> None:
    access = GatedAccess()
    svc = service(tmp_path, access)
    first = await first_write_held_in_read_back(svc, access)
    entered = asyncio.Event()

    async def reconfigure() -> None:
        async with svc.quiet():
            entered.set()

    task = asyncio.create_task(reconfigure())
    await asyncio.sleep(0.01)
    assert not entered.is_set(), "a credential change waits for the read-back"
    access.gate.set()
    await within(task, 5, "the quiet section after the read-back")
    assert first.done()


def test_an_older_write_settled_after_a_newer_one_leaves_the_newer_in_the_history(tmp_path: Path) -> None:
    store = SafetyStore(tmp_path / "state")
    node = f"{EP} ns=2;s=Rare"
    for rid in ("older", "newer"):
        store.begin(rid, "writing", {"requestId": rid}, NOW, None, node)
    store.decide("newer", {"requestId": "newer"}, (node, Written(60.0, NOW + 1)))
    store.decide("older", {"requestId": "older"}, (node, Written(50.0, NOW)))
    assert store.written(node) == Written(60.0, NOW + 1)


async def test_the_duplicate_window_is_pruned_after_the_write_not_before(tmp_path: Path) -> None:
    order: list[str] = []

    class Watched(GatedAccess):
        async def write(self, endpoint: str, node_id: str, value: Any, vtype: str) -> None:
            order.append("write")
            await super().write(endpoint, node_id, value, vtype)

    class Store(SafetyStore):
        def prune(self, now: float | None = None, *, every_s: float = 60.0) -> tuple[int, int]:
            order.append("prune")
            return super().prune(now, every_s=every_s)

    access = Watched()
    access.gate.set()
    svc = WriteBackService(access, Store(tmp_path / "state"), clock=lambda: NOW)  # type: ignore[arg-type]
    assert (await as_the_app(svc, req("flag", True, "r1"))).audit["result"] == "applied"
    assert order == ["write", "prune"]
