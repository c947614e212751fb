"""Periodic per-asset aggregates of telemetry: min/max/mean/count per field and the anomalies opened."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from edgeloop_contracts.summary import FieldStats, Summary

from .telemetry import format_ts


@dataclass
class FieldAgg:
    """Running min/max/sum/count of one field."""

    lo: float = math.inf
    hi: float = -math.inf
    total: float = 0.0
    count: int = 0

    def add(self, v: float) -> None:
        """Fold one good value in."""
        self.lo = min(self.lo, v)
        self.hi = max(self.hi, v)
        self.total += v
        self.count += 1


@dataclass
class Period:
    """One asset's aggregates over [start, start + period)."""

    start: float
    fields: dict[str, FieldAgg] = field(default_factory=dict)
    anomalies: int = 0


class Summarizer:
    """Aggregates per asset on source time; a sample in a later period closes the earlier one."""

    def __init__(self, period_s: float) -> None:
        self.period_s = period_s
        self._open: dict[str, Period] = {}

    def _period(self, asset: str, ts: float) -> tuple[Period, Summary | None]:
        start = math.floor(ts / self.period_s) * self.period_s
        cur = self._open.get(asset)
        done = None
        if cur is not None and start > cur.start:
            done = self._render(asset, cur)
            cur = None
        if cur is None:
            cur = self._open[asset] = Period(start)
        return cur, done

    def add(self, asset: str, fld: str, ts: float, value: float | None) -> Summary | None:
        """Fold a sample in; returns the summary of a period this sample closed, if any."""
        period, done = self._period(asset, ts)
        if value is not None and ts >= period.start:
            period.fields.setdefault(fld, FieldAgg()).add(value)
        return done

    def count_anomaly(self, asset: str, ts: float) -> Summary | None:
        """Count an opened anomaly in the asset's current period."""
        period, done = self._period(asset, ts)
        period.anomalies += 1
        return done

    def flush(self, before: float | None = None) -> list[Summary]:
        """Render and close periods that ended before `before` (all when None)."""
        out = []
        for asset, p in list(self._open.items()):
            if before is None or p.start + self.period_s <= before:
                out.append(self._render(asset, p))
                del self._open[asset]
        return out

    def _render(self, asset: str, p: Period) -> Summary:
        return Summary(
            asset=asset,
            period_start=format_ts(p.start),
            period_end=format_ts(p.start + self.period_s),
            fields={
                f: FieldStats(a.lo, a.hi, a.total / a.count, a.count)
                for f, a in sorted(p.fields.items())
                if a.count
            },
            anomalies=p.anomalies,
        )
