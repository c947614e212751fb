"""Per-asset state from telemetry: a ring buffer of raw values and EWMA z-scores per field."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from edgeloop_contracts.anomaly import AnomalyWindow

from .telemetry import Sample, format_ts


@dataclass
class Ewma:
    """Exponentially weighted mean and variance of one signal."""

    alpha: float
    mean: float = 0.0
    var: float = 0.0
    n: int = 0

    def z(self, x: float) -> float:
        """The z-score of `x` against the current estimate (0 before two samples)."""
        if self.n < 2:
            return 0.0
        std = math.sqrt(self.var)
        return (x - self.mean) / std if std > 1e-12 else 0.0

    def update(self, x: float) -> None:
        """Fold `x` into the estimate."""
        if self.n == 0:
            self.mean = x
        else:
            d = x - self.mean
            self.mean += self.alpha * d
            self.var = (1 - self.alpha) * (self.var + self.alpha * d * d)
        self.n += 1


@dataclass
class AssetBuffer:
    """The recent raw samples of one asset, bounded, plus the z-score seen with each good sample."""

    maxlen: int
    rows: deque[tuple[float, str, float | None, bool, float]] = field(default_factory=deque)
    uncertain: set[tuple[float, str]] = field(default_factory=set)
    stats: dict[tuple[str, float], Ewma] = field(default_factory=dict)
    last: dict[str, float] = field(default_factory=dict)
    warmup: dict[str, int] = field(default_factory=dict)
    held: dict[str, int] = field(default_factory=dict)  # rows per field in the buffer
    # field -> (its current Good value, the source time of that value's first sample): a flat line's run,
    # kept beside the rows so that it can outlive them (and a restart: `flat_runs` / `seed_run`)
    runs: dict[str, tuple[float, float]] = field(default_factory=dict)

    def add(self, s: Sample, checks: dict[str, tuple[float, int]]) -> None:
        """Append a sample; `checks` maps field → (alpha, warmup) for the z-scores to track."""
        z = 0.0
        if s.good and s.value is not None:
            self.last[s.field] = s.value
            if s.field in checks:
                alpha, warm = checks[s.field]
                est = self.stats.setdefault((s.field, alpha), Ewma(alpha))
                z = est.z(s.value) if est.n >= warm else 0.0
                # An outlier far beyond the threshold is kept out of the baseline so it cannot mask itself.
                if abs(z) < 6.0 or est.n < warm:
                    est.update(s.value)
        if s.good and s.value is not None and s.status == "Good":
            run = self.runs.get(s.field)
            if run is None or run[0] != s.value:
                self.runs[s.field] = (s.value, s.ts)
        else:
            self.runs.pop(s.field, None)
        self.rows.append((s.ts, s.field, s.value, s.good, z))
        self.held[s.field] = self.held.get(s.field, 0) + 1
        if s.good and s.status != "Good":
            self.uncertain.add((s.ts, s.field))
        while len(self.rows) > self.maxlen:
            old = self.rows.popleft()
            self.uncertain.discard((old[0], old[1]))
            left = self.held[old[1]] - 1
            if left:
                self.held[old[1]] = left
            else:
                del self.held[old[1]]

    def flat_runs(self, min_s: float) -> dict[str, list[float]]:
        """The fields that have held one Good value for at least `min_s` up to the asset's newest sample,
        as {field: [value, since]}: what a stuck check needs after a restart, when a frozen sensor (which
        sends no change) would otherwise never be seen again."""
        if not self.rows:
            return {}
        newest = self.rows[-1][0]
        return {f: [v, since] for f, (v, since) in sorted(self.runs.items()) if newest - since >= min_s}

    def seed_run(self, asset: str, fld: str, value: float, since: float) -> None:
        """Take a saved run back as the field's sample at `since` (before any new telemetry arrives)."""
        self.add(Sample(asset, fld, since, value, True, "Good"), {})

    def _since(self, start: float, end: float) -> list[tuple[float, str, float | None, bool, float]]:
        """Rows in [start, end], oldest first, scanned back from the newest (rows come in time order)."""
        out = []
        for row in reversed(self.rows):
            if row[0] < start:
                break
            if row[0] <= end:
                out.append(row)
        out.reverse()
        return out

    def max_abs_z(self, fld: str, start: float, end: float) -> float:
        """The largest |z| of `fld` among good samples with start <= ts <= end."""
        return max(
            (abs(z) for _ts, f, _v, good, z in self._since(start, end) if f == fld and good), default=0.0
        )

    def max_flat_run(self, fld: str, start: float, end: float) -> int:
        """The longest run of identical Good values of `fld` in [start, end] (a stuck sensor)."""
        best = run = 0
        prev: float | None = None
        for ts, f, v, good, _z in self._since(start, end):
            if f != fld:
                continue
            if not good or v is None or (ts, f) in self.uncertain:
                prev, run = None, 0
                continue
            run = run + 1 if v == prev else 1
            prev = v
            best = max(best, run)
        return best

    def flat_seconds(self, fld: str, end: float) -> float:
        """How long `fld` has held one Good value up to `end` while its asset kept reporting.

        OPC UA subscriptions report changes only, so a frozen sensor sends nothing at all: its run
        lasts from the first sample of its current value to the asset's newest sample.
        """
        if fld not in self.held:  # not a field of this asset: no need to scan the whole buffer for it
            return 0.0
        newest: float | None = None
        value: float | None = None
        run_start = 0.0
        for ts, f, v, good, _z in reversed(self.rows):
            if ts > end:
                continue
            if newest is None:
                newest = ts
            if f != fld:
                continue
            if not good or v is None or (ts, f) in self.uncertain:
                break
            if value is None or v == value:
                value, run_start = v, ts
            else:
                break
        if value is None or newest is None:
            return 0.0
        return newest - run_start

    def has_bad(self, start: float, end: float) -> list[str]:
        """The fields with a Bad-status sample in [start, end]."""
        return sorted({f for _ts, f, _v, good, _z in self._since(start, end) if not good})

    def window(self, start: float, end: float, max_samples: int) -> AnomalyWindow:
        """Raw values in [start, end] as aligned rows: {"timestamps": [...], "fields": {f: [...]}}."""
        rows = self._since(start, end)
        times = sorted({r[0] for r in rows})[-max_samples:]
        index = {t: i for i, t in enumerate(times)}
        fields: dict[str, list[float | None]] = {}
        for ts, f, v, good, _z in rows:
            i = index.get(ts)
            if i is None:
                continue
            col = fields.setdefault(f, [None] * len(times))
            col[i] = v if good else None
        return AnomalyWindow([format_ts(t) for t in times], fields)


def saved_runs(buffers: dict[str, AssetBuffer], min_s: float | None) -> dict[str, dict[str, list[float]]]:
    """Per asset, the flat runs at least `min_s` long (none when no rule checks for a stuck sensor)."""
    if min_s is None:
        return {}
    return {a: runs for a, buf in sorted(buffers.items()) if (runs := buf.flat_runs(min_s))}


def restore_runs(buffers: dict[str, AssetBuffer], doc: dict[str, Any], maxlen: int) -> None:
    """Seed the buffers with saved runs, oldest first, so a flat line under way goes on being timed."""
    for asset, runs in doc.items():
        buf = buffers.setdefault(asset, AssetBuffer(maxlen))
        for fld, (value, since) in sorted(runs.items(), key=lambda kv: float(kv[1][1])):
            buf.seed_run(asset, fld, float(value), float(since))
