"""The `score` contract from inference (edgeloop_contracts.score), checked once so the engine can trust it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec

from edgeloop_contracts.score import Score as ScoreBody
from edgeloop_runtime.errors import ContractError

from .telemetry import parse_ts


@dataclass(frozen=True)
class Score:
    """A validated score message."""

    msg_id: str | None
    type: str
    asset: str
    model_name: str
    model_version: str
    score: float
    threshold: float | None
    quality: str
    start: float
    end: float
    source_ts: str | None
    contributions: dict[str, float] = field(default_factory=dict)
    detections: list[dict[str, Any]] = field(default_factory=list)
    source_ids: list[str] = field(default_factory=list)
    camera: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str, float]:
        """What makes two score messages the same window (for deduplication)."""
        return (self.asset, self.model_name, self.type, self.end)


def parse_score(envelope: object) -> Score:
    """Validate an enveloped `score` message (or its bare data); raises ContractError naming the field."""
    if not isinstance(envelope, dict):
        raise ContractError("score message must be a JSON object")
    sc = ScoreBody.from_data(envelope.get("data", envelope))
    end_text = _given(sc.window_end) or _given(sc.capture_ts) or _given(sc.source_timestamp)
    end = parse_ts(end_text)
    start_text = _given(sc.window_start)
    detections = sc.detections if sc.detections is not msgspec.UNSET else []
    msg_id = envelope.get("id")
    return Score(
        msg_id=msg_id if isinstance(msg_id, str) else None,
        type=sc.type,
        asset=sc.asset,
        model_name=sc.model.name,
        model_version=sc.model.version,
        score=sc.score,
        threshold=sc.threshold,
        quality=sc.quality,
        start=parse_ts(start_text) if start_text else end,
        end=end,
        source_ts=_given(sc.source_timestamp),
        contributions=dict(sc.contributions),
        detections=[msgspec.to_builtins(d) for d in detections],
        source_ids=list(sc.source_message_ids),
        camera={
            k: v
            for k, v in (("cameraId", sc.camera_id), ("seq", sc.seq), ("captureTs", sc.capture_ts))
            if v is not msgspec.UNSET
        },
    )


def _given(value: str | msgspec.UnsetType | None) -> str | None:
    """A field's text, None when it is null, empty or absent."""
    return value if isinstance(value, str) and value else None
