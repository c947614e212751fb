"""Batch functions per model kind: pre-processing, one session run, post-processing; errors stay per item."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import BadInput
from .metadata import ModelMetadata
from .session import OrtRunner
from .vision_post import PostParams, detections
from .vision_pre import Letterbox, prepare, to_batch
from .windows import Window

StageObserver = Callable[[str, float], None]


def _noop(stage: str, seconds: float) -> None:
    return None


@dataclass(frozen=True, slots=True)
class WindowResult:
    score: float
    contributions: dict[str, float]


@dataclass(frozen=True, slots=True)
class FrameResult:
    detections: list[dict[str, Any]]
    width: int
    height: int


class WindowProcessor:
    """Scores windows: [N, length, width] + asset index -> score and per-field contributions."""

    def __init__(self, runner: OrtRunner, meta: ModelMetadata, observe: StageObserver = _noop) -> None:
        self.runner = runner
        self.meta = meta
        self.observe = observe
        self.fields = {name: spec.fields for name, spec in meta.assets.items()}

    def __call__(self, items: list[Window]) -> list[WindowResult | BaseException]:
        t0 = time.perf_counter()
        x = np.stack([w.values for w in items]).astype(np.float32, copy=False)
        idx = np.array([w.asset_index for w in items], np.int64)
        t1 = time.perf_counter()
        score, contrib = self.runner.run({"window": x, "asset": idx})
        t2 = time.perf_counter()
        out: list[WindowResult | BaseException] = []
        for i, w in enumerate(items):
            fields = self.fields[w.asset]
            out.append(
                WindowResult(
                    round(float(score[i]), 5),
                    {f: round(float(contrib[i, j]), 5) for j, f in enumerate(fields)},
                )
            )
        t3 = time.perf_counter()
        self.observe("pre", t1 - t0)
        self.observe("run", t2 - t1)
        self.observe("post", t3 - t2)
        return out


class FrameProcessor:
    """Detects defects: JPEG bytes -> decode + letterbox (per item) -> one batched run -> boxes after NMS."""

    def __init__(
        self, runner: OrtRunner, meta: ModelMetadata, confidence: float | None, observe: StageObserver = _noop
    ) -> None:
        assert meta.preprocess is not None and meta.postprocess is not None
        self.runner = runner
        self.meta = meta
        self.pre = meta.preprocess
        post = meta.postprocess
        self.post = PostParams(
            labels=tuple(meta.labels),
            stride=post.stride,
            pixel_threshold=post.pixel_threshold,
            min_cells=post.min_cells,
            confidence_threshold=post.confidence_threshold if confidence is None else confidence,
            nms_iou=post.nms_iou,
            shrink=post.shrink,
        )
        self.observe = observe
        self.input_name = meta.inputs[0].name

    def __call__(self, items: list[bytes]) -> list[FrameResult | BaseException]:
        t0 = time.perf_counter()
        canvases: list[np.ndarray] = []
        boxes: list[Letterbox] = []
        slots: list[int] = []
        out: list[FrameResult | BaseException] = []
        for i, data in enumerate(items):
            try:
                canvas, box = prepare(data, self.pre.size, self.pre.pad_value)
            except BadInput as exc:
                out.append(exc)
                continue
            except Exception as exc:  # OpenCV can raise cv2.error on malformed streams
                out.append(BadInput("corrupt_image", f"decode failed: {str(exc)[:200]}"))
                continue
            if self.pre.color_order == "RGB":
                canvas = canvas[:, :, ::-1]
            canvases.append(canvas)
            boxes.append(box)
            slots.append(i)
            out.append(BadInput("internal", "not processed"))
        if not canvases:
            self.observe("pre", time.perf_counter() - t0)
            return out
        batch = to_batch(canvases)
        t1 = time.perf_counter()
        (probs,) = self.runner.run({self.input_name: batch})
        t2 = time.perf_counter()
        for k, i in enumerate(slots):
            out[i] = FrameResult(detections(probs[k], boxes[k], self.post), boxes[k].width, boxes[k].height)
        t3 = time.perf_counter()
        self.observe("pre", t1 - t0)
        self.observe("run", t2 - t1)
        self.observe("post", t3 - t2)
        return out
