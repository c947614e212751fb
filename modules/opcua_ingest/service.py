"""Ingest logic between the OPC UA adapter and the output: per-field filters, heartbeat, gaps, batching.

No OPC UA and no hub here: the adapter pushes `Sample`s in, `send` (injected) takes network messages out.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from edgeloop_runtime.errors import TransientError

from .plan import NodePlan
from .pubsub import NetworkMessageBatcher, Sample

_YIELD_EVERY = 250  # values processed between yields to the event loop (about 2 ms)
BAD_NO_COMMUNICATION = 0x80310000
BAD_NOT_CONNECTED = 0x808A0000  # BadServerNotConnected
_GAP_SYMBOLS = {BAD_NO_COMMUNICATION: "BadNoCommunication", BAD_NOT_CONNECTED: "BadServerNotConnected"}


@dataclass
class IngestStats:
    """Counters the module exports as metrics."""

    values_in: int = 0
    values_out: int = 0
    messages_out: int = 0
    bytes_out: int = 0
    heartbeats: int = 0
    gaps: int = 0
    send_failures: int = 0
    dropped: dict[str, int] = field(default_factory=lambda: collections.defaultdict(int))


@dataclass
class _FieldState:
    plan: NodePlan
    writer_id: str
    writer_group: str
    eu_span: float | None = None  # engineering range width, for Percent deadbands
    seen_first: bool = False
    last_sent_value: Any = None
    last_sample: Sample | None = None
    last_good: Sample | None = None  # Good, or not Bad with a value (OPC Publisher's "last known good")
    last_emit: float = 0.0
    last_beat: float = 0.0
    connected: bool = True


class FieldFilters:
    """Per-field SkipFirst, client-side Percent deadband, heartbeat (OPC Publisher's HeartbeatBehavior) and
    gap marking."""

    def __init__(self) -> None:
        self._fields: dict[tuple[str, str], _FieldState] = {}
        self.diagnostic_beats = 0  # WatchdogLKVDiagnosticsOnly heartbeats: counted, not sent

    def register(
        self, writer_id: str, writer_group: str, plan: NodePlan, eu_span: float | None = None
    ) -> None:
        """Declare a monitored field (after its item was created)."""
        key = (writer_id, plan.field)
        old = self._fields.get(key)
        state = _FieldState(plan, writer_id, writer_group, eu_span)
        if old is not None:  # a re-subscription: SkipFirst applied once only
            state.seen_first = old.seen_first
            state.last_sent_value = old.last_sent_value
            state.last_sample = old.last_sample
            state.last_good = old.last_good
        self._fields[key] = state

    def snapshot(self, writer_id: str) -> list[Sample]:
        """The last known value of every connected field of a writer (a key frame's content)."""
        return [
            st.last_sample
            for st in self._fields.values()
            if st.writer_id == writer_id and st.connected and st.last_sample is not None
        ]

    def forget(self, writer_id: str, field_name: str) -> None:
        """Drop a field that is no longer configured."""
        self._fields.pop((writer_id, field_name), None)

    def keys(self) -> list[tuple[str, str]]:
        """Registered (writer, field) pairs."""
        return list(self._fields)

    def accept(self, s: Sample, now: float) -> tuple[bool, str]:
        """Whether a value change goes out; the reason when it does not."""
        st = self._fields.get((s.writer_id, s.field))
        if st is None:
            return False, "unknown_field"
        st.connected = True
        if s.value is not None and not s.status_code & 0x80000000:
            st.last_good = s
        if st.plan.skip_first and not st.seen_first:
            st.seen_first = True
            st.last_sample = s
            return False, "skip_first"
        st.seen_first = True
        if st.plan.heartbeat_s > 0 and st.plan.heartbeat_behavior.endswith("DropValue"):
            st.last_sample = s  # only the periodic heartbeat reports it
            return False, "periodic_only"
        if (
            st.plan.deadband_type == "Percent"
            and st.eu_span
            and s.status_code == 0
            and isinstance(s.value, int | float)
            and isinstance(st.last_sent_value, int | float)
            and abs(s.value - st.last_sent_value) <= st.plan.deadband_value / 100.0 * st.eu_span
        ):
            return False, "deadband"
        st.last_sent_value = s.value if s.status_code == 0 else st.last_sent_value
        st.last_sample = s
        st.last_emit = now
        return True, ""

    def heartbeats(self, now: float) -> list[Sample]:
        """Heartbeats due now, per field's HeartbeatBehavior: `Watchdog*` when the interval passed without a
        change, `Periodic*` every interval; `*LKG` resend the last good value, the others the last known one;
        `WatchdogLKVWithUpdatedTimestamps` stamps it now; `WatchdogLKVDiagnosticsOnly` only counts it."""
        out = []
        for st in self._fields.values():
            hb, behavior = st.plan.heartbeat_s, st.plan.heartbeat_behavior
            if hb <= 0 or not st.connected:
                continue
            periodic = behavior.startswith("Periodic")
            if now - (st.last_beat if periodic else st.last_emit) < hb:
                continue
            sample = st.last_good if "LKG" in behavior else st.last_sample
            if sample is None:
                continue
            st.last_beat = now
            if not periodic:
                st.last_emit = now
            if behavior == "WatchdogLKVDiagnosticsOnly":
                self.diagnostic_beats += 1
                continue
            if behavior == "WatchdogLKVWithUpdatedTimestamps":
                stamp = datetime.now(UTC)
                sample = replace(sample, source_ts=stamp, server_ts=stamp)
            out.append(sample)
        return out

    def gap(self, writers: Iterable[str], code: int = BAD_NO_COMMUNICATION) -> list[Sample]:
        """Mark every field of these writers as disconnected; return one Bad sample per field."""
        wanted = set(writers)
        now = datetime.now(UTC)
        out = []
        for st in self._fields.values():
            if st.writer_id in wanted and st.connected:
                st.connected = False
                out.append(
                    Sample(
                        st.writer_id, st.writer_group, st.plan.field, None, now, now, code, _GAP_SYMBOLS[code]
                    )
                )
        return out


class SampleQueue:
    """A bounded FIFO between the OPC UA callbacks and the batcher; overflow drops the oldest (counted)."""

    def __init__(self, maxlen: int, stats: IngestStats) -> None:
        self._items: collections.deque[tuple[Sample, str]] = collections.deque()
        self._maxlen = maxlen
        self._stats = stats
        self._event = asyncio.Event()

    def __len__(self) -> int:
        return len(self._items)

    def put(self, s: Sample, message_type: str = "ua-deltaframe") -> None:
        """Enqueue without blocking (the publish loop must never wait on us)."""
        if len(self._items) >= self._maxlen:
            self._items.popleft()
            self._stats.dropped["queue_full"] += 1
        self._items.append((s, message_type))
        self._event.set()

    def put_many(self, samples: list[Sample]) -> None:
        """Enqueue a publish response's value changes at once; overflow drops the oldest (counted)."""
        self._items.extend((s, "ua-deltaframe") for s in samples)
        excess = len(self._items) - self._maxlen
        if excess > 0:
            self._stats.dropped["queue_full"] += excess
            for _ in range(excess):
                self._items.popleft()
        if samples:
            self._event.set()

    async def wait(self, timeout: float) -> None:
        """Return when something is queued or after `timeout` seconds."""
        if not self._items:
            self._event.clear()
            try:
                await asyncio.wait_for(self._event.wait(), timeout)
            except TimeoutError:
                pass

    def pop(self) -> tuple[Sample, str]:
        """Take the oldest item (IndexError when empty)."""
        return self._items.popleft()

    def drain(self, limit: int = 5000) -> list[tuple[Sample, str]]:
        """Take up to `limit` items."""
        n = min(limit, len(self._items))
        return [self._items.popleft() for _ in range(n)]


Send = Callable[[dict[str, Any]], Awaitable[None]]


class IngestPipeline:
    """Queue → filters → batcher → `send`, flushing every `flush_interval_s` (or when a message fills)."""

    def __init__(
        self,
        send: Send,
        *,
        publisher_id: str,
        max_bytes: int,
        flush_interval_s: float,
        queue_size: int,
        stats: IngestStats | None = None,
        max_in_flight: int = 4,
        flush_on_response: bool = False,
    ) -> None:
        self.stats = stats or IngestStats()
        self.filters = FieldFilters()
        self.queue = SampleQueue(queue_size, self.stats)
        self.batcher = NetworkMessageBatcher(publisher_id, max_bytes, snapshot=self.filters.snapshot)
        self.flush_interval_s = flush_interval_s
        # The server already batches by time: one publish response per publishing interval. Flushing
        # as soon as a whole response is batched adds no wait on top of it (lowest latency).
        self.flush_on_response = flush_on_response
        self.batch_size = 0  # OPC Publisher's BatchSize: a network message as soon as this many values wait
        self._response_pending = False
        self._send = send
        self._slots = asyncio.Semaphore(max(max_in_flight, 1))
        self._in_flight: set[asyncio.Task[None]] = set()
        self._outbox: collections.deque[dict[str, Any]] = collections.deque()

    def submit(self, s: Sample) -> None:
        """A value change from the adapter (called on the event loop, never blocks)."""
        self.stats.values_in += 1
        self.queue.put(s)

    def submit_many(self, samples: list[Sample]) -> None:
        """A publish response's value changes from the adapter (on the event loop, never blocks)."""
        self.stats.values_in += len(samples)
        self.queue.put_many(samples)
        self._response_pending = True

    def submit_events(self, samples: list[Sample]) -> None:
        """Event fields from the adapter, each event's fields in a row: `ua-event` data set messages."""
        self.stats.values_in += len(samples)
        for s in samples:
            self.queue.put(s, "ua-event")
        self._response_pending = True

    def submit_keepalive(self, writer_id: str, writer_group: str) -> None:
        """A keep-alive of a writer's subscription (SendKeepAliveDataSetMessages): a `ua-keepalive`."""
        self.queue.put(Sample(writer_id, writer_group, "", None, None, None), "ua-keepalive")
        self._response_pending = True

    def submit_metadata(self, message: dict[str, Any]) -> None:
        """A `ua-metadata` network message, sent after what is queued before it."""
        self.queue.put(Sample(message["DataSetWriterId"], "", "", message, None, None), "ua-metadata")
        self._response_pending = True

    def submit_gap(self, writers: Iterable[str], code: int = BAD_NO_COMMUNICATION) -> int:
        """Mark a connection gap: every field of these writers goes out once with a Bad status."""
        samples = self.filters.gap(writers, code)
        if samples:
            self.stats.gaps += 1
        for s in samples:
            self.queue.put(s, "ua-keyframe")
        return len(samples)

    async def run(self) -> None:
        """Process until cancelled; the pending batch is flushed on the way out."""
        next_flush = time.monotonic() + self.flush_interval_s
        try:
            while True:
                await self.queue.wait(max(next_flush - time.monotonic(), 0.0))
                await self._process()
                if self.flush_on_response and self._response_pending and not self.queue:
                    self._response_pending = False
                    await self._emit(self.batcher.flush())
                now = time.monotonic()
                if now >= next_flush:
                    for hb in self.filters.heartbeats(now):
                        self.stats.heartbeats += 1
                        await self._emit(self.batcher.add(replace(hb)))
                    self.stats.heartbeats += self.filters.diagnostic_beats  # counted, never sent
                    self.filters.diagnostic_beats = 0
                    await self._emit(self.batcher.flush())
                    next_flush = now + self.flush_interval_s
        finally:
            await self._process(len(self.queue))
            await self._emit(self.batcher.flush())
            await self.drain_sends()

    async def _process(self, limit: int = 5000) -> None:
        """Filter and batch up to `limit` queued values; taken one by one, so a cancellation loses none."""
        now = time.monotonic()
        queue = self.queue
        for n in range(limit):
            if not queue:  # overflow may trim the queue while we await a send slot
                break
            if n and not n % _YIELD_EVERY:
                await asyncio.sleep(0)  # let the OPC UA publish loop send its next request meanwhile
            s, message_type = queue.pop()
            if message_type == "ua-metadata":
                await self._emit(self.batcher.flush())
                await self._emit([s.value])
                continue
            if message_type == "ua-deltaframe":
                ok, reason = self.filters.accept(s, now)
                if not ok:
                    if reason not in ("skip_first", "deadband", "periodic_only"):
                        self.stats.dropped[reason] += 1
                    continue
            try:
                full = self.batcher.add(s, message_type)
            except ValueError:
                self.stats.dropped["too_large"] += 1
                continue
            if self.batch_size and self.batcher.pending_values >= self.batch_size:
                full += self.batcher.flush()
            if full:
                await self._emit(full)

    async def _emit(self, messages: list[dict[str, Any]]) -> None:
        """Hand messages to `send`, up to `max_in_flight` at once (a send waits for edgeHub's ack, so one at a
        time caps throughput at one message per round trip); the caller waits while every slot is taken."""
        self._outbox.extend(messages)
        while self._outbox:
            await self._slots.acquire()  # a cancellation here leaves the message in the outbox
            task = asyncio.create_task(self._deliver(self._outbox.popleft()))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)

    async def _deliver(self, msg: dict[str, Any]) -> None:
        try:
            values = sum(len(m["Payload"]) for m in msg.get("Messages", ()))
            if await self._send_with_retry(msg, values):
                self.stats.messages_out += 1
                self.stats.values_out += values
        finally:
            self._slots.release()

    async def drain_sends(self) -> None:
        """Wait for the messages in flight."""
        while self._in_flight:
            await asyncio.gather(*list(self._in_flight), return_exceptions=True)

    async def _send_with_retry(self, msg: dict[str, Any], values: int) -> bool:
        """Retry transient failures with capped back-off (the bounded queue absorbs the wait)."""
        delay = 0.2
        while True:
            try:
                await self._send(msg)
                return True
            except TransientError:
                self.stats.send_failures += 1
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            except Exception:
                self.stats.send_failures += 1
                self.stats.dropped["send_failed"] += values
                return False
