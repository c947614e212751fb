"""Camera frames: JPEG bytes as they are, described by application properties (provisional, no model)."""

from __future__ import annotations

NAME = "jpeg-frame"
CONTENT_TYPE = "image/jpeg"
# Application properties camera_ingest sets on every frame (camera_ingest/app.py), all strings.
PROPERTIES = ("cameraId", "seq", "captureTs", "width", "height", "ageMs")
SUMMARY = (
    "JPEG bytes, not enveloped; string application properties cameraId, seq, captureTs (ISO 8601 UTC), "
    "width, height (pixels sent), ageMs (grab to send)"
)
