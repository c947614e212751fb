"""The write path under repeated kill -9: the plant's own record of writes is the judge."""

from __future__ import annotations

from pathlib import Path

from edgeloop_dev.chaos.writeback_kills import StormOptions, run_storm


def test_kill_9_storm_gives_no_duplicate_or_unwanted_write_and_one_audit_per_request(tmp_path: Path) -> None:
    result = run_storm(StormOptions(tmp_path, seconds=40, rate_hz=4, kill_every_s=4, seed=14))
    assert result.kills >= 3 and result.hook_kills >= 1, "the storm killed the module, at random and by hook"
    assert result.requests >= 40 and result.resent >= 5 and result.plant_writes >= 10, result
    assert result.results.get("refused", 0) >= 5, "the feed's minimum interval refused some (and held)"
    assert result.failures() == [], result
