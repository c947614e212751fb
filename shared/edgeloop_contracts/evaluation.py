"""`model-evaluation` (inference/evaluation): a shadow candidate compared with the active version."""

from __future__ import annotations

from typing import Literal

import msgspec

from .base import Contract, require_finite


class Percentiles(msgspec.Struct):
    """Latency percentiles in milliseconds (None without samples)."""

    p50: float | None
    p95: float | None


class Latency(msgspec.Struct):
    """Active and candidate latencies over the period."""

    active: Percentiles
    candidate: Percentiles


class ModelEvaluation(Contract, kw_only=True):
    """One period of shadow evaluation of a candidate version against the active one."""

    KIND = "model-evaluation"

    type: Literal["model-evaluation"] = "model-evaluation"
    model: str
    active_version: str | None
    candidate_version: str | None
    window_start: str
    window_end: str
    samples: int
    errors: int
    agreement: float | None
    score_correlation: float | None
    latency_ms: Latency

    def __post_init__(self) -> None:
        require_finite(self.KIND, "agreement", self.agreement)
        require_finite(self.KIND, "scoreCorrelation", self.score_correlation)
