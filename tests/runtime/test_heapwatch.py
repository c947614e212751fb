"""EDGELOOP_TRACEMALLOC: a module appends its top heap growth, by traceback, to its state dir."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from edgeloop_runtime.errors import ConfigError
from edgeloop_runtime.heapwatch import TRACEMALLOC_ENV, heap_interval, watch_heap
from edgeloop_runtime.testing import wait_for_async

_kept: list[bytes] = []


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("", None, id="unset-means-off"),
        pytest.param("2.5", 2.5, id="seconds"),
    ],
)
def test_interval_is_read_from_the_environment(raw: str, expected: float | None) -> None:
    assert heap_interval({TRACEMALLOC_ENV: raw}) == expected


@pytest.mark.parametrize("raw", [pytest.param("soon", id="not-a-number"), pytest.param("0", id="zero")])
def test_a_bad_interval_is_a_config_error(raw: str) -> None:
    with pytest.raises(ConfigError, match=TRACEMALLOC_ENV):
        heap_interval({TRACEMALLOC_ENV: raw})


async def test_the_dump_names_the_line_that_keeps_memory(tmp_path: Path) -> None:
    path = tmp_path / "tracemalloc.txt"
    task = asyncio.create_task(watch_heap(path, 0.05))
    await asyncio.sleep(0)  # the watcher takes its baseline first
    _kept.extend(bytes(4096) for _ in range(64))  # the growth the dump must point at
    try:
        await wait_for_async(
            lambda: path.exists() and "_kept.extend" in path.read_text(),
            "a heap dump naming the line that kept 256 KiB",
        )
    finally:
        task.cancel()
        _kept.clear()
