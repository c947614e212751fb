"""Dynamic micro-batching as Triton does it: gather up to a max batch size or a max queue delay, run once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

BatchFn = Callable[[list[T]], list["R | BaseException"]]


@dataclass(slots=True)
class _Pending(Generic[T, R]):
    item: T
    future: asyncio.Future[R]
    queued_at: float


class BatcherClosed(RuntimeError):
    """The batcher no longer accepts requests (its model version was swapped out or the module stops)."""


class MicroBatcher(Generic[T, R]):
    """Requests are queued (bounded; `submit` waits for room), batched and run by `run_batch` in `executor`.

    `run_batch` returns one result or exception per item, in order: an error stays with its own request.
    `inline` runs the batch function on the event loop (no thread hop) for sub-millisecond models; a
    request that finds nothing queued runs at once in the caller, with no queue hop either (for such a
    model the hop costs more than batching saves: the ceiling benchmark is as fast at batch 1 as at 16).
    Up to `max_in_flight` batches run at once (give `executor` as many threads), so the next batch is
    gathered and started while the previous one is still in `session.run` or its post-processing.
    Unlike Triton, a batch waits for `max_queue_delay_s` only while another batch is running: when the
    engine is idle, whatever is queued runs at once (no added latency at low load, full batches at high).
    `on_batch(size, queue_wait_s)` is called for every batch (metrics).
    """

    def __init__(
        self,
        run_batch: BatchFn[T, R],
        *,
        max_batch_size: int,
        max_queue_delay_s: float,
        executor: Executor | None = None,
        queue_size: int = 1024,
        max_in_flight: int = 1,
        inline: bool = False,
        on_batch: Callable[[int, list[float]], None] | None = None,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self._run_batch = run_batch
        self.max_batch_size = max_batch_size
        self.max_queue_delay_s = max_queue_delay_s
        self._executor = executor
        # in flight (queued or running) is bounded by the semaphore; `submit` waits for a slot (policy: block)
        self._slots = asyncio.Semaphore(queue_size)
        self._queue: asyncio.Queue[_Pending[T, R] | None] = asyncio.Queue()
        self._on_batch = on_batch
        self._inline = inline  # run on the loop itself: for models so fast that a thread hop costs more
        self._in_flight = asyncio.Semaphore(max_in_flight)
        self._running: set[asyncio.Task[None]] = set()
        self._closed = False
        self._worker: asyncio.Task[None] | None = None
        self.batches = 0
        self.items = 0

    def start(self) -> None:
        """Start the batching task on the running loop."""
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._work(), name="micro-batcher")

    @property
    def depth(self) -> int:
        """Requests waiting for a batch."""
        return self._queue.qsize()

    async def submit(self, item: T) -> R:
        """Queue one request and wait for its own result (or its own exception)."""
        async with self._slots:
            if self._closed:  # checked and queued with no await in between: never behind the sentinel
                raise BatcherClosed("batcher is closed")
            if self._inline and self._queue.empty():
                return self._run_now(item)
            future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
            self._queue.put_nowait(_Pending(item, future, time.perf_counter()))
            return await future

    async def submit_many(self, items: list[T]) -> list[R | BaseException]:
        """Several requests together (one message's windows), each result or error in its place.

        An idle inline batcher runs them as one batch in the caller; otherwise each is queued as by
        `submit`. BatcherClosed is raised (for all) when the batcher no longer accepts requests.
        """
        if self._closed:
            raise BatcherClosed("batcher is closed")
        if not items:
            return []
        if self._inline and self._queue.empty() and len(items) <= self.max_batch_size:
            return self._run_inline(items)
        return list(await asyncio.gather(*(self.submit(i) for i in items), return_exceptions=True))

    def _run_now(self, item: T) -> R:
        """An inline batch of one, in the caller (the loop is ours until this returns)."""
        (result,) = self._run_inline([item])
        if isinstance(result, BaseException):
            raise result
        return result

    def _run_inline(self, items: list[T]) -> list[R | BaseException]:
        """Run a batch on the loop, in the caller; one result or error per item."""
        if self._on_batch is not None:
            self._on_batch(len(items), [0.0] * len(items))
        try:
            results: list[R | BaseException] | Exception = self._run_batch(items)
        except Exception as exc:
            results = exc
        return self._account(len(items), results)

    def _account(self, n: int, results: list[R | BaseException] | Exception) -> list[R | BaseException]:
        """Count the batch; a failure of the whole batch (or a wrong count) becomes every item's error."""
        if not isinstance(results, Exception) and len(results) != n:
            results = RuntimeError(f"batch function returned {len(results)} results for {n}")
        self.batches += 1
        self.items += n
        return [results] * n if isinstance(results, Exception) else list(results)

    async def close(self) -> None:
        """Stop accepting; finish every request already queued, then end the worker."""
        if self._closed:
            return
        self._closed = True
        self._queue.put_nowait(None)
        if self._worker is not None:
            await self._worker

    async def _collect(self) -> tuple[list[_Pending[T, R]], bool]:
        first = await self._queue.get()
        if first is None:
            return [], True
        batch = [first]
        # busy (a batch is running): wait up to the delay so the batch fills meanwhile; idle: go at once
        # with what is queued, so a lone request pays no queue delay
        # (an inline batcher is never busy in that sense: nothing runs beside the loop)
        busy = bool(self._running) and not self._inline
        deadline = first.queued_at + self.max_queue_delay_s if busy else 0.0
        while len(batch) < self.max_batch_size:
            try:
                nxt = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    break
                try:
                    nxt = await asyncio.wait_for(self._queue.get(), remaining)
                except TimeoutError:
                    break
            if nxt is None:
                return batch, True
            batch.append(nxt)
        return batch, False

    async def _work(self) -> None:
        done = False
        try:
            while not done:
                await self._in_flight.acquire()  # a slot first: requests keep gathering while all are busy
                try:
                    batch, done = await self._collect()
                except BaseException:
                    self._in_flight.release()
                    raise
                if not batch:
                    self._in_flight.release()
                    continue
                task = asyncio.get_running_loop().create_task(self._run(batch))
                self._running.add(task)
                task.add_done_callback(self._running.discard)
        finally:
            if self._running:
                await asyncio.gather(*self._running, return_exceptions=True)

    async def _run(self, batch: list[_Pending[T, R]]) -> None:
        try:
            started = time.perf_counter()
            if self._on_batch is not None:
                self._on_batch(len(batch), [started - p.queued_at for p in batch])
            items = [p.item for p in batch]
            results: list[R | BaseException] | Exception
            try:
                if self._inline:
                    results = self._run_batch(items)
                else:
                    results = await asyncio.get_running_loop().run_in_executor(
                        self._executor, self._run_batch, items
                    )
            except Exception as exc:
                results = exc
            for p, r in zip(batch, self._account(len(batch), results), strict=True):
                if p.future.done():
                    continue
                if isinstance(r, BaseException):
                    p.future.set_exception(r)
                else:
                    p.future.set_result(r)
        finally:
            self._in_flight.release()
