"""Message factories for the filter's tests: PubSub telemetry and score envelopes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

T0 = 1_800_000_000.0


def iso(ts: float) -> str:
    """Epoch seconds to ISO 8601 with a Z."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def telemetry(asset: str, ts: float, values: dict[str, float | None], *, bad: bool = False) -> dict[str, Any]:
    """A PubSub network message with one dataset message for `asset`."""
    payload: dict[str, Any] = {}
    for k, v in values.items():
        entry: dict[str, Any] = {"Value": v, "SourceTimestamp": iso(ts), "ServerTimestamp": iso(ts)}
        if bad:
            entry["StatusCode"] = {"Code": 0x80310000, "Symbol": "BadNoCommunication"}
        payload[k] = entry
    return {
        "MessageId": str(uuid.uuid4()),
        "MessageType": "ua-data",
        "PublisherId": "test",
        "Messages": [
            {
                "DataSetWriterId": asset,
                "DataSetWriterGroup": "plant",
                "SequenceNumber": 1,
                "MessageType": "ua-deltaframe",
                "Timestamp": iso(ts),
                "Payload": payload,
            }
        ],
    }


def score(
    asset: str,
    end: float,
    value: float,
    *,
    threshold: float = 1.0,
    quality: str = "good",
    model: str = "pca",
    length: float = 10.0,
    **extra: Any,
) -> dict[str, Any]:
    """An enveloped `score` message for a window ending at `end`."""
    data = {
        "type": "window",
        "asset": asset,
        "model": {"name": model, "version": "1"},
        "score": value,
        "threshold": threshold,
        "contributions": {"Vibration": 0.7 * value, "BearingTemp": 0.2 * value},
        "quality": quality,
        "windowStart": iso(end - length),
        "windowEnd": iso(end),
        "sourceTimestamp": iso(end),
        "sourceMessageIds": ["m1"],
        **extra,
    }
    return {
        "v": 1,
        "kind": "score",
        "id": str(uuid.uuid4()),
        "ts": iso(end),
        "source": {"module": "inference", "version": "0.1.0"},
        "correlationId": None,
        "data": data,
    }
