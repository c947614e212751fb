"""EventFilter WhereClause against real servers: asyncua and node-opcua filter, only matching events arrive."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from asyncua import Server, ua

from edgeloop_dev.plant import free_port
from edgeloop_opcua import Pki
from opcua_ingest.opcua import EndpointSession
from opcua_ingest.publishednodes import parse_published_nodes
from opcua_ingest.service import IngestPipeline

SELECT = [{"BrowsePath": ["Severity"]}, {"BrowsePath": ["Message"]}]
AT_LEAST_500 = {"Elements": [{"FilterOperator": "GreaterThanOrEqual",
                              "FilterOperands": [{"NodeId": "i=2041", "BrowsePath": ["Severity"]}, {"Value": 500}]}]}  # fmt: skip


class Events:
    """The `ua-event` payloads one endpoint session delivered, with a wait that names what it awaited."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.arrived = asyncio.Event()
        self.session: EndpointSession | None = None

    def all(self) -> list[dict[str, Any]]:
        return [
            {k: v["Value"] for k, v in d["Payload"].items()}
            for m in self.messages for d in m["Messages"] if d["MessageType"] == "ua-event"
        ]  # fmt: skip

    async def until(self, what: str, check: Callable[[], bool], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            left = deadline - time.monotonic()
            if left <= 0:
                state = self.session.status.report() if self.session else None
                raise AssertionError(f"waited {timeout} s for {what}; got {self.all()}; state {state}")
            self.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), min(left, 0.5))


@contextlib.asynccontextmanager
async def subscribed(
    tmp_path: Path, endpoint: str, notifier: str, event_filter: dict[str, Any]
) -> AsyncIterator[Events]:
    """One endpoint session with one event notifier under `event_filter`, once its item exists."""
    doc = [{"EndpointUrl": endpoint, "DataSetWriterId": "alarms", "DataSetPublishingInterval": 100,
            "OpcNodes": [{"Id": notifier, "DisplayName": "Events", "EventFilter": event_filter}]}]  # fmt: skip
    got = Events()

    async def send(msg: dict[str, Any]) -> None:
        got.messages.append(msg)
        got.arrived.set()

    pipeline = IngestPipeline(send, publisher_id="t", max_bytes=250_000, flush_interval_s=0.1,
                              queue_size=1000, flush_on_response=True)  # fmt: skip
    got.session = session = EndpointSession(
        parse_published_nodes(doc).endpoints[0], pipeline, Pki(tmp_path / "pki", "opcua_ingest", auto_accept=True),
        min_backoff_s=0.2, max_backoff_s=1.0,
    )  # fmt: skip
    tasks = [asyncio.create_task(pipeline.run()), asyncio.create_task(session.run())]
    try:
        await got.until("the event monitored item", lambda: session.status.monitored_items == 1)
        yield got
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@contextlib.asynccontextmanager
async def asyncua_server() -> AsyncIterator[tuple[str, Server]]:
    """asyncua's server on 127.0.0.x, no security: events come from its event generator."""
    host = f"127.0.0.{random.randint(2, 254)}"
    endpoint = f"opc.tcp://{host}:{free_port(host)}"
    server = Server()
    await server.init()
    server.set_endpoint(endpoint)
    server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    async with server:
        yield endpoint, server


async def test_asyncua_sends_only_the_events_the_where_clause_matches(tmp_path: Path) -> None:
    async with asyncua_server() as (endpoint, server):
        generator = await server.get_event_generator()
        event_filter = {"SelectClauses": SELECT, "WhereClause": AT_LEAST_500}
        async with subscribed(tmp_path, endpoint, "i=2253", event_filter) as got:
            for severity in (100, 700, 300, 900, 499, 1000):
                generator.event.Severity = severity
                generator.event.Message = ua.LocalizedText(f"severity {severity}")
                await generator.trigger()
            await got.until(
                "the last event (severity 1000)", lambda: any(e["Severity"] == 1000 for e in got.all())
            )
    assert [e["Severity"] for e in got.all()] == [700, 900, 1000]


async def test_node_opcua_sends_only_the_alarm_events_the_where_clause_matches(
    node_server: Any, tmp_path: Path
) -> None:
    active = {"NodeId": "i=2915", "BrowsePath": ["ActiveState", "Id"]}
    event_filter = {
        "SelectClauses": [*SELECT, {"TypeDefinitionId": "i=2915", "BrowsePath": ["ActiveState", "Id"],
                                    "DisplayName": "Active"}],
        "WhereClause": {"Elements": [{"FilterOperator": "Equals", "FilterOperands": [active, {"Value": True}]}]},
    }  # fmt: skip
    nsu = "nsu=urn:edgeloop:nodeopcua:plant"
    async with subscribed(tmp_path, node_server.endpoint, f"{nsu};s=Plant", event_filter) as got:
        node_server.command("set", name="Level", value=95.0)  # HighHigh: active
        await got.until("the HighHigh alarm", lambda: len(got.all()) >= 1)
        node_server.command("set", name="Level", value=50.0)  # back to normal: inactive, filtered out
        node_server.command("set", name="Level", value=5.0)  # LowLow: active again
        await got.until("the LowLow alarm after it", lambda: len(got.all()) >= 2)
    assert got.all() and all(e["Active"] is True for e in got.all()), got.all()
