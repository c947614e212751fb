"""A short ring buffer of recent JPEG frames per camera, for vision evidence."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class Frame:
    """One JPEG frame as camera_ingest sent it."""

    camera: str
    seq: int | None
    capture_ts: str | None
    jpeg: bytes


class FrameBuffer:
    """The last `per_camera` frames of each camera, at most `max_cameras` cameras."""

    def __init__(self, per_camera: int = 30, max_cameras: int = 32) -> None:
        self.per_camera = per_camera
        self.max_cameras = max_cameras
        self._frames: dict[str, deque[Frame]] = {}

    def add(self, frame: Frame) -> bool:
        """Keep a frame; False when it belongs to a camera beyond the limit."""
        q = self._frames.get(frame.camera)
        if q is None:
            if len(self._frames) >= self.max_cameras:
                return False
            q = self._frames[frame.camera] = deque(maxlen=self.per_camera)
        q.append(frame)
        return True

    def find(self, camera: str, seq: object = None, capture_ts: object = None) -> Frame | None:
        """The frame with this seq (or capture time); else the newest frame of the camera."""
        q = self._frames.get(camera)
        if not q:
            return None
        for f in reversed(q):
            if (seq is not None and f.seq == seq) or (capture_ts is not None and f.capture_ts == capture_ts):
                return f
        return q[-1]

    def __len__(self) -> int:
        return sum(len(q) for q in self._frames.values())
