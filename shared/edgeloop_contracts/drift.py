"""`drift` (inference/drift -> upstream_router/drift): input features that left the training baseline."""

from __future__ import annotations

from .base import Contract
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
