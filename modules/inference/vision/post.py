"""Vision post-processing: per-class probability maps to boxes (connected components), then NMS."""

from __future__ import annotations

from dataclasses import dataclass

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
    """One [C, H, W] probability map to boxes (model-input pixels), confidences, classes (1-based)."""
    winner = probs.argmax(axis=0)
    kernel = np.ones((3, 3), np.uint8)
    boxes: list[np.ndarray] = []
    confs: list[np.ndarray] = []
    classes: list[np.ndarray] = []
    for c in range(1, probs.shape[0]):
        mask = ((winner == c) & (probs[c] > p.pixel_threshold)).astype(np.uint8)
        if not mask.any():
            continue
        grown = cv2.dilate(mask, kernel)  # bridge one-cell gaps (crack fragments)
        n, labels = cv2.connectedComponents(grown, connectivity=8)
        ys, xs = np.nonzero(mask)
        lab = np.asarray(labels)[ys, xs].astype(np.intp)
        count = np.bincount(lab, minlength=n)
        x1 = np.full(n, 1 << 30)
        y1 = np.full(n, 1 << 30)
        x2 = np.full(n, -1)
        y2 = np.full(n, -1)
        np.minimum.at(x1, lab, xs)
        np.minimum.at(y1, lab, ys)
        np.maximum.at(x2, lab, xs)
        np.maximum.at(y2, lab, ys)
        conf = np.bincount(lab, weights=probs[c][ys, xs], minlength=n) / np.maximum(count, 1)
        ok = np.nonzero(count >= p.min_cells)[0]
        ok = ok[ok > 0]
        if len(ok) == 0:
            continue
        b = np.stack([x1[ok], y1[ok], x2[ok] + 1, y2[ok] + 1], axis=1).astype(np.float32)
        b += np.array([p.shrink, p.shrink, -p.shrink, -p.shrink], np.float32)
        b *= p.stride
        boxes.append(b)
        confs.append(conf[ok].astype(np.float32))
        classes.append(np.full(len(ok), c, np.int64))
    if not boxes:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64)
    return np.concatenate(boxes), np.concatenate(confs), np.concatenate(classes)


def detections(probs: np.ndarray, box: Letterbox, p: PostParams) -> list[dict[str, object]]:
    """Detections above the confidence threshold after NMS, boxes in original-frame pixels."""
    boxes, confs, classes = components(probs, p)
    sel = confs >= p.confidence_threshold
    boxes, confs, classes = boxes[sel], confs[sel], classes[sel]
    keep = nms(boxes, confs, p.nms_iou)
    orig = box.to_original(boxes[keep])
    return [
        {
            "class": p.labels[int(classes[k]) - 1],
            "confidence": round(float(confs[k]), 4),
            "bbox": [round(float(v), 1) for v in orig[i]],
        }
        for i, k in enumerate(keep)
    ]
