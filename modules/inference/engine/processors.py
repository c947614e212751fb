"""Batch functions per model kind: pre-processing, one session run, post-processing; errors stay per item."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import BadInput
from ..models.metadata import ModelMetadata
from ..sensor.windows import Window
from ..vision.decoders import decode_all, make_decoder
from ..vision.pre import Letterbox, prepare, to_tensor
from .session import OrtRunner

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
    classes: list[dict[str, Any]] = field(default_factory=list)  # classifiers: the top classes


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


@dataclass(frozen=True, slots=True)
class PreparedFrame:
    """One decoded, letterboxed frame (HWC uint8 canvas in the model's colour order) and its mapping."""

    canvas: np.ndarray
    box: Letterbox


class FrameProcessor:
    """Frames: JPEG bytes -> `prepare` (decode + letterbox) -> one batched run -> the model family's
    decoder (boxes after NMS, or top classes). `__call__` takes prepared frames or raw bytes; raw bytes are
    prepared in the batch's own thread, several at once in `pool` when given (no hop through the event
    loop per request: the batch thread waits for its decodes, as the benchmark's ceiling does)."""

    def __init__(
        self,
        runner: OrtRunner,
        meta: ModelMetadata,
        confidence: float | None,
        observe: StageObserver = _noop,
        pool: Executor | None = None,
    ) -> None:
        assert meta.preprocess is not None and meta.postprocess is not None
        self.runner = runner
        self.meta = meta
        self.pre = meta.preprocess
        self.decode = make_decoder(meta, confidence)
        self.observe = observe
        self.input_name = meta.inputs[0].name
        self.input_dtype = np.dtype(meta.inputs[0].dtype)
        self.pool = pool

    def prepare(self, data: bytes) -> PreparedFrame:
        """Decode (reduced-size where the input is smaller) and letterbox; BadInput for unusable images.

        OpenCV releases the GIL here, so several requests are prepared in parallel with `session.run`.
        """
        t0 = time.perf_counter()
        pre = self.pre
        try:
            canvas, box = prepare(
                data,
                pre.size,
                pre.pad_value,
                letterboxed=pre.letterbox,
                linear=pre.interpolation == "linear",
                reduced=pre.reduced_decode,
                native=pre.native,
            )
        except BadInput:
            raise
        except Exception as exc:  # OpenCV can raise cv2.error on malformed streams
            raise BadInput("corrupt_image", f"decode failed: {str(exc)[:200]}") from exc
        if pre.color_order == "RGB":
            canvas = canvas[:, :, ::-1]
        self.observe("pre", time.perf_counter() - t0)
        return PreparedFrame(canvas, box)

    def _prepared(self, item: PreparedFrame | bytes) -> PreparedFrame | BadInput:
        if isinstance(item, PreparedFrame):
            return item
        try:
            return self.prepare(item)
        except BadInput as exc:
            return exc

    def __call__(self, items: list[PreparedFrame | bytes]) -> list[FrameResult | BaseException]:
        raw = sum(not isinstance(i, PreparedFrame) for i in items)
        if self.pool is not None and raw > 1:
            prepared = list(self.pool.map(self._prepared, items))
        else:
            prepared = [self._prepared(i) for i in items]
        out: list[FrameResult | BaseException] = [
            p if isinstance(p, BadInput) else BadInput("internal", "not processed") for p in prepared
        ]
        ready = [p for p in prepared if isinstance(p, PreparedFrame)]
        slots = [i for i, p in enumerate(prepared) if isinstance(p, PreparedFrame)]
        if not ready:
            return out
        t0 = time.perf_counter()
        pre = self.pre
        batch = to_tensor(
            [p.canvas for p in ready], pre.layout, self.input_dtype, pre.scale, pre.mean, pre.std
        )
        t1 = time.perf_counter()
        outs = self.runner.run({self.input_name: batch})
        t2 = time.perf_counter()
        boxes = [p.box for p in ready]
        for k, decoded in enumerate(decode_all(self.decode, outs, boxes)):
            box = boxes[k]
            out[slots[k]] = FrameResult(decoded.detections, box.width, box.height, decoded.classes)
        t3 = time.perf_counter()
        self.observe("pre", t1 - t0)
        self.observe("run", t2 - t1)
        self.observe("post", t3 - t2)
        return out
