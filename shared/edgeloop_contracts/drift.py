"""`drift` (inference/drift -> upstream_router/drift): input features that left the training baseline."""

from __future__ import annotations

from .base import Contract, require_finite
from .score import ModelRef


class Drift(Contract, kw_only=True):
    """One asset's drift check that found drifted features: a value and its limit per feature."""

    KIND = "drift"

    model: ModelRef
    asset: str
    features: dict[str, float]
    metrics: dict[str, str]  # per feature: "psi" or "meanShift"
    threshold: float
    thresholds: dict[str, float]
    drifted: list[str]
    window_size: int
    at: str

    def __post_init__(self) -> None:
        require_finite(self.KIND, "features", *self.features.values())
        require_finite(self.KIND, "thresholds", self.threshold, *self.thresholds.values())
