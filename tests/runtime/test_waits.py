"""Every wait says what it waited for: the test's words, else the predicate's source, and the last value."""

from __future__ import annotations

import asyncio

import pytest

from edgeloop_dev.hub.harness import wait_for
from edgeloop_runtime.testing import wait_for_async, within


def test_a_sync_wait_that_runs_out_names_its_predicate_and_last_value() -> None:
    outputs: list[str] = []
    with pytest.raises(TimeoutError, match=r"waited 0\.01 s for lambda: outputs; last value: \[\]"):
        wait_for(lambda: outputs, timeout=0.01)


async def test_an_async_wait_that_runs_out_names_what_the_test_says() -> None:
    with pytest.raises(TimeoutError, match=r"waited 0\.01 s for the scaled output; last value: 0"):
        await wait_for_async(lambda: 0, "the scaled output", timeout=0.01)


async def test_a_wait_that_succeeds_returns_the_value() -> None:
    assert await wait_for_async(lambda: [1], timeout=0.01) == [1]


async def test_within_names_what_did_not_finish() -> None:
    with pytest.raises(TimeoutError, match=r"waited 0\.01 s for the module to stop"):
        await within(asyncio.sleep(1), 0.01, "the module to stop")
