"""`prediction` (inference's REST answers, also sent on PREDICTIONS_OUTPUT when set)."""

from __future__ import annotations

from typing import Literal

from msgspec import UNSET, UnsetType

from .base import Contract
from .score import ClassScore, Detection, ModelRef


class Prediction(Contract, kw_only=True):
    """One `POST /predict` result: what the caller got back, with the model and image size."""

    KIND = "prediction"

    type: Literal["prediction"] = "prediction"
    source: str = "rest"
    model: ModelRef
    width: int
    height: int
    at: str
    detections: list[Detection]
    total: int
    classes: list[ClassScore] | UnsetType = UNSET
