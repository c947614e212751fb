"""JPEG encoding under a size budget: lower the quality, then the scale, until the frame fits."""

from __future__ import annotations

import cv2
import numpy as np


class FrameTooLarge(ValueError):
    """Even the smallest quality and scale do not fit the budget."""


def encode_within(img: np.ndarray, quality: int, max_bytes: int) -> tuple[bytes, int, float]:
    """JPEG bytes under `max_bytes`, with the quality and scale used."""
    if img is None or img.size == 0:
        raise FrameTooLarge("empty frame")
    scale = 1.0
    frame = img
    while True:
        q = quality
        while q >= 30:
            ok, enc = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, q])
            if ok and len(enc) <= max_bytes:
                return enc.tobytes(), q, scale
            q -= 15
        scale *= 0.7
        if min(img.shape[0], img.shape[1]) * scale < 16:
            raise FrameTooLarge(f"frame {img.shape[1]}x{img.shape[0]} cannot fit {max_bytes} bytes")
        frame = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
