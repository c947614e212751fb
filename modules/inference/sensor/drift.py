"""Input drift: PSI (or, for slow signals, the mean's shift) per feature over a sliding window vs training."""

from __future__ import annotations

from collections import deque

import numpy as np

from ..models.metadata import FieldBaseline

EPS = 1e-4
MEAN_SHIFT_DEFAULT = 3.0  # training standard deviations, where a meanShift field has no threshold of its own


def psi(baseline: FieldBaseline, values: np.ndarray) -> float:
    """PSI = sum (p - q) * ln(p / q) over the baseline's bins; p observed, q expected (floored)."""
    edges = np.asarray(baseline.edges, np.float64)
    q = np.maximum(np.asarray(baseline.fractions, np.float64), EPS)
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(q))
    p = np.maximum(counts / max(len(values), 1), EPS)
    return float(np.sum((p - q) * np.log(p / q)))


def mean_shift(baseline: FieldBaseline, values: np.ndarray) -> float:
    """|mean of the window - training mean| in training standard deviations."""
    return float(abs(float(np.mean(values)) - baseline.mean) / baseline.std)


def statistic(baseline: FieldBaseline, values: np.ndarray) -> float:
    """The field's own drift statistic over a window of values."""
    return mean_shift(baseline, values) if baseline.metric == "meanShift" else psi(baseline, values)


class DriftMonitor:
    """Keeps the last `size` values per (asset, field); `check` computes PSI for every full window."""

    def __init__(self, baseline: dict[str, dict[str, FieldBaseline]], size: int, threshold: float) -> None:
        self.baseline = baseline
        self.size = size
        self.threshold = threshold
        self._values: dict[tuple[str, str], deque[float]] = {}
        self._since: dict[str, int] = {}

    def add(self, asset: str, fields: list[str], rows: np.ndarray) -> None:
        """Record new rows ([n, len(fields)] finite values) of one asset."""
        base = self.baseline.get(asset, {})
        for f, name in enumerate(fields):
            if name in base:
                buf = self._values.setdefault((asset, name), deque(maxlen=self.size))
                buf.extend(rows[:, f].tolist())
        self._since[asset] = self._since.get(asset, 0) + len(rows)

    def due(self, asset: str) -> bool:
        """True once a full window of new rows has arrived since the last check of this asset."""
        return self._since.get(asset, 0) >= self.size

    def metric(self, asset: str, field: str) -> str:
        """How the field's drift is measured: `psi` or `meanShift`."""
        base = self.baseline.get(asset, {}).get(field)
        return base.metric if base is not None else "psi"

    def limit(self, asset: str, field: str) -> float:
        """The statistic above which a field has drifted: its calibrated threshold, else the default."""
        base = self.baseline.get(asset, {}).get(field)
        if base is not None and base.metric == "meanShift":
            return base.mean_shift_threshold or MEAN_SHIFT_DEFAULT
        return base.psi_threshold if base is not None and base.psi_threshold else self.threshold

    def check(self, asset: str) -> dict[str, float]:
        """Drift statistic per field of the asset (full windows only); resets the asset's counter."""
        self._since[asset] = 0
        out: dict[str, float] = {}
        for name, base in self.baseline.get(asset, {}).items():
            buf = self._values.get((asset, name))
            if buf is not None and len(buf) >= self.size:
                out[name] = round(statistic(base, np.fromiter(buf, np.float64, len(buf))), 4)
        return out
