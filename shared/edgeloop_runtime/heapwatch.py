"""EDGELOOP_TRACEMALLOC=<seconds>: append a module's top heap growth to its state dir (debugging only)."""

from __future__ import annotations

import asyncio
import linecache
import time
import tracemalloc
from collections.abc import Mapping
from pathlib import Path

from .errors import ConfigError

TRACEMALLOC_ENV = "EDGELOOP_TRACEMALLOC"
HEAP_FILE = "tracemalloc.txt"
_FRAMES = 8
_TOP = 15


def heap_interval(env: Mapping[str, str], name: str = TRACEMALLOC_ENV) -> float | None:
    """The dump interval in seconds from the variable `name` (EDGELOOP_TRACEMALLOC), or None when unset."""
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        interval = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
    if interval <= 0:
        raise ConfigError(f"{name} must be > 0 seconds, got {raw!r}")
    return interval


def growth_report(baseline: tracemalloc.Snapshot, top: int = _TOP) -> str:
    """The `top` allocation sites (by traceback) that grew most since `baseline`, as text."""
    ignore = (
        tracemalloc.Filter(False, tracemalloc.__file__),
        tracemalloc.Filter(False, linecache.__file__),
    )
    snap = tracemalloc.take_snapshot().filter_traces(ignore)
    current, _ = tracemalloc.get_traced_memory()
    lines = [f"== {time.strftime('%H:%M:%S')} traced {current / 2**20:.2f} MiB"]
    for stat in snap.compare_to(baseline, "traceback")[:top]:
        lines.append(f"{stat.size_diff / 1024:+.1f} KiB {stat.count_diff:+d} blocks")
        lines.extend(f"    {line}" for line in stat.traceback.format()[-_FRAMES:])
    return "\n".join(lines) + "\n"


def _append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write(text)


async def watch_heap(path: Path, interval: float) -> None:
    """Trace allocations from now on and append the growth report to `path` every `interval` s."""
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start(_FRAMES)
    try:
        baseline = tracemalloc.take_snapshot()
        path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            await asyncio.sleep(interval)
            _append(path, growth_report(baseline))
    finally:
        if started:
            tracemalloc.stop()
