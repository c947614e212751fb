"""The judges: each family's documented post-processing, written plainly (one box at a time) from the
exporter's own description, sharing no code with the module.

- Ultralytics `ops.non_max_suppression` (YOLOv5 repo `utils/general.py` alike): candidates whose confidence
  is strictly above `conf_thres` (v5: objectness above it first, then conf = obj * class score; v8/11:
  conf = the best class score), xywh centre -> xyxy, sorted by confidence, at most `max_nms`, greedy NMS
  within each class (torchvision `nms`: a box goes when its IoU with a kept box is above `iou_thres`),
  at most `max_det`. `ops.scale_boxes` maps back: gain = min(h1/h0, w1/w0), padding
  round((w1 - w0 * gain) / 2 - 0.1), then (box - pad) / gain, clipped to the image.
- Ultralytics `LetterBox`: bilinear resize to round(w * gain) x round(h * gain), border of 114 with
  top = round(dh - 0.1), left = round(dw - 0.1).
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

Row = tuple[list[float], float, int]  # xyxy, confidence, class


def xywh2xyxy(b: Any) -> list[float]:
    x, y, w, h = (float(v) for v in b)
    return [x - w / 2, y - h / 2, x + w / 2, y + h / 2]


def iou(a: list[float], b: list[float]) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _nms(rows: list[Row], iou_thres: float, max_det: int, max_nms: int = 30_000) -> list[Row]:
    rows = sorted(rows, key=lambda r: -r[1])[:max_nms]
    kept: list[Row] = []
    for r in rows:
        if all(k[2] != r[2] or iou(k[0], r[0]) <= iou_thres for k in kept):
            kept.append(r)
    return kept[:max_det]


def ultralytics_v8(pred: np.ndarray, conf_thres: float, iou_thres: float, max_det: int = 300) -> list[Row]:
    """pred: one image's [4 + nc, anchors]."""
    rows: list[Row] = []
    for a in range(pred.shape[1]):
        cls = [float(v) for v in pred[4:, a]]
        j = max(range(len(cls)), key=lambda i: cls[i])
        if cls[j] > conf_thres:
            rows.append((xywh2xyxy(pred[:4, a]), cls[j], j))
    return _nms(rows, iou_thres, max_det)


def yolov5(pred: np.ndarray, conf_thres: float, iou_thres: float, max_det: int = 300) -> list[Row]:
    """pred: one image's [anchors, 5 + nc]."""
    rows: list[Row] = []
    for r in pred:
        obj = float(r[4])
        if not obj > conf_thres:
            continue
        cls = [float(v) * obj for v in r[5:]]
        j = max(range(len(cls)), key=lambda i: cls[i])
        if cls[j] > conf_thres:
            rows.append((xywh2xyxy(r[:4]), cls[j], j))
    return _nms(rows, iou_thres, max_det)


def scale_boxes(rows: list[Row], size: int, w0: int, h0: int) -> list[Row]:
    gain = min(size / h0, size / w0)
    pad_x = round((size - w0 * gain) / 2 - 0.1)
    pad_y = round((size - h0 * gain) / 2 - 0.1)
    out: list[Row] = []
    for box, conf, cls in rows:
        x1, y1, x2, y2 = box
        mapped = [(x1 - pad_x) / gain, (y1 - pad_y) / gain, (x2 - pad_x) / gain, (y2 - pad_y) / gain]
        mapped = [
            min(max(mapped[0], 0.0), w0),
            min(max(mapped[1], 0.0), h0),
            min(max(mapped[2], 0.0), w0),
            min(max(mapped[3], 0.0), h0),
        ]
        out.append((mapped, conf, cls))
    return out


def letterbox(img: np.ndarray, size: int) -> np.ndarray:
    h, w = img.shape[:2]
    r = min(size / h, size / w)
    new_w, new_h = round(w * r), round(h * r)
    dw, dh = (size - new_w) / 2, (size - new_h) / 2
    if (w, h) != (new_w, new_h):
        img = cv2.resize(img, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    top, bottom = round(dh - 0.1), round(dh + 0.1)
    left, right = round(dw - 0.1), round(dw + 0.1)
    return cv2.copyMakeBorder(img, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(114, 114, 114))


def cell_components(
    probs: Any, pixel_threshold: float, min_cells: int, stride: int, shrink: float
) -> list[tuple[int, list[float], float]]:
    """The cell-map models' components, one class and one component at a time: the cells where the class
    wins (first class on a tie) and passes the threshold, grown by one cell (3x3), 8-connected; a box
    spans a component's own cells (less `shrink` cells a side, times `stride`), its confidence is their
    mean (float64, summed in raster order). Ordered by class, then by each component's first own cell in
    raster order. Returns (class, box, confidence)."""
    c, h, w = probs.shape
    winner = probs.argmax(axis=0)
    out: list[tuple[int, list[float], float]] = []
    for k in range(1, c):
        mask = (winner == k) & (probs[k] > pixel_threshold)
        grown = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8))
        _n, labels = cv2.connectedComponents(grown, connectivity=8)
        cells: dict[int, list[tuple[int, int]]] = {}
        for y in range(h):
            for x in range(w):
                if mask[y, x]:
                    cells.setdefault(int(labels[y, x]), []).append((y, x))
        found = sorted(cells.values(), key=lambda own: own[0])  # first own cell, raster order
        for own in found:
            if len(own) < min_cells:
                continue
            ys, xs = [y for y, _ in own], [x for _, x in own]
            cell_box = [min(xs), min(ys), max(xs) + 1, max(ys) + 1]
            s = np.float32(shrink)  # in float32, as the map's numbers
            box = [
                (np.float32(v) + d) * np.float32(stride)
                for v, d in zip(cell_box, (s, s, -s, -s), strict=True)
            ]
            total = 0.0
            for y, x in own:
                total += float(probs[k, y, x])
            out.append((k, [float(v) for v in box], total / len(own)))
    return out
