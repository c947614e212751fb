"""The filter's memory is its bounded buffers: once they are full, new messages add nothing that stays."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable

from af_factories import T0, score, telemetry

from anomaly_filter.engine import FilterEngine
from anomaly_filter.rules import parse_rules

ROWS, DEDUP = 200, 64  # small bounds, so the test fills them in a few hundred messages


def retained_growth(step: Callable[[int], object], start: int, count: int) -> int:
    """Bytes still allocated after `count` more steps than before them."""
    gc.collect()
    before = tracemalloc.take_snapshot()
    for i in range(start, start + count):
        step(i)
    gc.collect()
    after = tracemalloc.take_snapshot()
    return sum(stat.size_diff for stat in after.compare_to(before, "filename"))


def test_unique_telemetry_and_scores_leave_nothing_once_the_buffers_are_full() -> None:
    rules = parse_rules({"rules": [{"name": "vib", "raise": 1.0, "clear": 0.8}], "summaryPeriodS": 60})
    eng = FilterEngine(rules, buffer_len=ROWS, dedup_len=DEDUP)

    def step(i: int) -> None:
        ts = T0 + i
        eng.on_telemetry(telemetry("pump", ts, {"Vibration": i % 7 * 0.1, "BearingTemp": 50.0 + i % 3}))
        eng.on_score(score("pump", ts, 1.5 if i // 20 % 2 else 0.2))  # opens and closes every 40 s
        eng.snapshot()

    tracemalloc.start(1)
    try:
        fill = retained_growth(step, 0, 400)  # 800 rows and 400 scores: every bound reached
        later = [retained_growth(step, start, 400) for start in (400, 800, 1200)]
    finally:
        tracemalloc.stop()
    # A leak of a few dozen bytes per message would keep more than a quarter of the fill in every span of
    # 400; what stays otherwise is noise that comes and goes (a collection's timing, an episode or period
    # open at the end, caches other tests warmed), so the span that kept least is the one that tells.
    assert min(later) < fill // 4, f"{later} B kept by each 400 more messages after {fill} B of fill"
    assert len(eng.buffers["pump"].rows) == ROWS and len(eng.seen) == DEDUP
