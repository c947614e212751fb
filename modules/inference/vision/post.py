"""Vision post-processing: per-class probability maps to boxes (connected components), then NMS."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import cv2
import numpy as np

from .pre import Letterbox


@dataclass(frozen=True, slots=True)
class PostParams:
    """Post-processing parameters from the model metadata (and the confidence threshold from config)."""

    labels: tuple[str, ...]  # class names, index 0 of the map is background
    stride: int  # model-input pixels per map cell
    pixel_threshold: float
    min_cells: int
    confidence_threshold: float
    nms_iou: float
    shrink: float = 0.0  # cells trimmed from each side of a component's extent (cells are coarser than edges)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of [n, 4] and [m, 4] x1,y1,x2,y2 boxes."""
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression, highest score first (class-agnostic)."""
    order = np.argsort(-scores, kind="stable")
    if len(order) == 0:
        return order
    ious = iou_matrix(boxes[order], boxes[order])
    keep: list[int] = []
    suppressed = np.zeros(len(order), bool)
    for i in range(len(order)):
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= ious[i] > iou
    return order[np.array(keep, dtype=np.int64)]


def components(probs: np.ndarray, p: PostParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One [C, H, W] probability map to boxes (model-input pixels), confidences, classes (1-based): per
    class, the cells that win and pass the pixel threshold, grown by one cell to bridge gaps (crack
    fragments), labelled 8-connected; a component's box spans its own cells, its confidence is their
    mean; ordered by class, then by the component's first cell in raster order."""
    return components_batch(probs[None], p)[0]


_GAP = 1  # an empty row between stacked maps, emptied again after the dilation: no map touches another


def components_batch(probs: np.ndarray, p: PostParams) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """`components` of every image of a [B, C, H, W] batch with one dilation and one labelling (no loop
    per class or image): the per-class masks are stacked, image by image and class by class, an empty row
    apart that is emptied again after the dilation, so each map is grown and labelled as if alone."""
    b, c, h, w = probs.shape
    if c < 2:
        return [(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))] * b
    tiles = b * (c - 1)
    winner = probs.argmax(axis=1)[:, None]
    cls = np.arange(1, c).reshape(1, c - 1, 1, 1)
    mask = np.zeros((tiles, h + _GAP, w), np.uint8)
    mask[:, :h] = ((winner == cls) & (probs[:, 1:] > p.pixel_threshold)).reshape(tiles, h, w)
    flat = mask.reshape(tiles * (h + _GAP), w)
    grown = cv2.dilate(flat, np.ones((3, 3), np.uint8))  # bridge one-cell gaps (crack fragments)
    grown.reshape(tiles, h + _GAP, w)[:, h:] = 0
    n, labels = cv2.connectedComponents(grown, connectivity=8)
    ys, xs = np.nonzero(flat)
    lab = np.asarray(labels)[ys, xs].astype(np.intp)
    tile = ys // (h + _GAP)
    ys = ys - tile * (h + _GAP)
    values = probs[:, 1:].reshape(tiles, h, w)[tile, ys, xs]
    count = np.bincount(lab, minlength=n)
    conf = np.bincount(lab, weights=values, minlength=n) / np.maximum(count, 1)
    x1 = np.full(n, 1 << 30)
    y1 = np.full(n, 1 << 30)
    x2 = np.full(n, -1)
    y2 = np.full(n, -1)
    t = np.zeros(n, np.intp)
    first = np.zeros(n, np.intp)
    if len(lab):  # per label: sorted by label (stable), each group's extent in one reduceat
        order = np.argsort(lab, kind="stable")
        lab_s = lab[order]
        starts = np.flatnonzero(np.r_[True, lab_s[1:] != lab_s[:-1]])
        ids = lab_s[starts]
        x1[ids] = np.minimum.reduceat(xs[order], starts)
        x2[ids] = np.maximum.reduceat(xs[order], starts)
        y1[ids] = np.minimum.reduceat(ys[order], starts)
        y2[ids] = np.maximum.reduceat(ys[order], starts)
        t[ids] = tile[order][starts]
        first[ids] = (ys * w + xs)[order][starts]  # nonzero() is raster order: a group's first cell
    ok = np.nonzero(count >= p.min_cells)[0]
    ok = ok[ok > 0]
    ok = ok[np.lexsort((first[ok], t[ok]))]  # OpenCV's label order depends on its threads: not used
    boxes = np.stack([x1[ok], y1[ok], x2[ok] + 1, y2[ok] + 1], axis=1).astype(np.float32)
    boxes += np.array([p.shrink, p.shrink, -p.shrink, -p.shrink], np.float32)
    boxes *= p.stride
    confs = conf[ok].astype(np.float32)
    image, classes = np.divmod(t[ok], c - 1)
    classes = (classes + 1).astype(np.int64)
    bounds = np.searchsorted(image, np.arange(b + 1))  # sorted by tile: image by image
    return [(boxes[i:j], confs[i:j], classes[i:j]) for i, j in pairwise(bounds.tolist())]


def detections(probs: np.ndarray, box: Letterbox, p: PostParams) -> list[dict[str, object]]:
    """Detections above the confidence threshold after NMS, boxes in original-frame pixels."""
    return _detections(components(probs, p), box, p)


def detections_batch(
    probs: np.ndarray, boxes: list[Letterbox], p: PostParams
) -> list[list[dict[str, object]]]:
    """`detections` of every image of a [B, C, H, W] batch, the components found in one pass."""
    return [_detections(found, box, p) for found, box in zip(components_batch(probs, p), boxes, strict=True)]


def _detections(
    found: tuple[np.ndarray, np.ndarray, np.ndarray], box: Letterbox, p: PostParams
) -> list[dict[str, object]]:
    boxes, confs, classes = found
    sel = confs >= p.confidence_threshold
    boxes, confs, classes = boxes[sel], confs[sel], classes[sel]
    if len(boxes) == 0:
        return []
    keep = nms(boxes, confs, p.nms_iou)
    orig = box.to_original(boxes[keep]).tolist()
    conf = confs[keep].tolist()
    return [
        {
            "class": p.labels[int(classes[k]) - 1],
            "confidence": round(conf[i], 4),
            "bbox": [round(v, 1) for v in orig[i]],
        }
        for i, k in enumerate(keep)
    ]
