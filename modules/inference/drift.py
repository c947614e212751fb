"""Input drift: PSI per feature over a sliding window, against the training baseline."""

from __future__ import annotations

from collections import deque

import numpy as np

from .metadata import FieldBaseline

EPS = 1e-4


def psi(baseline: FieldBaseline, values: np.ndarray) -> float:
    """PSI = sum (p - q) * ln(p / q) over the baseline's bins; p observed, q expected (floored)."""
    edges = np.asarray(baseline.edges, np.float64)
    q = np.maximum(np.asarray(baseline.fractions, np.float64), EPS)
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(q))
    p = np.maximum(counts / max(len(values), 1), EPS)
    return float(np.sum((p - q) * np.log(p / q)))


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

    def limit(self, asset: str, field: str) -> float:
        """The PSI above which a field has drifted: its calibrated threshold, else the model's."""
        base = self.baseline.get(asset, {}).get(field)
        return base.psi_threshold if base is not None and base.psi_threshold else self.threshold

    def check(self, asset: str) -> dict[str, float]:
        """PSI per field of the asset (fields with a full window only); resets the asset's counter."""
        self._since[asset] = 0
        out: dict[str, float] = {}
        for name, base in self.baseline.get(asset, {}).items():
            buf = self._values.get((asset, name))
            if buf is not None and len(buf) >= self.size:
                out[name] = round(psi(base, np.fromiter(buf, np.float64, len(buf))), 4)
        return out
