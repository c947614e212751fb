"""MaxKeepAliveCount reaches the server: node-opcua's own subscriptions say what was asked."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from edgeloop_opcua import Pki, subscription_parameters
from opcua_ingest.opcua import EndpointSession
from opcua_ingest.publishednodes import parse_published_nodes
from opcua_ingest.service import IngestPipeline

NSU = "nsu=urn:edgeloop:nodeopcua:plant"


def test_the_count_is_asked_as_given_or_derived_from_the_module_setting() -> None:
    assert subscription_parameters(100, 5.0, keepalive_count=7).RequestedMaxKeepAliveCount == 7
    assert subscription_parameters(100, 5.0).RequestedMaxKeepAliveCount == 50
    doc = [{"EndpointUrl": "opc.tcp://127.0.0.24:4840", "MaxKeepAliveCount": 7,
            "OpcNodes": [{"Id": "i=2258"}]}]  # fmt: skip
    assert parse_published_nodes(doc).endpoints[0].subscriptions[0].keepalive_count == 7


async def test_node_opcua_subscriptions_get_the_max_keep_alive_count(
    node_server: Any, tmp_path: Path
) -> None:
    doc = [{"EndpointUrl": node_server.endpoint, "DataSetWriterId": "line1", "DataSetPublishingInterval": 100,
            "MaxKeepAliveCount": 7, "OpcNodes": [{"Id": f"{NSU};s=Counter", "DisplayName": "Counter"}]}]  # fmt: skip

    async def send(msg: dict[str, Any]) -> None:
        return None

    pipeline = IngestPipeline(
        send, publisher_id="t", max_bytes=250_000, flush_interval_s=0.1, queue_size=1000
    )
    session = EndpointSession(parse_published_nodes(doc).endpoints[0], pipeline,
                              Pki(tmp_path / "pki", "opcua_ingest", auto_accept=True), max_backoff_s=1.0)  # fmt: skip
    tasks = [asyncio.create_task(pipeline.run()), asyncio.create_task(session.run())]
    try:
        deadline = time.monotonic() + 60
        while session.status.monitored_items != 1 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        counts = node_server.command("stats")["keepAliveCounts"]
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert counts == [7], counts
