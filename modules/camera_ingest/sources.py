"""Frame sources: a folder of images (sorted), or anything OpenCV's VideoCapture opens (RTSP, file, USB)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}


class SourceLost(ConnectionError):
    """The source stopped delivering frames (stream dropped, device gone, end of a non-looping file)."""


class FrameSource(Protocol):
    def read(self) -> np.ndarray: ...
    def close(self) -> None: ...


class FolderSource:
    """Images of a folder in name order, looping when asked."""

    def __init__(self, folder: Path, loop: bool) -> None:
        self.files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.files:
            raise SourceLost(f"no images in {folder}")
        self.loop = loop
        self.index = 0

    def read(self) -> np.ndarray:
        if self.index >= len(self.files):
            if not self.loop:
                raise SourceLost("end of folder")
            self.index = 0
        path = self.files[self.index]
        self.index += 1
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise SourceLost(f"unreadable image {path.name}")
        return img

    def close(self) -> None:
        return None


class CaptureSource:
    """cv2.VideoCapture over an RTSP URL, a video file or a USB device index."""

    def __init__(self, spec: str, loop: bool) -> None:
        target: int | str = int(spec) if spec.isdigit() else spec
        self.cap = cv2.VideoCapture(target)
        self.loop = loop and not spec.isdigit() and not spec.startswith(("rtsp:", "http:", "https:"))
        if not self.cap.isOpened():
            raise SourceLost(f"cannot open {spec if not spec.startswith('rtsp:') else 'rtsp stream'}")

    def read(self) -> np.ndarray:
        ok, frame = self.cap.read()
        if not ok and self.loop:
            self.cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self.cap.read()
        if not ok or frame is None:
            raise SourceLost("no frame from the capture")
        return np.asarray(frame)

    def close(self) -> None:
        self.cap.release()


def open_source(spec: str, loop: bool) -> FrameSource:
    """A source for the SOURCE setting; SourceLost when it cannot be opened."""
    if not spec:
        raise SourceLost("no SOURCE configured")
    path = Path(spec)
    if path.is_dir():
        return FolderSource(path, loop)
    return CaptureSource(spec, loop)
