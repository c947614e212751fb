"""Flat-line time per field: the same answer as scanning the whole buffer, without scanning for absent fields."""

from __future__ import annotations

import random

import pytest

from anomaly_filter.signals import AssetBuffer
from anomaly_filter.telemetry import Sample


def scanned(buf: AssetBuffer, fld: str, end: float) -> float:
    """The definition: newest row up to `end`, back to the first sample of `fld`'s current good value."""
    newest = value = None
    start = 0.0
    for ts, f, v, good, _z in reversed(buf.rows):
        if ts > end:
            continue
        newest = ts if newest is None else newest
        if f != fld:
            continue
        if not good or v is None or (ts, f) in buf.uncertain:
            break
        if value is None or v == value:
            value, start = v, ts
        else:
            break
    return 0.0 if value is None or newest is None else newest - start


def fed(seed: int, maxlen: int) -> AssetBuffer:
    rng = random.Random(seed)
    buf = AssetBuffer(maxlen)
    for i in range(400):
        ts = 1000.0 + i * 0.1
        for fld in ("Speed", "Flow", "Stuck") if i < 300 else ("Speed", "Stuck"):  # Flow stops at 300
            status = rng.choice(["Good"] * 8 + ["BadNoCommunication", "UncertainLastUsableValue"])
            value = 5.0 if fld == "Stuck" else float(rng.randint(0, 2))
            buf.add(Sample("pump", fld, ts, value, not status.startswith("Bad"), status), {})
    return buf


@pytest.mark.parametrize("maxlen", [50, 400, 5000], ids=["flow-evicted", "flow-partly-kept", "all-kept"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_flat_seconds_equals_the_full_scan_for_present_evicted_and_absent_fields(
    seed: int, maxlen: int
) -> None:
    buf = fed(seed, maxlen)
    for fld in ("Speed", "Flow", "Stuck", "NotAField"):
        for end in (1000.0, 1025.05, 1029.9, 1035.0, 1039.9, 2000.0):
            assert buf.flat_seconds(fld, end) == scanned(buf, fld, end), (fld, end)


def test_a_field_whose_rows_all_left_the_ring_buffer_is_no_longer_held() -> None:
    buf = fed(1, 50)
    assert "Flow" not in buf.held
    assert sum(buf.held.values()) == len(buf.rows)
