"""Envelope factories for the router's tests."""

from __future__ import annotations

import uuid
from typing import Any


def envelope(kind: str, data: dict[str, Any], *, msg_id: str | None = None) -> dict[str, Any]:
    """A version-1 envelope."""
    return {
        "v": 1,
        "kind": kind,
        "id": msg_id or str(uuid.uuid4()),
        "ts": "2027-01-15T08:00:00.000Z",
        "source": {"module": "test", "version": "0"},
        "correlationId": None,
        "data": data,
    }


def anomaly(
    asset: str = "pump", severity: str = "warning", *, window: bool = True, **extra: Any
) -> dict[str, Any]:
    """An anomaly `open` event with a raw window."""
    data = {
        "eventId": str(uuid.uuid4()),
        "state": "open",
        "asset": asset,
        "anomalyKind": "vib",
        "severity": severity,
        "score": 2.0,
        "thresholds": {"raise": 1.0},
        "start": "2027-01-15T08:00:00.000Z",
        "end": None,
        "evidence": {"rule": "vib"},
        "model": {"name": "pca", "version": "3"},
        "sourceTimestamp": "2027-01-15T08:00:00.000Z",
        "window": {"timestamps": ["2027-01-15T08:00:00.000Z"], "fields": {"Vibration": [7.5]}}
        if window
        else None,
        **extra,
    }
    return envelope("anomaly", data)


def summary(asset: str = "pump", minute: int = 0, value: float = 1.0) -> dict[str, Any]:
    """A one-minute summary."""
    return envelope(
        "summary",
        {
            "asset": asset,
            "periodStart": f"2027-01-15T08:{minute:02d}:00.000Z",
            "periodEnd": f"2027-01-15T08:{minute + 1:02d}:00.000Z",
            "fields": {"Flow": {"min": value, "max": value, "mean": value, "count": 10}},
            "anomalies": 0,
        },
    )
