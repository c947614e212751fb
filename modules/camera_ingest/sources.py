"""Frame sources: a folder of images (sorted), a video file (played at the configured rate), or a live
stream (RTSP / HTTP / USB) grabbed continuously so that each read returns the newest frame."""

from __future__ import annotations

import threading
import time
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


def _redacted(spec: str) -> str:
    """A stream URL without its credentials (rtsp://user:password@host/...)."""
    if "://" in spec and "@" in spec.split("://", 1)[1].split("/", 1)[0]:
        scheme, rest = spec.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return spec


class LiveSource:
    """A live stream: a thread grabs every frame as it arrives (so nothing queues up in the decoder's
    buffer) and decodes only the one a read asks for, the newest; `age_s` is how long ago it was grabbed.

    Without this, reading at 2 fps from a 25 fps stream returns frames ever further behind the stream.
    """

    def __init__(self, spec: str, read_timeout_s: float = 5.0) -> None:
        target: int | str = int(spec) if spec.isdigit() else spec
        self.name = _redacted(spec)
        timeouts = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, 5000, cv2.CAP_PROP_READ_TIMEOUT_MSEC, 5000]
        self.cap = cv2.VideoCapture(target, cv2.CAP_ANY, timeouts)
        if not self.cap.isOpened():
            raise SourceLost(f"cannot open {self.name}")
        self.cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        self.read_timeout_s = read_timeout_s
        self._lock = threading.Condition()
        self._want = False
        self._frame: np.ndarray | None = None
        self._grabbed_at = 0.0
        self._error: str | None = None
        self._stop = False
        self.age_s = 0.0
        self.grabbed = 0
        self._thread = threading.Thread(target=self._grab_loop, name="grab", daemon=True)
        self._thread.start()

    def _grab_loop(self) -> None:
        while not self._stop:
            if not self.cap.grab():
                with self._lock:
                    self._error = f"{self.name}: stream lost"
                    self._lock.notify_all()
                return
            grabbed_at = time.monotonic()
            self.grabbed += 1
            with self._lock:
                want = self._want
            if want:
                ok, frame = self.cap.retrieve()
                with self._lock:
                    if ok and frame is not None:
                        self._frame, self._grabbed_at, self._want = np.asarray(frame), grabbed_at, False
                    self._lock.notify_all()

    def read(self) -> np.ndarray:
        """The next frame grabbed after this call (the newest); SourceLost when the stream stopped."""
        with self._lock:
            self._want = True
            self._frame = None
            done = self._lock.wait_for(
                lambda: self._frame is not None or self._error is not None, self.read_timeout_s
            )
            if self._error is not None:
                raise SourceLost(self._error)
            if not done or self._frame is None:
                self._want = False
                raise SourceLost(f"{self.name}: no frame within {self.read_timeout_s} s")
            self.age_s = time.monotonic() - self._grabbed_at
            return self._frame

    def close(self) -> None:
        self._stop = True
        self._thread.join(timeout=self.read_timeout_s)
        if not self._thread.is_alive():  # never release under a grab still running in the thread
            self.cap.release()


def is_live(spec: str) -> bool:
    """Streams and devices (not files): read the newest frame, never the next buffered one."""
    return spec.isdigit() or spec.startswith(("rtsp:", "rtsps:", "http:", "https:", "udp:", "rtmp:"))


def open_source(spec: str, loop: bool) -> FrameSource:
    """A source for the SOURCE setting; SourceLost when it cannot be opened."""
    if not spec:
        raise SourceLost("no SOURCE configured")
    path = Path(spec)
    if path.is_dir():
        return FolderSource(path, loop)
    if is_live(spec):
        return LiveSource(spec)
    return CaptureSource(spec, loop)
