"""The retraining dataset's layout in Blob Storage: paths per asset/date/model version, and metadata."""

from __future__ import annotations

import json
import re
from typing import Any

LABEL_PLACEHOLDER = "unlabelled"
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _seg(text: object, default: str = "unknown") -> str:
    s = _SAFE.sub("-", str(text or "")).strip("-.")
    return s[:100] or default


def blob_path(data: dict[str, Any], ext: str) -> str:
    """`<asset>/<yyyy-mm-dd>/<model>-<version>/<eventId>-<state>.<ext>` for an anomaly event's evidence."""
    model = data.get("model") or {}
    date = str(data.get("start") or data.get("sourceTimestamp") or "")[:10]
    return (
        f"{_seg(data.get('asset'))}/{_seg(date, 'undated')}/"
        f"{_seg(model.get('name'))}-{_seg(model.get('version'), '0')}/"
        f"{_seg(data.get('eventId'))}-{_seg(data.get('state'))}.{ext}"
    )


def metadata(data: dict[str, Any]) -> dict[str, str]:
    """Blob metadata (ASCII, identifier keys): what a data scientist filters on, plus the label slot."""
    model = data.get("model") or {}
    raw = {
        "asset": data.get("asset"),
        "model": model.get("name"),
        "modelVersion": model.get("version"),
        "anomalyKind": data.get("anomalyKind"),
        "severity": data.get("severity"),
        "eventId": data.get("eventId"),
        "state": data.get("state"),
        "start": data.get("start"),
        "label": LABEL_PLACEHOLDER,
    }
    return {k: str(v).encode("ascii", "replace").decode()[:256] for k, v in raw.items() if v is not None}


def window_document(data: dict[str, Any]) -> bytes:
    """The JSON blob for an anomaly's raw window: the event (without the window), the window, a label slot."""
    event = {k: v for k, v in data.items() if k != "window"}
    doc = {"event": event, "window": data.get("window"), "label": None}
    return json.dumps(doc, separators=(",", ":")).encode()
