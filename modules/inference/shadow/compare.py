"""Shadow evaluation: how a candidate version compares with the active one on the same real inputs.

Detections agree when they match one to one by class and IoU >= 0.5 (greedy, best score first); a frame's
agreement is matched / max(active, candidate) detections (1 when both found nothing); a classifier agrees
when its top class is the same. Sensor models are compared by the Pearson correlation of their scores.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgeloop_runtime import utc_now_iso

from ..vision.post import iou_matrix

MATCH_IOU = 0.5


def frame_agreement(active: list[dict[str, Any]], candidate: list[dict[str, Any]]) -> float:
    """Share of detections matched one to one by class and IoU >= 0.5."""
    if not active and not candidate:
        return 1.0
    if not active or not candidate:
        return 0.0
    a = np.array([d["bbox"] for d in active], np.float64)
    b = np.array([d["bbox"] for d in candidate], np.float64)
    ious = iou_matrix(a, b)
    ious = np.where(np.all(a[:, None] == b[None, :], axis=2), 1.0, ious)  # equal boxes, even empty ones
    used: set[int] = set()
    matched = 0
    for i in np.argsort([-float(d["confidence"]) for d in active], kind="stable"):
        best, best_j = MATCH_IOU, -1
        for j, d in enumerate(candidate):
            if j in used or d["class"] != active[i]["class"]:
                continue
            if ious[i, j] >= best:
                best, best_j = float(ious[i, j]), j
        if best_j >= 0:
            used.add(best_j)
            matched += 1
    return matched / max(len(active), len(candidate))


def class_agreement(active: list[dict[str, Any]], candidate: list[dict[str, Any]]) -> float:
    """1 when the top classes are the same, else 0."""
    if not active or not candidate:
        return 1.0 if not active and not candidate else 0.0
    return 1.0 if active[0]["class"] == candidate[0]["class"] else 0.0


def correlation(pairs: list[tuple[float, float]]) -> float | None:
    """Pearson correlation of (active, candidate) scores; None under 3 pairs or with a constant side."""
    if len(pairs) < 3:
        return None
    x = np.array([p[0] for p in pairs], np.float64)
    y = np.array([p[1] for p in pairs], np.float64)
    if float(x.std()) == 0.0 or float(y.std()) == 0.0:
        return None
    return float(np.corrcoef(x, y)[0, 1])


def _p(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)], 3)


@dataclass
class ShadowStats:
    """What one summary period saw."""

    active_version: str
    candidate_version: str
    started: str = field(default_factory=utc_now_iso)
    agreements: list[float] = field(default_factory=list)
    pairs: list[tuple[float, float]] = field(default_factory=list)
    active_ms: list[float] = field(default_factory=list)
    candidate_ms: list[float] = field(default_factory=list)
    errors: int = 0

    @property
    def samples(self) -> int:
        return len(self.candidate_ms) + self.errors

    def summary(self, model: str) -> dict[str, Any]:
        """The model-evaluation message body for this period."""
        return {
            "type": "model-evaluation",
            "model": model,
            "activeVersion": self.active_version,
            "candidateVersion": self.candidate_version,
            "windowStart": self.started,
            "windowEnd": utc_now_iso(),
            "samples": self.samples,
            "errors": self.errors,
            "agreement": round(statistics.fmean(self.agreements), 4) if self.agreements else None,
            "scoreCorrelation": None if (c := correlation(self.pairs)) is None else round(c, 4),
            "latencyMs": {
                "active": {"p50": _p(self.active_ms, 0.5), "p95": _p(self.active_ms, 0.95)},
                "candidate": {"p50": _p(self.candidate_ms, 0.5), "p95": _p(self.candidate_ms, 0.95)},
            },
        }


class Sampler:
    """Picks a share of the inputs, evenly (every 1/share-th), deterministic."""

    def __init__(self, share: float) -> None:
        self.share = share
        self._n = 0

    def take(self) -> bool:
        self._n += 1
        return math.floor(self._n * self.share) != math.floor((self._n - 1) * self.share)


def passes(summary: dict[str, Any], min_samples: int, min_agreement: float, max_latency_ratio: float) -> bool:
    """The documented promotion thresholds: enough samples, no candidate errors, agreement (or score
    correlation for sensor models) at least `min_agreement`, candidate p95 latency within the ratio."""
    if summary["samples"] < min_samples or summary["errors"]:
        return False
    quality = summary["agreement"] if summary["agreement"] is not None else summary["scoreCorrelation"]
    if quality is None or quality < min_agreement:
        return False
    lat = summary["latencyMs"]
    a, c = lat["active"]["p95"], lat["candidate"]["p95"]
    return a is None or c is None or c <= a * max_latency_ratio
