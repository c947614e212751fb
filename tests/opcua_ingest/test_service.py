"""Ingest pipeline logic: SkipFirst, Percent deadband, heartbeat, gaps, bounded queue, send retries."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Any

import pytest

from edgeloop_runtime.errors import HubConnectionError
from opcua_ingest.plan import NodePlan
from opcua_ingest.pubsub import Sample
from opcua_ingest.service import BAD_NO_COMMUNICATION, FieldFilters, IngestPipeline, IngestStats, SampleQueue


def plan(field: str = "Flow", **kw: Any) -> NodePlan:
    base: dict[str, Any] = dict(
        node_id="ns=2;s=X", field=field, sampling_ms=100, queue_size=1, trigger="StatusValue",
        deadband_type=None, deadband_value=0.0, heartbeat_s=0.0, skip_first=False,
    )  # fmt: skip
    base.update(kw)
    return NodePlan(**base)


def s(value: Any, field: str = "Flow", code: int = 0) -> Sample:
    now = datetime.now(UTC)
    return Sample("pump", "plant", field, value, now, now, code, "Bad" if code else "Good")


def test_skip_first_drops_only_the_first_value_even_across_resubscription() -> None:
    f = FieldFilters()
    f.register("pump", "plant", plan(skip_first=True))
    assert f.accept(s(1.0), 0)[0] is False
    assert f.accept(s(2.0), 0)[0] is True
    f.register("pump", "plant", plan(skip_first=True))
    assert f.accept(s(3.0), 0)[0] is True


def test_percent_deadband_uses_the_engineering_range() -> None:
    f = FieldFilters()
    f.register("pump", "plant", plan(deadband_type="Percent", deadband_value=1.0), eu_span=2000.0)
    assert f.accept(s(100.0), 0)[0]
    assert f.accept(s(115.0), 0) == (False, "deadband")  # within 1 % of 2000 = 20
    assert f.accept(s(121.0), 0)[0]
    assert f.accept(s(None, code=0x80000000), 0)[0], "a status change always passes"


def test_heartbeat_resends_last_value_only_while_connected() -> None:
    f = FieldFilters()
    f.register("pump", "plant", plan(heartbeat_s=1.0))
    f.register("pump", "plant", plan("Speed"))
    assert f.heartbeats(10.0) == []
    f.accept(s(5.0), 10.0)
    f.accept(s(7.0, "Speed"), 10.0)
    assert f.heartbeats(10.5) == []
    (hb,) = f.heartbeats(11.0)
    assert (hb.field, hb.value) == ("Flow", 5.0)
    gap = f.gap(["pump"])
    assert {g.field for g in gap} == {"Flow", "Speed"}
    assert all(g.value is None and g.status_code == BAD_NO_COMMUNICATION for g in gap)
    assert f.gap(["pump"]) == [], "a gap is marked once"
    assert f.heartbeats(20.0) == [], "no stale values while disconnected"
    f.accept(s(6.0), 21.0)
    assert f.heartbeats(22.0)[0].value == 6.0


def test_queue_drops_oldest_and_counts() -> None:
    stats = IngestStats()
    q = SampleQueue(3, stats)
    for i in range(5):
        q.put(s(float(i)))
    assert [x[0].value for x in q.drain()] == [2.0, 3.0, 4.0]
    assert stats.dropped["queue_full"] == 2


async def run_pipeline(p: IngestPipeline, seconds: float) -> None:
    task = asyncio.create_task(p.run())
    await asyncio.sleep(seconds)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def test_pipeline_batches_by_time_and_marks_gaps() -> None:
    sent: list[dict[str, Any]] = []

    async def send(msg: dict[str, Any]) -> None:
        sent.append(msg)

    p = IngestPipeline(send, publisher_id="p", max_bytes=250_000, flush_interval_s=0.05, queue_size=100)
    p.filters.register("pump", "plant", plan())
    p.filters.register("pump", "plant", plan("Speed"))
    for v in range(10):
        p.submit(s(float(v)))
    p.submit(s(1.0, "Unknown"))
    assert p.submit_gap(["pump"]) == 2
    await run_pipeline(p, 0.2)
    fields = [(k, f.get("StatusCode", {}).get("Symbol")) for m in sent for d in m["Messages"] for k, f in
              d["Payload"].items()]  # fmt: skip
    assert fields.count(("Flow", None)) == 10
    assert ("Flow", "BadNoCommunication") in fields and ("Speed", "BadNoCommunication") in fields
    assert p.stats.values_out == 12 and p.stats.dropped["unknown_field"] == 1 and p.stats.gaps == 1


async def test_transient_send_failures_are_retried_not_dropped() -> None:
    calls: list[int] = []

    async def flaky(msg: dict[str, Any]) -> None:
        calls.append(1)
        if len(calls) < 3:
            raise HubConnectionError("link down")

    p = IngestPipeline(flaky, publisher_id="p", max_bytes=250_000, flush_interval_s=0.01, queue_size=100)
    p.filters.register("pump", "plant", plan())
    p.submit(s(1.0))
    await run_pipeline(p, 0.9)
    assert p.stats.values_out == 1 and p.stats.send_failures == 2 and not p.stats.dropped


@pytest.mark.parametrize("n", [pytest.param(20_000, id="20k")])
async def test_pipeline_cuts_by_size_under_load(n: int) -> None:
    sizes: list[int] = []

    async def send(msg: dict[str, Any]) -> None:
        from opcua_ingest.pubsub import encode

        sizes.append(len(encode(msg)))

    p = IngestPipeline(send, publisher_id="p", max_bytes=64_000, flush_interval_s=0.05, queue_size=n)
    for i in range(1000):
        p.filters.register("pump", "plant", plan(f"T{i}"))
    for i in range(n):
        p.submit(s(float(i), f"T{i % 1000}"))
    await run_pipeline(p, 1.0)
    assert p.stats.values_out == n and max(sizes) <= 64_000


def test_put_many_keeps_the_newest_and_counts_the_rest() -> None:
    stats = IngestStats()
    q = SampleQueue(4, stats)
    q.put_many([s(float(i)) for i in range(3)])
    q.put_many([s(float(i)) for i in range(3, 9)])
    assert [x[0].value for x in q.drain()] == [5.0, 6.0, 7.0, 8.0]
    assert stats.dropped["queue_full"] == 5


@pytest.mark.parametrize("in_flight", [pytest.param(1, id="one-at-a-time"), pytest.param(4, id="four")])
async def test_sends_overlap_up_to_the_limit_and_finish_on_the_way_out(in_flight: int) -> None:
    started: list[int] = []
    active, peak = 0, 0

    async def slow(msg: dict[str, Any]) -> None:
        nonlocal active, peak
        started.append(msg["Messages"][0]["SequenceNumber"])
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.05)
        active -= 1

    p = IngestPipeline(slow, publisher_id="p", max_bytes=4096, flush_interval_s=0.01, queue_size=10_000,
                       max_in_flight=in_flight)  # fmt: skip
    for i in range(300):
        p.filters.register("pump", "plant", plan(f"T{i}"))
    p.submit_many([s(float(i), f"T{i}") for i in range(300)])
    await run_pipeline(p, 0.05)
    assert peak == in_flight
    assert p.stats.values_out == 300 and p.stats.messages_out == len(started) > in_flight
    assert started == sorted(started), "messages start in order"


async def test_each_publish_response_is_flushed_at_once_when_asked() -> None:
    sent: list[tuple[float, dict[str, Any]]] = []
    loop = asyncio.get_running_loop()

    async def send(msg: dict[str, Any]) -> None:
        sent.append((loop.time(), msg))

    # an hour's timer: within the test's waits only the end of a publish response can flush a message
    p = IngestPipeline(
        send,
        publisher_id="p",
        max_bytes=250_000,
        flush_interval_s=3600.0,
        queue_size=100,
        flush_on_response=True,
    )
    p.filters.register("pump", "plant", plan())
    task = asyncio.create_task(p.run())
    try:
        p.submit_many([s(1.0), s(2.0)])
        async with asyncio.timeout(2):
            while not sent:
                await asyncio.sleep(0.005)
        p.submit_many([s(3.0)])
        async with asyncio.timeout(2):
            while len(sent) < 2:
                await asyncio.sleep(0.005)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    values = [[f["Value"] for d in m["Messages"] for f in d["Payload"].values()] for _, m in sent]
    assert values == [[1.0, 2.0], [3.0]] or values == [[2.0], [3.0]]


def test_heartbeat_lkg_resends_the_last_good_value_lkv_the_last_known() -> None:
    f = FieldFilters()
    f.register("pump", "plant", plan("Good", heartbeat_s=1.0, heartbeat_behavior="WatchdogLKG"))
    f.register("pump", "plant", plan("Known", heartbeat_s=1.0, heartbeat_behavior="WatchdogLKV"))
    for name in ("Good", "Known"):
        f.accept(s(5.0, name), 10.0)
        f.accept(s(None, name, code=0x80000000), 10.0)
    beats = {hb.field: hb.value for hb in f.heartbeats(11.0)}
    assert beats == {"Good": 5.0, "Known": None}


def test_periodic_heartbeats_go_out_every_interval_even_while_the_value_changes() -> None:
    f = FieldFilters()
    f.register("pump", "plant", plan("Periodic", heartbeat_s=1.0, heartbeat_behavior="PeriodicLKV"))
    f.register("pump", "plant", plan("Watchdog", heartbeat_s=1.0))

    def change(t: float) -> None:
        f.accept(s(t, "Periodic"), t)
        f.accept(s(t, "Watchdog"), t)

    change(10.0)
    assert [hb.field for hb in f.heartbeats(10.0)] == ["Periodic"]
    change(10.6)
    assert [hb.field for hb in f.heartbeats(11.0)] == ["Periodic"], "the watchdog saw a change 0.4 s ago"
    assert sorted(hb.field for hb in f.heartbeats(12.0)) == ["Periodic", "Watchdog"]


def test_heartbeat_with_updated_timestamps_and_diagnostics_only() -> None:
    f = FieldFilters()
    f.register(
        "pump",
        "plant",
        plan("Stamped", heartbeat_s=1.0, heartbeat_behavior="WatchdogLKVWithUpdatedTimestamps"),
    )
    f.register(
        "pump", "plant", plan("Counted", heartbeat_s=1.0, heartbeat_behavior="WatchdogLKVDiagnosticsOnly")
    )
    first = s(1.0, "Stamped")
    f.accept(first, 10.0)
    f.accept(s(1.0, "Counted"), 10.0)
    (hb,) = f.heartbeats(11.0)
    assert hb.field == "Stamped" and hb.source_ts is not None and first.source_ts is not None
    assert hb.source_ts > first.source_ts and hb.value == 1.0
    assert f.diagnostic_beats == 1, "counted, not sent"


def test_drop_value_reports_only_periodically() -> None:
    f = FieldFilters()
    f.register("pump", "plant", plan(heartbeat_s=1.0, heartbeat_behavior="PeriodicLKVDropValue"))
    assert f.accept(s(1.0), 10.0) == (False, "periodic_only")
    assert f.accept(s(2.0), 10.2) == (False, "periodic_only")
    assert [hb.value for hb in f.heartbeats(10.3)] == [2.0]
