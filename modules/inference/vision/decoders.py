"""Output decoders per model family: raw outputs of one image -> detections (or classes) in frame pixels.

YOLOv5 / YOLOv8 follow Ultralytics' `non_max_suppression`: candidates above the confidence threshold
(v5: objectness first, then conf = obj * class score; v8: conf = max class score), xywh centre -> xyxy,
the `maxNms` best by confidence, class-aware NMS (IoU strictly above the threshold suppresses), then the
`maxDetections` best. Models with NMS inside only need their boxes mapped; classifiers report the top k.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..models.metadata import ModelMetadata
from .post import PostParams, detections, detections_batch, iou_matrix, nms
from .pre import Letterbox

MAX_NMS = 30_000  # Ultralytics: boxes into NMS at most
_ONE_MATRIX = 1024  # up to this many candidates one offset IoU matrix; above, one per class


@dataclass(frozen=True, slots=True)
class Decoded:
    """One image's result: detections (frame pixels) and, for classifiers, the top classes."""

    detections: list[dict[str, Any]]
    classes: list[dict[str, Any]]


Decoder = Callable[[list[np.ndarray], int, Letterbox], Decoded]


def xywh_to_xyxy(xywh: np.ndarray) -> np.ndarray:
    """[n, 4] centre x, centre y, width, height -> x1, y1, x2, y2."""
    half = xywh[:, 2:4] / 2
    return np.concatenate([xywh[:, :2] - half, xywh[:, :2] + half], axis=1)


def batched_nms(
    boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou: float, agnostic: bool = False
) -> np.ndarray:
    """Indices kept by NMS within each class (across classes when `agnostic`), highest score first."""
    if len(boxes) == 0 or agnostic:
        return nms(boxes, scores, iou)
    if len(boxes) <= _ONE_MATRIX:  # one matrix: classes moved apart so boxes of two classes never overlap
        span = float(boxes.max() - boxes.min()) + 1.0
        return nms(boxes + (classes.astype(np.float64) * span)[:, None], scores, iou)
    kept = [
        idx[nms(boxes[idx], scores[idx], iou)]
        for c in np.unique(classes)
        for idx in [np.flatnonzero(classes == c)]
    ]
    merged = np.sort(np.concatenate(kept))  # equal scores keep the input order, as in one pass
    return merged[np.argsort(-scores[merged], kind="stable")]


def _select(
    boxes: np.ndarray, conf: np.ndarray, cls: np.ndarray, iou: float, max_det: int, agnostic: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    order = np.argsort(-conf, kind="stable")[:MAX_NMS]
    boxes, conf, cls = boxes[order], conf[order], cls[order]
    keep = batched_nms(boxes, conf, cls, iou, agnostic)[:max_det]
    return boxes[keep], conf[keep], cls[keep]


def decode_yolov8(
    pred: np.ndarray, thr: float, iou: float, max_det: int = 300, agnostic: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One image's [4+classes, boxes] -> boxes (input pixels), confidences, class ids."""
    scores = pred[4:]
    conf_all = scores.max(axis=0)
    cand = np.flatnonzero(conf_all > thr)
    cls = scores[:, cand].argmax(axis=0)
    boxes = xywh_to_xyxy(pred[:4, cand].T.astype(np.float32))
    return _select(boxes, conf_all[cand], cls, iou, max_det, agnostic)


def decode_yolov5(
    pred: np.ndarray, thr: float, iou: float, max_det: int = 300, agnostic: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One image's [boxes, 5+classes] -> boxes (input pixels), confidences (obj * cls), class ids."""
    x = pred[pred[:, 4] > thr]
    scores = x[:, 5:] * x[:, 4:5]
    cls = scores.argmax(axis=1)
    conf = scores[np.arange(len(x)), cls]
    ok = conf > thr
    boxes = xywh_to_xyxy(x[ok, :4].astype(np.float32))
    return _select(boxes, conf[ok], cls[ok], iou, max_det, agnostic)


def _label(labels: tuple[str, ...], index: int) -> str:
    return labels[index] if 0 <= index < len(labels) else str(index)


def _as_detections(
    boxes: np.ndarray, conf: np.ndarray, cls: np.ndarray, box: Letterbox, labels: tuple[str, ...]
) -> list[dict[str, Any]]:
    orig = box.to_original(boxes) if len(boxes) else boxes
    return [
        {
            "class": _label(labels, int(c)),
            "classId": int(c),
            "confidence": round(float(s), 4),
            "bbox": [round(float(v), 1) for v in b],
        }
        for b, s, c in zip(orig, conf, cls, strict=True)
    ]


class _Yolo:
    def __init__(self, family: str, meta: ModelMetadata, thr: float) -> None:
        assert meta.postprocess is not None
        self.post = meta.postprocess
        self.thr = thr
        self.labels = tuple(meta.labels)
        self.fn = decode_yolov8 if family == "yolov8" else decode_yolov5

    def __call__(self, outs: list[np.ndarray], k: int, box: Letterbox) -> Decoded:
        p = self.post
        b, s, c = self.fn(outs[0][k], self.thr, p.nms_iou, p.max_detections, p.agnostic)
        return Decoded(_as_detections(b, s, c, box, self.labels), [])


class _NmsInside:
    """boxes / scores / classes [/ count] outputs (TF OD API, torchvision, ONNX zoo), or one [N, K, 6+]."""

    def __init__(self, meta: ModelMetadata, thr: float) -> None:
        assert meta.postprocess is not None and meta.preprocess is not None
        self.post = meta.postprocess
        self.thr = thr
        self.labels = tuple(meta.labels)
        self.size = meta.preprocess.size
        names = [o.name for o in meta.outputs]
        self.batched = [o.batched for o in meta.outputs]
        self.index = {role: names.index(name) for role, name in self.post.outputs.items()}

    def _part(self, outs: list[np.ndarray], role: str, k: int) -> np.ndarray | None:
        i = self.index.get(role)
        if i is None:
            return None
        return outs[i][k] if self.batched[i] else outs[i]

    def __call__(self, outs: list[np.ndarray], k: int, box: Letterbox) -> Decoded:
        p = self.post
        rows = self._part(outs, "detections", k)
        if rows is not None:  # [K, 6+]: x1, y1, x2, y2, score, class
            boxes, scores, cls = rows[:, :4], rows[:, 4], rows[:, 5]
        else:
            boxes_, scores_, cls_ = (self._part(outs, r, k) for r in ("boxes", "scores", "classes"))
            assert boxes_ is not None and scores_ is not None and cls_ is not None
            boxes, scores, cls = boxes_.reshape(-1, 4), scores_.reshape(-1), cls_.reshape(-1)
        count = self._part(outs, "count", k)
        if count is not None:
            n = int(np.asarray(count).reshape(-1)[0])
            boxes, scores, cls = boxes[:n], scores[:n], cls[:n]
        boxes = boxes.astype(np.float32)
        if p.box_format == "yxyx":
            boxes = boxes[:, [1, 0, 3, 2]]
        if p.normalized:
            boxes = boxes * np.float32(self.size)
        ok = scores > self.thr
        ids = np.rint(cls[ok]).astype(np.int64) - p.class_offset
        order = np.argsort(-scores[ok], kind="stable")[: p.max_detections]
        return Decoded(_as_detections(boxes[ok][order], scores[ok][order], ids[order], box, self.labels), [])


def softmax_if_needed(x: np.ndarray) -> np.ndarray:
    """Scores as probabilities: unchanged when they already are (in [0, 1], summing to 1), else softmax."""
    x = x.astype(np.float64)
    if x.min() >= 0 and x.max() <= 1 and abs(float(x.sum()) - 1.0) < 1e-3:
        return x
    e = np.exp(x - x.max())
    return np.asarray(e / e.sum())


class _Classifier:
    def __init__(self, meta: ModelMetadata, thr: float) -> None:
        assert meta.postprocess is not None
        self.top_k = meta.postprocess.top_k
        self.labels = tuple(meta.labels)
        self.thr = thr

    def __call__(self, outs: list[np.ndarray], k: int, box: Letterbox) -> Decoded:
        probs = softmax_if_needed(outs[0][k].reshape(-1))
        order = np.argsort(-probs, kind="stable")[: self.top_k]
        return Decoded(
            [],
            [
                {
                    "class": _label(self.labels, int(i)),
                    "classId": int(i),
                    "confidence": round(float(probs[i]), 4),
                }
                for i in order
            ],
        )


class _Cells:
    def __init__(self, meta: ModelMetadata, thr: float) -> None:
        post = meta.postprocess
        assert post is not None
        self.params = PostParams(
            labels=tuple(meta.labels),
            stride=post.stride,
            pixel_threshold=post.pixel_threshold,
            min_cells=post.min_cells,
            confidence_threshold=thr,
            nms_iou=post.nms_iou,
            shrink=post.shrink,
        )

    def __call__(self, outs: list[np.ndarray], k: int, box: Letterbox) -> Decoded:
        return Decoded(detections(outs[0][k], box, self.params), [])

    def batch(self, outs: list[np.ndarray], boxes: list[Letterbox]) -> list[Decoded]:
        """Every image of the batch at once (one labelling pass for all the cell maps)."""
        return [Decoded(d, []) for d in detections_batch(outs[0][: len(boxes)], boxes, self.params)]


def decode_all(decode: Decoder, outs: list[np.ndarray], boxes: list[Letterbox]) -> list[Decoded]:
    """The first len(boxes) images of a batch's outputs (a padded batch has more), by the decoder's own
    batch method where it has one, else image by image."""
    batch = getattr(decode, "batch", None)
    if batch is not None:
        decoded: list[Decoded] = batch(outs, boxes)
        return decoded
    return [decode(outs, k, box) for k, box in enumerate(boxes)]


def make_decoder(meta: ModelMetadata, confidence: float | None) -> Decoder:
    """The decoder of the metadata's `postprocess.type`; `confidence` (CONFIDENCE_THRESHOLD) wins when set."""
    post = meta.postprocess
    assert post is not None
    thr = post.confidence_threshold if confidence is None else confidence
    if post.type in ("yolov5", "yolov8"):
        return _Yolo(post.type, meta, thr)
    if post.type == "nms":
        return _NmsInside(meta, thr)
    if post.type == "classification":
        return _Classifier(meta, thr)
    return _Cells(meta, thr)


__all__ = ["Decoded", "Decoder", "batched_nms", "decode_all", "iou_matrix", "make_decoder"]
