"""The micro-batcher: size/delay batching, per-request errors, batches in flight, nothing lost on close."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from edgeloop_runtime.testing import within
from inference.engine.batcher import BatcherClosed, MicroBatcher


async def test_requests_are_batched_up_to_the_size_and_errors_stay_with_their_request() -> None:
    sizes: list[int] = []

    def run(items: list[int]) -> list[int | BaseException]:
        sizes.append(len(items))
        return [ValueError(f"bad {i}") if i == 3 else i * 10 for i in items]

    b: MicroBatcher[int, int] = MicroBatcher(run, max_batch_size=4, max_queue_delay_s=0.05)
    b.start()
    results = await asyncio.gather(*(b.submit(i) for i in range(8)), return_exceptions=True)
    await b.close()
    assert sizes == [4, 4]
    assert [r if isinstance(r, int) else str(r) for r in results] == [0, 10, 20, "bad 3", 40, 50, 60, 70]


@pytest.mark.parametrize(
    ("in_flight", "overlapped"),
    [pytest.param(1, False, id="one-at-a-time"), pytest.param(2, True, id="two-in-flight")],
)
async def test_with_two_in_flight_the_next_batch_runs_while_the_first_is_still_running(
    in_flight: int, overlapped: bool
) -> None:
    running = 0
    most = 0
    lock = threading.Lock()
    release = threading.Event()

    def run(items: list[int]) -> list[int | BaseException]:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        release.wait(0.3)  # the first batch holds until a second one has had a chance to start
        with lock:
            running -= 1
        return list(items)

    with ThreadPoolExecutor(2) as pool:
        b: MicroBatcher[int, int] = MicroBatcher(
            run, max_batch_size=2, max_queue_delay_s=0.0, executor=pool, max_in_flight=in_flight
        )
        b.start()
        first = [asyncio.ensure_future(b.submit(i)) for i in range(2)]
        await asyncio.sleep(0.05)
        second = [asyncio.ensure_future(b.submit(i)) for i in range(2, 4)]
        await asyncio.sleep(0.05)
        release.set()
        assert await asyncio.gather(*first, *second) == [0, 1, 2, 3]
        await b.close()
    assert (most == 2) is overlapped


async def test_close_finishes_every_queued_request_and_refuses_new_ones() -> None:
    b: MicroBatcher[int, int] = MicroBatcher(
        lambda items: list(items), max_batch_size=3, max_queue_delay_s=0.01, max_in_flight=2
    )
    b.start()
    pending = [asyncio.ensure_future(b.submit(i)) for i in range(10)]
    await asyncio.sleep(0)
    await b.close()
    assert [p.result() for p in pending] == list(range(10))
    with pytest.raises(BatcherClosed):
        await b.submit(99)


@pytest.mark.parametrize(
    ("inline", "on_loop_thread"),
    [pytest.param(True, True, id="inline"), pytest.param(False, False, id="executor")],
)
async def test_an_inline_batcher_runs_on_the_loop_thread_and_a_normal_one_does_not(
    inline: bool, on_loop_thread: bool
) -> None:
    threads: list[int] = []

    def run(items: list[int]) -> list[int | BaseException]:
        threads.append(threading.get_ident())
        return list(items)

    b: MicroBatcher[int, int] = MicroBatcher(run, max_batch_size=4, max_queue_delay_s=0.0, inline=inline)
    b.start()
    assert await b.submit(7) == 7
    await b.close()
    assert (threads == [threading.get_ident()]) is on_loop_thread


async def test_an_idle_inline_batcher_runs_a_request_in_the_caller_and_errors_stay_with_it() -> None:
    sizes: list[int] = []

    def run(items: list[int]) -> list[int | BaseException]:
        sizes.append(len(items))
        return [ValueError("bad") if i < 0 else i for i in items]

    b: MicroBatcher[int, int] = MicroBatcher(run, max_batch_size=4, max_queue_delay_s=0.0, inline=True)
    # never started: a queue hop would hang here, so these ran in the caller
    assert await within(b.submit(5), 1, "an inline submit to run in the caller") == 5
    with pytest.raises(ValueError, match="bad"):
        await within(b.submit(-1), 1, "an inline submit to raise in the caller")
    assert sizes == [1, 1] and (b.batches, b.items) == (2, 2)
    b.start()
    await b.close()
    with pytest.raises(BatcherClosed):
        await b.submit(1)


@pytest.mark.parametrize(
    ("inline", "sizes"),
    [pytest.param(True, [3], id="inline-one-batch"), pytest.param(False, [3], id="queued-one-batch")],
)
async def test_submit_many_answers_each_item_in_its_place(inline: bool, sizes: list[int]) -> None:
    seen: list[int] = []

    def run(items: list[int]) -> list[int | BaseException]:
        seen.append(len(items))
        return [ValueError("bad") if i < 0 else i * 2 for i in items]

    b: MicroBatcher[int, int] = MicroBatcher(run, max_batch_size=4, max_queue_delay_s=0.0, inline=inline)
    b.start()
    results = await b.submit_many([1, -1, 3])
    assert await b.submit_many([]) == []  # nothing to run: no empty batch either
    await b.close()
    assert [r if isinstance(r, int) else str(r) for r in results] == [2, "bad", 6]
    assert seen == sizes
    with pytest.raises(BatcherClosed):
        await b.submit_many([1])
