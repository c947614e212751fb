"""The `score` contract from inference, checked once so the engine can trust its fields."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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


def _num(d: dict[str, Any], k: str, *, required: bool = True) -> float | None:
    v = d.get(k)
    if v is None and not required:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ContractError(f"score field {k!r} must be a number, got {v!r}")
    return float(v)


def parse_score(envelope: object) -> Score:
    """Validate an enveloped `score` message; raises ContractError with the first problem."""
    if not isinstance(envelope, dict):
        raise ContractError("score message must be a JSON object")
    data = envelope.get("data", envelope)
    if not isinstance(data, dict):
        raise ContractError("score `data` must be an object")
    typ = data.get("type", "window")
    if typ not in ("window", "frame"):
        raise ContractError(f"score type must be 'window' or 'frame', got {typ!r}")
    asset = data.get("asset")
    if not isinstance(asset, str) or not asset:
        raise ContractError("score needs a non-empty string `asset`")
    model = data.get("model")
    if not isinstance(model, dict) or not isinstance(model.get("name"), str):
        raise ContractError("score needs `model` with a string `name`")
    score = _num(data, "score")
    assert score is not None
    quality = data.get("quality", "good")
    if quality not in ("good", "uncertain", "bad"):
        raise ContractError(f"score quality must be good/uncertain/bad, got {quality!r}")
    end_text = data.get("windowEnd") or data.get("captureTs") or data.get("sourceTimestamp")
    end = parse_ts(end_text)
    start = parse_ts(data["windowStart"]) if data.get("windowStart") else end
    contrib = data.get("contributions") or {}
    dets = data.get("detections") or []
    if not isinstance(contrib, dict) or not isinstance(dets, list):
        raise ContractError("`contributions` must be an object and `detections` a list")
    ids = data.get("sourceMessageIds") or []
    camera = {k: data[k] for k in ("cameraId", "seq", "captureTs") if k in data}
    return Score(
        msg_id=envelope.get("id") if isinstance(envelope.get("id"), str) else None,
        type=typ,
        asset=asset,
        model_name=model["name"],
        model_version=str(model.get("version", "")),
        score=score,
        threshold=_num(data, "threshold", required=False),
        quality=quality,
        start=start,
        end=end,
        source_ts=data.get("sourceTimestamp") if isinstance(data.get("sourceTimestamp"), str) else None,
        contributions={str(k): float(v) for k, v in contrib.items() if isinstance(v, int | float)},
        detections=[d for d in dets if isinstance(d, dict)],
        source_ids=[str(i) for i in ids] if isinstance(ids, list) else [],
        camera=camera,
    )
