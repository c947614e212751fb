"""The plant's update-loop counters, saved once a second to `plant-stats.json` for benchmarks."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

STATS_FILE = "plant-stats.json"


@dataclass
class UpdateStats:
    """Cumulative ticks, value writes and time spent in the update loop (excluding its sleeps)."""

    ticks: int = 0
    writes: int = 0
    busy_s: float = 0.0
    max_tick_s: float = 0.0

    def tick(self, seconds: float, writes: int) -> None:
        """Account one update pass."""
        self.ticks += 1
        self.writes += writes
        self.busy_s += seconds
        self.max_tick_s = max(self.max_tick_s, seconds)

    def save(self, path: Path) -> None:
        """Write the counters (with the monotonic clock) atomically."""
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({**asdict(self), "monotonic": time.monotonic()}), encoding="utf-8")
        os.replace(tmp, path)


def read_stats(state_dir: Path) -> dict[str, Any] | None:
    """The last saved counters of a plant running with this state dir, or None before the first save."""
    try:
        doc: dict[str, Any] = json.loads((state_dir / STATS_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return doc
