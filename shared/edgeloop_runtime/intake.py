"""Inputs from edgeHub to the module's handlers: bounded queues, workers, dead letters, acknowledgement."""

from __future__ import annotations

import asyncio
import gzip
import time
from typing import Any

from prometheus_client import Counter, Gauge

from .client import HubClient
from .context import Context
from .envelope import utc_now_iso
from .errors import Backpressure, EdgeloopError, HubConnectionError, MessageTooLargeError
from .inputs import InputQueue
from .logs import get_logger
from .messages import InputMessage
from .metrics import Bound, Metrics

# Handler errors that mean "not now": the message is retried in place and never dead-lettered.
# HubConnectionError too: a dead letter could not leave either while edgeHub is unreachable.
RETRY_LATER = (Backpressure, HubConnectionError)
_RETRY_MAX_S = 30.0

_log = get_logger(__name__)


class Intake:
    """One run's inputs: messages into bounded queues, workers calling the handlers, then the ack."""

    def __init__(
        self,
        queues: dict[str, InputQueue],
        ctx: Context[Any, Any],
        client: HubClient,
        metrics: Metrics,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.queues = queues
        self.ctx = ctx
        self.client = client
        self.metrics = metrics
        self._loop = loop
        # Messages whose handler asked to retry later (Backpressure), shown by getStatus.
        self.held: dict[str, dict[str, Any]] = {}
        self.retries = Bound(
            Counter(
                "edgeloop_input_retries_total",
                "Input handler attempts that asked to retry later (message kept unacknowledged).",
                ["module", "input", "reason"],
                registry=metrics.registry,
            ),
            metrics.module,
            ["input", "reason"],
        )
        self.held_gauge = Bound(
            Gauge(
                "edgeloop_inputs_held",
                "Input messages held unacknowledged until their handler can take them.",
                ["module", "input"],
                registry=metrics.registry,
            ),
            metrics.module,
            ["input"],
        )

    async def on_message(self, message: InputMessage) -> None:
        """Runs on the SDK's loop: hand the message to the module's loop, in order."""
        future = asyncio.run_coroutine_threadsafe(self._enqueue(message), self._loop)
        await asyncio.wrap_future(future)

    async def _enqueue(self, message: InputMessage) -> None:
        """Queue under the input's overflow policy; an unknown input is dead-lettered."""
        spec = self.queues.get(message.input_name)
        self.metrics.received.labels(input=message.input_name).inc()
        if spec is None:
            self.metrics.errors.labels(input=message.input_name, reason="unknown_input").inc()
            _log.warning(
                "message for an unknown input", input=message.input_name, message_id=message.message_id
            )
            await self.deadletter(message, f"no handler for input {message.input_name!r}")
            self.settle(message)
            return
        dropped = await spec.offer(message)
        if dropped is not None:
            reason = "queue_full_oldest" if spec.overflow == "drop_oldest" else "queue_full_newest"
            self.metrics.dropped.labels(input=spec.name, reason=reason).inc()
            self.settle(dropped)  # dropped by policy, and counted: edgeHub need not keep it
        self.metrics.queue_length.labels(input=spec.name).set(spec.queue.qsize())

    async def worker(self, spec: InputQueue) -> None:
        """Take one input's messages in order and run its handler; acknowledge each once it is done."""
        while True:
            message = await spec.queue.get()
            started = time.perf_counter()
            try:
                await self._handle(spec, message)
            finally:
                spec.queue.task_done()
                self.metrics.handler_seconds.labels(input=spec.name).observe(time.perf_counter() - started)
                self.metrics.queue_length.labels(input=spec.name).set(spec.queue.qsize())

    async def _handle(self, spec: InputQueue, message: InputMessage) -> None:
        """Run the handler until it is done with the message; back-pressure retries the same message."""
        attempt = 0
        try:
            while True:
                try:
                    await spec.spec.handler(self.ctx, message)
                except asyncio.CancelledError:
                    raise  # cut short (shutdown): unacknowledged, edgeHub delivers it again
                except RETRY_LATER as exc:
                    attempt += 1
                    delay = _retry_delay(exc, attempt)
                    self._hold(spec.name, message, exc, attempt)
                    if attempt == 1 or attempt % 20 == 0:
                        _log.warning(
                            "input handler asks to retry later; the message stays with edgeHub",
                            input=spec.name,
                            message_id=message.message_id,
                            attempt=attempt,
                            retry_in_s=delay,
                            error=str(exc),
                        )
                    await asyncio.sleep(delay)
                    continue
                except Exception as exc:
                    reason = type(exc).__name__
                    self.metrics.errors.labels(input=spec.name, reason=reason).inc()
                    self.ctx.record_error(f"input:{spec.name}", exc)
                    log = _log.warning if isinstance(exc, EdgeloopError) else _log.exception
                    log(
                        "input handler failed", input=spec.name, message_id=message.message_id, error=str(exc)
                    )
                    await self.deadletter(message, f"{reason}: {exc}")
                self.settle(message)
                return
        finally:
            if attempt:
                self._release(spec.name, message, attempt)

    def _hold(self, input_name: str, message: InputMessage, exc: Exception, attempt: int) -> None:
        self.retries.labels(input=input_name, reason=type(exc).__name__).inc()
        if attempt == 1:
            self.held_gauge.labels(input=input_name).inc()
        key = f"{input_name}:{message.message_id}"
        since = self.held.get(key, {}).get("since", utc_now_iso())
        self.held[key] = {
            "input": input_name,
            "messageId": message.message_id,
            "since": since,
            "attempts": attempt,
            "reason": f"{type(exc).__name__}: {exc}"[:300],
        }

    def _release(self, input_name: str, message: InputMessage, attempt: int) -> None:
        self.held.pop(f"{input_name}:{message.message_id}", None)
        self.held_gauge.labels(input=input_name).dec()
        _log.info(
            "input held back is handled now",
            input=input_name,
            message_id=message.message_id,
            attempts=attempt,
        )

    def settle(self, message: InputMessage) -> None:
        """Handled, dead-lettered or dropped by policy: only now may edgeHub forget the message."""
        self.client.settle(message.delivery)

    async def deadletter(self, message: InputMessage, error: str) -> None:
        props = {
            "edgeloopError": error[:512],
            "edgeloopInput": message.input_name,
            "edgeloopOriginalMessageId": message.message_id or "",
        }
        body, encoding = message.data, message.content_encoding
        over = 0
        try:
            for attempt in ("as-is", "gzip", "truncated"):
                try:
                    await self.ctx.send_bytes(
                        "deadletter",
                        body,
                        content_type=message.content_type or "application/octet-stream",
                        content_encoding=encoding,
                        correlation_id=message.correlation_id,
                        properties=props,
                    )
                    break
                except MessageTooLargeError as exc:
                    # The dead letter's own properties can push a message that arrived just under
                    # the limit over it: compress it, and only if that is not enough, cut it.
                    if attempt == "as-is":
                        over = exc.size - exc.limit
                        body, encoding = gzip.compress(message.data, mtime=0), "gzip"
                        props["edgeloopOriginalContentEncoding"] = message.content_encoding or ""
                    elif attempt == "gzip":
                        body, encoding = (
                            message.data[: max(len(message.data) - over - 1024, 0)],
                            message.content_encoding,
                        )
                        del props["edgeloopOriginalContentEncoding"]
                        props["edgeloopTruncatedFrom"] = str(len(message.data))
                    else:
                        raise
            self.metrics.deadletters.labels(input=message.input_name).inc()
        except EdgeloopError as exc:
            _log.error("dead-letter send failed", message_id=message.message_id, error=str(exc))

    async def drain(self, grace: float) -> None:
        """Wait up to `grace` seconds for every queued message to be handled."""
        started = time.monotonic()
        try:
            await asyncio.wait_for(
                asyncio.gather(*(q.queue.join() for q in self.queues.values())), timeout=grace
            )
            _log.info("drained", seconds=round(time.monotonic() - started, 3))
        except TimeoutError:
            left = {q.name: q.queue.qsize() for q in self.queues.values() if q.queue.qsize()}
            _log.warning("drain timed out; messages left unprocessed", grace_s=grace, left=left)


def _retry_delay(exc: Exception, attempt: int) -> float:
    """Back-off for the attempt: the handler's hint (or 0.5 s), doubling, capped at 30 s."""
    base = exc.retry_after_s if isinstance(exc, Backpressure) else 0.5
    return float(min(_RETRY_MAX_S, max(0.01, base) * 2 ** min(attempt - 1, 10)))
