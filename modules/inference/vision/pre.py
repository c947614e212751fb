"""Vision pre-processing: JPEG decode (reduced-size where it pays), letterbox, and batched tensor assembly."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from ..errors import BadInput

MAX_JPEG_BYTES = 8 * 1024 * 1024
MAX_PIXELS = 40_000_000


@dataclass(frozen=True, slots=True)
class Letterbox:
    """How an original frame maps into the model input: input = original * scale + (pad_x, pad_y)."""

    width: int  # original frame size, pixels
    height: int
    scale: float
    pad_x: int
    pad_y: int
    scale_y: float | None = None  # a stretched (not letterboxed) resize scales y apart

    def to_original(self, boxes: np.ndarray) -> np.ndarray:
        """Map [n, 4] x1,y1,x2,y2 boxes from model-input pixels back to original-frame pixels (clipped)."""
        out = boxes.astype(np.float32).copy()
        sy = self.scale if self.scale_y is None else self.scale_y
        out[:, [0, 2]] = (out[:, [0, 2]] - self.pad_x) / self.scale
        out[:, [1, 3]] = (out[:, [1, 3]] - self.pad_y) / sy
        out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0, self.width)
        out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0, self.height)
        return out


def jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the JPEG SOF marker without decoding; raises BadInput when it is not a JPEG."""
    if len(data) < 4 or data[:2] != b"\xff\xd8":
        raise BadInput("corrupt_image", "not a JPEG (missing SOI marker)")
    i = 2
    n = len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            i += 1
            continue
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
            i += 1 if marker == 0xFF else 2
            continue
        seg = int.from_bytes(data[i + 2 : i + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if i + 9 > n:
                break
            h = int.from_bytes(data[i + 5 : i + 7], "big")
            w = int.from_bytes(data[i + 7 : i + 9], "big")
            return w, h
        i += 2 + seg
    raise BadInput("corrupt_image", "JPEG without a frame header")


def decode(data: bytes, target: int, reduced: bool = True) -> tuple[np.ndarray, int, int]:
    """Decode a JPEG to BGR uint8, at 1/2, 1/4 or 1/8 size when that still covers `target` (`reduced`)."""
    if not data:
        raise BadInput("empty_image", "empty image payload")
    if len(data) > MAX_JPEG_BYTES:
        raise BadInput("image_too_large", f"image payload {len(data)} bytes > {MAX_JPEG_BYTES}")
    w, h = jpeg_size(data)
    if w <= 0 or h <= 0:
        raise BadInput("empty_image", f"image has size {w}x{h}")
    if w * h > MAX_PIXELS:
        raise BadInput("image_too_large", f"image {w}x{h} exceeds {MAX_PIXELS} pixels")
    flag = cv2.IMREAD_COLOR
    for factor, smaller in (
        (8, cv2.IMREAD_REDUCED_COLOR_8),
        (4, cv2.IMREAD_REDUCED_COLOR_4),
        (2, cv2.IMREAD_REDUCED_COLOR_2),
    ):
        if reduced and max(w, h) // factor >= target:
            flag = smaller
            break
    buf = np.frombuffer(data, np.uint8)
    img = cv2.imdecode(buf, flag)
    if img is None or img.size == 0:
        raise BadInput("corrupt_image", "JPEG could not be decoded")
    return img, w, h


def letterbox(
    img: np.ndarray, orig_w: int, orig_h: int, size: int, pad_value: int, linear: bool = False
) -> tuple[np.ndarray, Letterbox]:
    """Resize keeping aspect ratio into a centred size x size canvas; map relative to the original.

    As Ultralytics' LetterBox: gain min(size/w, size/h), size round(w * gain), padding split in two with
    the odd pixel at the bottom/right; `linear` always interpolates bilinearly (as it does), else
    shrinking uses INTER_AREA.
    """
    ih, iw = img.shape[:2]
    s = min(size / iw, size / ih)
    nw, nh = max(1, round(iw * s)), max(1, round(ih * s))
    if (nw, nh) != (iw, ih):
        fast = cv2.INTER_LINEAR if linear or s >= 1 else cv2.INTER_AREA
        img = cv2.resize(img, (nw, nh), interpolation=fast)
    px, py = (size - nw) // 2, (size - nh) // 2
    canvas = np.full((size, size, 3), pad_value, np.uint8)
    canvas[py : py + nh, px : px + nw] = img
    # the gain relative to the original frame (the decode may already have reduced it)
    scale = min(size / orig_w, size / orig_h)
    return canvas, Letterbox(orig_w, orig_h, scale, px, py)


def stretch(
    img: np.ndarray, orig_w: int, orig_h: int, size: int, linear: bool = True
) -> tuple[np.ndarray, Letterbox]:
    """Resize to size x size without keeping the aspect ratio (classifiers, some SSDs)."""
    ih, iw = img.shape[:2]
    shrink = size < iw or size < ih
    interp = cv2.INTER_AREA if shrink and not linear else cv2.INTER_LINEAR
    canvas = cv2.resize(img, (size, size), interpolation=interp) if (iw, ih) != (size, size) else img
    return np.ascontiguousarray(canvas), Letterbox(orig_w, orig_h, size / orig_w, 0, 0, size / orig_h)


def to_batch(canvases: list[np.ndarray]) -> np.ndarray:
    """Stack HWC BGR uint8 canvases into one NCHW float32 tensor in [0, 1] (one vectorised pass)."""
    stacked = np.stack(canvases)  # N H W C uint8
    return np.ascontiguousarray(stacked.transpose(0, 3, 1, 2), dtype=np.float32) * np.float32(1.0 / 255.0)


def prepare(
    data: bytes,
    size: int,
    pad_value: int = 114,
    *,
    letterboxed: bool = True,
    linear: bool = False,
    reduced: bool = True,
    native: bool = False,
) -> tuple[np.ndarray, Letterbox]:
    """Decode and letterbox (or stretch) one JPEG into a size x size BGR canvas (`native`: as it is)."""
    img, w, h = decode(data, size, reduced and not native)
    if native:
        return img, Letterbox(w, h, 1.0, 0, 0)
    if letterboxed:
        return letterbox(img, w, h, size, pad_value, linear)
    return stretch(img, w, h, size, linear)


def to_tensor(
    canvases: list[np.ndarray],
    layout: str,
    dtype: np.dtype[Any],
    scale: float,
    mean: list[float] | None = None,
    std: list[float] | None = None,
) -> np.ndarray:
    """HWC uint8 canvases -> the model's input: NCHW / NHWC / CHW (one image), scaled and normalised."""
    if layout == "NCHW" and dtype == np.float32 and mean is None and std is None:
        x = (
            to_batch(canvases)
            if abs(scale - 1.0 / 255.0) < 1e-12
            else to_batch(canvases) * np.float32(scale * 255.0)
        )
        return x
    stacked = np.stack(canvases)
    out: np.ndarray
    if dtype == np.uint8:
        out = stacked
    else:
        f = stacked.astype(np.float32) * np.float32(scale)
        if mean is not None:
            f -= np.asarray(mean, np.float32)
        if std is not None:
            f /= np.asarray(std, np.float32)
        out = f.astype(dtype, copy=False)
    if layout == "NCHW":
        out = out.transpose(0, 3, 1, 2)
    elif layout == "CHW":
        out = out[0].transpose(2, 0, 1)
    return np.ascontiguousarray(out)
