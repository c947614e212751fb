"""OPC Publisher's BatchSize / BatchTriggerInterval: when a network message goes, against node-opcua."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from edgeloop_opcua import Pki
from edgeloop_runtime.errors import ConfigError
from opcua_ingest.app import Settings, _batching
from opcua_ingest.opcua import EndpointSession
from opcua_ingest.plan import IngestPlan
from opcua_ingest.publishednodes import parse_published_nodes
from opcua_ingest.service import IngestPipeline

NSU = "nsu=urn:edgeloop:nodeopcua:plant"


def entry(endpoint: str = "opc.tcp://127.0.0.24:4840", writer: str = "line1", **extra: Any) -> dict[str, Any]:
    return {"EndpointUrl": endpoint, "DataSetWriterId": writer, "DataSetPublishingInterval": 100,
            "OpcNodes": [{"Id": f"{NSU};s=Counter", "DisplayName": "Counter", "OpcSamplingInterval": 50}],
            **extra}  # fmt: skip


def test_both_spellings_of_the_trigger_interval_and_the_size_reach_the_plan() -> None:
    plan = parse_published_nodes([entry(BatchSize=50, BatchTriggerIntervalTimespan="00:00:02.500")])
    assert (plan.batch_size, plan.batch_trigger_ms) == (50, 2500.0)
    plan = parse_published_nodes([entry(BatchTriggerInterval=250), entry(writer="line2")])
    assert (plan.batch_size, plan.batch_trigger_ms) == (None, 250.0), "an entry without them inherits them"


def test_an_entry_whose_batching_differs_from_an_earlier_one_is_refused_naming_the_field() -> None:
    plan = parse_published_nodes([entry(BatchSize=50), entry(writer="line2", BatchSize=10)])
    assert [s.writer_id for e in plan.endpoints for s in e.subscriptions] == ["line1"]
    (reason,) = plan.refused
    assert reason.startswith("[1].BatchSize: refused, 10 differs from 50")


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        pytest.param({"BatchSize": 0}, "BatchSize", id="size-zero"),
        pytest.param({"BatchTriggerInterval": -1}, "BatchTriggerInterval", id="negative-interval"),
        pytest.param(
            {"BatchTriggerIntervalTimespan": "soon"}, "BatchTriggerIntervalTimespan", id="bad-timespan"
        ),
    ],
)
def test_bad_batching_values_are_refused_naming_the_field(extra: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        parse_published_nodes([entry(**extra)])


def pipeline_for(plan: IngestPlan, settings: Settings, send: Any) -> IngestPipeline:
    pipeline = IngestPipeline(
        send, publisher_id="t", max_bytes=250_000, flush_interval_s=1.0, queue_size=10_000
    )
    _batching(pipeline, settings, plan)
    return pipeline


@pytest.mark.parametrize(
    ("fields", "module_ms", "expected"),
    [
        pytest.param({}, 0.0, (0.1, True, 0), id="default-each-publish-response"),
        pytest.param({}, 500.0, (0.5, False, 0), id="module-batchIntervalMs"),
        pytest.param({"BatchTriggerInterval": 2000}, 500.0, (2.0, False, 0), id="file-wins-over-module"),
        pytest.param({"BatchSize": 1, "BatchTriggerInterval": 0}, 500.0, (0.1, True, 1), id="batching-off"),
    ],
)
def test_the_trigger_interval_decides_the_flush_interval(
    fields: dict[str, Any], module_ms: float, expected: tuple[float, bool, int]
) -> None:
    plan = parse_published_nodes([entry(**fields)])
    p = pipeline_for(plan, Settings(batch_interval_ms=module_ms), None)
    assert (p.flush_interval_s, p.flush_on_response, p.batch_size) == expected


@contextlib.asynccontextmanager
async def messages_from(tmp_path: Path, endpoint: str, **fields: Any) -> AsyncIterator[list[dict[str, Any]]]:
    got: list[dict[str, Any]] = []

    async def send(msg: dict[str, Any]) -> None:
        got.append(msg)

    plan = parse_published_nodes([entry(endpoint, **fields)])
    pipeline = pipeline_for(plan, Settings(), send)
    session = EndpointSession(plan.endpoints[0], pipeline, Pki(tmp_path / "pki", "opcua_ingest", auto_accept=True),
                              min_backoff_s=0.2, max_backoff_s=1.0)  # fmt: skip
    tasks = [asyncio.create_task(pipeline.run()), asyncio.create_task(session.run())]
    try:
        yield got
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def counters(msg: dict[str, Any]) -> list[Any]:
    return [d["Payload"]["Counter"]["Value"] for d in msg["Messages"] if "Counter" in d["Payload"]]


async def test_batch_size_sends_a_message_every_n_values_from_node_opcua(
    node_server: Any, tmp_path: Path
) -> None:
    # The interval is ten minutes: only the size can make a message go.
    async with messages_from(
        tmp_path, node_server.endpoint, BatchSize=5, BatchTriggerInterval=600_000
    ) as got:
        deadline = time.monotonic() + 60
        while len(got) < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
    assert len(got) >= 3, f"three messages within 60 s, got {len(got)}"
    assert [len(counters(m)) for m in got[:3]] == [5, 5, 5]
    values = [v for m in got[:3] for v in counters(m)]
    assert values == sorted(values) and len(set(values)) == 15, values
