"""Settings of camera_ingest: the source, the rate, JPEG quality and the camera id."""

from __future__ import annotations

from pydantic import Field

from edgeloop_runtime import ModuleSettings


class Settings(ModuleSettings):
    """SOURCE: rtsp://..., a video file, a folder of images, or a USB device number."""

    source: str = ""
    camera_id: str = "camera-1"
    fps: float = Field(default=2.0, gt=0, le=120)
    jpeg_quality: int = Field(default=85, ge=10, le=100)
    max_bytes: int = Field(default=240_000, ge=10_000, le=256_000)
    loop: bool = True  # folder and file sources start again at the end
    reopen_max_seconds: float = Field(default=30.0, gt=0)
