#!/usr/bin/env python3
"""anomaly_filter's flat-line checks per score, before (a scan of the whole ring buffer) and now, in one run.

    .venv/bin/python scripts/bench_flat_seconds.py

Fills the filter's per-asset buffers (20,000 rows) with 500 s of plant telemetry at 10 Hz, then times the
shipped rule's flat-line checks of one score both ways on the same buffers and checks they agree. The
"before" arm is the definition kept in tests/anomaly_filter/test_filter_flat_seconds.py.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "anomaly_filter"))

from test_filter_flat_seconds import scanned  # noqa: E402

from anomaly_filter.engine import FilterEngine  # noqa: E402
from anomaly_filter.rules import parse_rules  # noqa: E402
from edgeloop_dev.plant import fault_schedule  # noqa: E402
from edgeloop_dev.replay import plant_ticks, shipped_rules  # noqa: E402

T0 = 1_800_000_000.0
REPS = 20


def main() -> None:
    engine = FilterEngine(parse_rules(shipped_rules()), buffer_len=20000)
    for tick in plant_ticks(fault_schedule(7, "demo"), 500, 10.0, T0):
        engine.on_telemetry(tick.message)
    fields = [s.field for s in engine.rules.rules[0].signals if s.method == "stuck"]
    end = T0 + 499
    for asset, buf in sorted(engine.buffers.items()):
        arms: dict[str, Callable[[str], float]] = {
            "before": lambda f, b=buf: scanned(b, f, end),  # type: ignore[misc]
            "now": lambda f, b=buf: b.flat_seconds(f, end),  # type: ignore[misc]
        }
        ms: dict[str, float] = {}
        answers: dict[str, list[float]] = {}
        for name, check in arms.items():
            t = time.perf_counter()
            for _ in range(REPS):
                answers[name] = [check(f) for f in fields]
            ms[name] = (time.perf_counter() - t) / REPS * 1000
        assert answers["before"] == answers["now"], asset
        print(
            f"{asset}: {len(buf.rows)} rows, {len(fields)} flat-line checks per score: "
            f"before {ms['before']:.2f} ms, now {ms['now']:.3f} ms ({ms['before'] / ms['now']:.0f}x)"
        )


if __name__ == "__main__":
    main()
