"""`score` (inference/scores -> anomaly_filter/scores): a sensor window's or a camera frame's score."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, UnsetType

from .base import Contract, require_finite

# inference's score envelope ids (a window, or a frame of a camera).
SCORE_NS = uuid.UUID("6f1c7a52-3c1e-4b8e-9a55-0e1d2f3a4b5c")

Quality = Literal["good", "uncertain", "bad"]
NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]


class ModelRef(msgspec.Struct):
    """Which model (and version) produced a result."""

    name: str
    version: str = ""


class Detection(msgspec.Struct, kw_only=True, rename="camel"):
    """One detected object: class label, confidence and box in pixels of the original frame."""

    class_: str = msgspec.field(name="class")
    class_id: int | UnsetType = UNSET
    confidence: float
    bbox: list[float] | UnsetType = UNSET


class ClassScore(msgspec.Struct, kw_only=True, rename="camel"):
    """One of a classifier's top classes."""

    class_: str = msgspec.field(name="class")
    class_id: int | UnsetType = UNSET
    confidence: float


class Score(Contract, kw_only=True):
    """A window score (`type` window) or a frame score (`type` frame, with camera fields and detections).

    A receiver takes what the older senders left out: `type` window, `quality` good, no threshold."""

    KIND = "score"

    type: Literal["window", "frame"] = "window"
    asset: NonEmpty
    model: ModelRef
    score: float
    threshold: float | None = None
    contributions: dict[str, float] = msgspec.field(default_factory=dict)
    quality: Quality = "good"
    window_start: str | UnsetType | None = UNSET
    window_end: str | UnsetType | None = UNSET
    source_timestamp: str | UnsetType | None = UNSET
    source_message_ids: list[str] = msgspec.field(default_factory=list)
    # frames only
    camera_id: str | UnsetType = UNSET
    seq: int | UnsetType | None = UNSET
    capture_ts: str | UnsetType = UNSET
    detections: list[Detection] | UnsetType = UNSET
    classes: list[ClassScore] | UnsetType = UNSET

    def __post_init__(self) -> None:
        require_finite(self.KIND, "score", self.score)
        require_finite(self.KIND, "threshold", self.threshold)


def window_score_id(asset: str, window_start: str, window_end: str, message_ids: Sequence[str]) -> str:
    """A window's score id: asset, window and the last message in it, so a redelivery keeps the id."""
    last = message_ids[-1] if message_ids else ""
    return str(uuid.uuid5(SCORE_NS, f"{asset}|{window_start}|{window_end}|{last}"))


def frame_score_id(camera: str, seq: str | None, message_id: str | None) -> str:
    """A frame's score id: camera, frame sequence number and the frame message's id."""
    return str(uuid.uuid5(SCORE_NS, f"frame|{camera}|{seq}|{message_id}"))
