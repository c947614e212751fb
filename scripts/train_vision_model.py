"""Generate synthetic surface-defect images, train the defect detector (filter bank + head), export."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from inference.vision.post import PostParams, detections, iou_matrix
from inference.vision.pre import jpeg_size, prepare

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "modules" / "inference" / "model_repository"
DEFAULT_TESTSET = REPO_ROOT / "tests" / "data" / "vision" / "defects"
MODEL_NAME = "defect_detector"
VERSION = "1"
OPSET = 17
IR_VERSION = 8
SIZE = 128  # model input, square, letterboxed: a quarter of the frame, so JPEG decodes at 1/4 size
STRIDE = 2  # input pixels per output cell (64 x 64 cells)
LABEL_SCALE = 2  # cell labels are drawn on a canvas this much finer than the input (thin defects survive)
FRAME_W, FRAME_H = 512, 384
LABELS = ("scratch", "spot", "crack")
JPEG_QUALITY = 90
HIDDEN = 8
RIDGE_SIGMAS = (0.8, 1.4)
BANK_STRIDE = 1  # 1: filter bank at input resolution, then 2x2 max; 2: bank evaluated on the cell grid
CONTEXT = ("max", "avg")  # neighbourhood features appended to each cell
PAD_VALUE = 114
CPU_MAX_BATCH = 2  # measured on 2 cores: per-image run cost grows with the batch (intermediates leave cache)


# ---------------------------------------------------------------- synthetic images
def _texture(rng: np.random.Generator) -> np.ndarray:
    """Brushed-metal surface: horizontally smeared noise, an illumination gradient and a slight tint."""
    noise = rng.normal(0, 1, (FRAME_H, FRAME_W)).astype(np.float32)
    k = int(rng.integers(9, 25))
    brushed = cv2.blur(noise, (k, 1)) * 14.0 + cv2.GaussianBlur(noise, (0, 0), 1.0) * 4.0
    yy, xx = np.mgrid[0:FRAME_H, 0:FRAME_W].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    grad = (np.cos(angle) * xx / FRAME_W + np.sin(angle) * yy / FRAME_H) * rng.uniform(10, 40)
    base = rng.uniform(110, 160) + brushed + grad
    tint = rng.uniform(-6, 6, 3).astype(np.float32)
    return np.stack([base + tint[0], base + tint[1], base + tint[2]], axis=2)


def _draw_defect(rng: np.random.Generator, cls: int) -> tuple[np.ndarray, float, list[float]]:
    """One defect's mask (float 0..1 at frame size), its signed intensity and its box."""
    mask: np.ndarray = np.zeros((FRAME_H, FRAME_W), np.float32)
    cx, cy = rng.uniform(50, FRAME_W - 50), rng.uniform(50, FRAME_H - 50)
    if cls == 0:  # scratch: bright, thin, straight
        length, ang = rng.uniform(60, 160), rng.uniform(0, np.pi)
        dx, dy = np.cos(ang) * length / 2, np.sin(ang) * length / 2
        p1 = (round(cx - dx), round(cy - dy))
        p2 = (round(cx + dx), round(cy + dy))
        cv2.line(mask, p1, p2, 1.0, int(rng.integers(2, 4)), cv2.LINE_AA)
        intensity = float(rng.uniform(55, 90))
    elif cls == 1:  # spot: dark round blob
        r = rng.uniform(7, 18)
        cv2.ellipse(
            mask, (round(cx), round(cy)), (round(r), round(r * rng.uniform(0.7, 1.0))),
            float(rng.uniform(0, 180)), 0, 360, 1.0, -1, cv2.LINE_AA,
        )  # fmt: skip
        mask = cv2.GaussianBlur(mask, (0, 0), 1.5)
        intensity = -float(rng.uniform(55, 85))
    else:  # crack: dark jagged polyline
        pts = [(cx, cy)]
        heading = rng.uniform(0, 2 * np.pi)
        for _ in range(int(rng.integers(8, 16))):
            heading += rng.normal(0, 0.6)
            step = rng.uniform(6, 12)
            x = float(np.clip(pts[-1][0] + np.cos(heading) * step, 5, FRAME_W - 5))
            y = float(np.clip(pts[-1][1] + np.sin(heading) * step, 5, FRAME_H - 5))
            pts.append((x, y))
        poly = np.round(np.array(pts)).astype(np.int32)
        cv2.polylines(mask, [poly], False, 1.0, int(rng.integers(2, 4)), cv2.LINE_AA)
        intensity = -float(rng.uniform(60, 90))
    ys, xs = np.nonzero(mask > 0.25)
    box = [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]
    return mask, intensity, box


def make_image(rng: np.random.Generator) -> tuple[bytes, list[dict[str, Any]], np.ndarray]:
    """One JPEG frame with 0-4 non-overlapping defects; returns the bytes, labels and the class mask."""
    img = _texture(rng)
    classes = np.zeros((FRAME_H, FRAME_W), np.uint8)
    labels: list[dict[str, Any]] = []
    boxes: list[list[float]] = []
    for _ in range(int(rng.integers(0, 5))):
        cls = int(rng.integers(0, 3))
        mask, intensity, box = _draw_defect(rng, cls)
        grown = [box[0] - 8, box[1] - 8, box[2] + 8, box[3] + 8]
        if boxes and iou_matrix(np.array([grown]), np.array(boxes)).max() > 0:
            continue
        boxes.append(grown)
        img += mask[:, :, None] * intensity
        classes[mask > 0.25] = cls + 1
        labels.append({"class": LABELS[cls], "bbox": box})
    ok, enc = cv2.imencode(
        ".jpg", np.clip(img, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
    )
    assert ok
    return enc.tobytes(), labels, classes


def cell_labels(classes: np.ndarray) -> np.ndarray:
    """Per-cell class at the output resolution, via the same letterbox as the frames (any coverage wins)."""
    size, step = SIZE * LABEL_SCALE, STRIDE * LABEL_SCALE
    s = size / max(FRAME_W, FRAME_H)
    nw, nh = round(FRAME_W * s), round(FRAME_H * s)
    px, py = (size - nw) // 2, (size - nh) // 2
    canvas = np.zeros((size, size), np.uint8)
    canvas[py : py + nh, px : px + nw] = cv2.resize(classes, (nw, nh), interpolation=cv2.INTER_NEAREST)
    cells = canvas.reshape(size // step, step, size // step, step)
    return np.asarray(cells.max(axis=(1, 3)))


# ---------------------------------------------------------------- model graph
def _filter_bank() -> np.ndarray:
    """Fixed 7x7 filters: oriented ridge detectors (6 angles, 2 scales), 2 blob detectors, local contrast."""
    r = np.arange(-3, 4, dtype=np.float64)
    yy, xx = np.meshgrid(r, r, indexing="ij")
    filters = []
    for sigma in RIDGE_SIGMAS:
        for ang in np.arange(6) * np.pi / 6:
            u = -np.sin(ang) * xx + np.cos(ang) * yy  # distance across the line
            v = np.cos(ang) * xx + np.sin(ang) * yy
            g = np.exp(-(u**2) / (2 * sigma**2) - v**2 / (2 * (2.5 * sigma) ** 2))
            f = -(u**2 / sigma**4 - 1 / sigma**2) * g  # bright ridge -> positive
            filters.append(f - f.mean())
    for sigma in (1.2, 2.0):
        rr = xx**2 + yy**2
        f = -(rr / sigma**4 - 2 / sigma**2) * np.exp(-rr / (2 * sigma**2))
        filters.append(f - f.mean())
    box = -np.ones((7, 7)) / 48.0
    box[3, 3] = 1.0
    filters.append(box)
    bank = np.stack([f / np.abs(f).sum() for f in filters])
    return np.round(bank, 6).astype(np.float32)[:, None]  # [K, 1, 7, 7]


def _feature_nodes() -> tuple[list[onnx.NodeProto], list[onnx.TensorProto], int]:
    """image [N,3,S,S] (BGR, 0..1) -> feats [N, F, S/STRIDE, S/STRIDE].

    Grey level (1x1 conv), then the bank and its negation in one conv with the ReLU fused (bright and dark
    responses), reduced to the cell grid, plus neighbourhood context (3x3 max, 7x7 mean) per cell.
    """
    bank = _filter_bank()
    k = bank.shape[0]
    gray = np.array([0.114, 0.587, 0.299], np.float32).reshape(1, 3, 1, 1)
    c = numpy_helper.from_array
    pn_w = np.concatenate([bank, -bank]) * 4.0
    inits = [c(gray, "gray_w"), c(pn_w.astype(np.float32), "bank_w")]
    n = helper.make_node
    nodes = [
        n("Conv", ["image", "gray_w"], ["gray"]),
        n("Conv", ["gray", "bank_w"], ["resp"], pads=[3, 3, 3, 3], strides=[BANK_STRIDE, BANK_STRIDE]),
        n("Relu", ["resp"], ["pn"]),
    ]
    pool = STRIDE // BANK_STRIDE
    if pool > 1:
        nodes.append(n("MaxPool", ["pn"], ["cell"], kernel_shape=[pool, pool], strides=[pool, pool]))
    else:
        nodes.append(n("Identity", ["pn"], ["cell"]))
    parts = ["cell"]
    if "max" in CONTEXT:
        nodes.append(n("MaxPool", ["cell"], ["ctx_max"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]))
        parts.append("ctx_max")
    if "avg" in CONTEXT:
        nodes.append(
            n(
                "AveragePool",
                ["cell"],
                ["ctx_avg"],
                kernel_shape=[7, 7],
                pads=[3, 3, 3, 3],
                count_include_pad=0,
            )
        )
        parts.append("ctx_avg")
    nodes.append(n("Concat", parts, ["feats"], axis=1))
    return nodes, inits, len(parts) * 2 * k


def _image_input() -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, SIZE, SIZE])


def _finish(graph: onnx.GraphProto) -> onnx.ModelProto:
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="edgeloop-train"
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model


def feature_model() -> onnx.ModelProto:
    nodes, inits, f = _feature_nodes()
    cells = SIZE // STRIDE
    out = helper.make_tensor_value_info("feats", TensorProto.FLOAT, ["batch", f, cells, cells])
    return _finish(helper.make_graph(nodes, "features", [_image_input()], [out], inits))


def full_model(w1: np.ndarray, b1: np.ndarray, w2: np.ndarray, b2: np.ndarray) -> onnx.ModelProto:
    nodes, inits, f = _feature_nodes()
    c = numpy_helper.from_array
    inits += [
        c(w1.T.reshape(HIDDEN, f, 1, 1).astype(np.float32), "w1"),
        c(b1.astype(np.float32), "b1"),
        c(w2.T.reshape(len(LABELS) + 1, HIDDEN, 1, 1).astype(np.float32), "w2"),
        c(b2.astype(np.float32), "b2"),
    ]
    n = helper.make_node
    nodes += [
        n("Conv", ["feats", "w1", "b1"], ["h"]),
        n("Relu", ["h"], ["hr"]),
        n("Conv", ["hr", "w2", "b2"], ["logits"]),
        n("Softmax", ["logits"], ["probs"], axis=1),
    ]
    cells = SIZE // STRIDE
    out = helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", len(LABELS) + 1, cells, cells])
    return _finish(helper.make_graph(nodes, MODEL_NAME, [_image_input()], [out], inits))


# ---------------------------------------------------------------- training
def _batch(jpegs: list[bytes]) -> np.ndarray:
    canv = [prepare(j, SIZE, PAD_VALUE)[0] for j in jpegs]
    return np.stack(canv).transpose(0, 3, 1, 2).astype(np.float32) / 255.0


def _session(model: onnx.ModelProto) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1  # deterministic reductions
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def train_head(feats: np.ndarray, y: np.ndarray, seed: int) -> tuple[np.ndarray, ...]:
    """Two-layer per-cell MLP, softmax, Adam on class-balanced samples; standardisation folded in."""
    rng = np.random.default_rng(seed)
    x = feats.transpose(0, 2, 3, 1).reshape(-1, feats.shape[1]).astype(np.float64)
    t = y.reshape(-1)
    mu, sd = x.mean(axis=0), x.std(axis=0) + 1e-6
    xs = (x - mu) / sd
    idx_by_class = [np.nonzero(t == c)[0] for c in range(len(LABELS) + 1)]
    f, k = x.shape[1], len(LABELS) + 1
    w1 = rng.normal(0, np.sqrt(2 / f), (f, HIDDEN))
    b1 = np.zeros(HIDDEN)
    w2 = rng.normal(0, np.sqrt(1 / HIDDEN), (HIDDEN, k))
    b2 = np.zeros(k)
    params = [w1, b1, w2, b2]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    lr, per_class = 0.01, 256
    for step in range(1, 1501):
        # background is sampled 3x as often: it is most of every frame
        pick = np.concatenate(
            [rng.choice(ix, per_class * (3 if c == 0 else 1)) for c, ix in enumerate(idx_by_class)]
        )
        xb, tb = xs[pick], t[pick]
        h = xb @ w1 + b1
        hr = np.maximum(h, 0)
        z = hr @ w2 + b2
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        g = p.copy()
        g[np.arange(len(tb)), tb] -= 1
        g /= len(tb)
        gw2, gb2 = hr.T @ g, g.sum(axis=0)
        gh = (g @ w2.T) * (h > 0)
        gw1, gb1 = xb.T @ gh, gh.sum(axis=0)
        grads = [gw1 + 1e-4 * w1, gb1, gw2 + 1e-4 * w2, gb2]
        for i, (pp, gg) in enumerate(zip(params, grads, strict=True)):
            m[i] = 0.9 * m[i] + 0.1 * gg
            v[i] = 0.999 * v[i] + 0.001 * gg**2
            pp -= lr * (m[i] / (1 - 0.9**step)) / (np.sqrt(v[i] / (1 - 0.999**step)) + 1e-8)
    # fold the standardisation into the first layer, then round to a grid (reproducible across machines)
    w1f = w1 / sd[:, None]
    b1f = b1 - (mu / sd) @ w1
    return tuple(np.round(a, 4) for a in (w1f, b1f, w2, b2))


def evaluate(
    session: ort.InferenceSession,
    jpegs: list[bytes],
    labels: list[list[dict[str, Any]]],
    post: PostParams,
    iou: float,
) -> dict[str, float]:
    """Precision and recall at an IoU threshold, class-aware, greedy matching by confidence."""
    tp = fp = fn = 0
    for jpeg, gt in zip(jpegs, labels, strict=True):
        canvas, box = prepare(jpeg, SIZE, PAD_VALUE)
        probs = session.run(None, {"image": canvas.transpose(2, 0, 1)[None].astype(np.float32) / 255.0})[0][0]
        dets = detections(probs, box, post)
        used = [False] * len(gt)
        for d in dets:
            best, best_j = 0.0, -1
            for j, g in enumerate(gt):
                if used[j] or g["class"] != d["class"]:
                    continue
                o = float(iou_matrix(np.array([d["bbox"]]), np.array([g["bbox"]]))[0, 0])
                if o > best:
                    best, best_j = o, j
            if best >= iou:
                used[best_j] = True
                tp += 1
            else:
                fp += 1
        fn += used.count(False)
    return {"precision": round(tp / max(tp + fp, 1), 3), "recall": round(tp / max(tp + fn, 1), 3)}


def dataset_frames(folder: Path) -> list[tuple[bytes, list[Any], np.ndarray]]:
    """Frames of a folder `edgeloop dataset pull` wrote (YOLO layout) as training items: the JPEG, no
    labels, and the class mask their boxes fill (frames of another size than the camera's are skipped)."""
    from edgeloop_dev.modelops.dataset import read_yolo, yolo_names

    names = yolo_names(folder)
    out = []
    for img, rows in read_yolo(folder):
        data = img.read_bytes()
        w, h = jpeg_size(data)
        if (w, h) != (FRAME_W, FRAME_H):
            continue
        classes = np.zeros((FRAME_H, FRAME_W), np.uint8)
        for c, cx, cy, bw, bh in rows:
            if c >= len(names) or names[c] not in LABELS:
                continue
            x1, x2 = round((cx - bw / 2) * w), round((cx + bw / 2) * w)
            y1, y2 = round((cy - bh / 2) * h), round((cy + bh / 2) * h)
            classes[max(0, y1) : y2, max(0, x1) : x2] = LABELS.index(names[c]) + 1
        out.append((data, [], classes))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="model repository root")
    ap.add_argument("--testset", type=Path, default=DEFAULT_TESTSET)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--train-images", type=int, default=80)
    ap.add_argument("--test-images", type=int, default=40)
    ap.add_argument("--dataset", type=Path, help="a folder from `edgeloop dataset pull` to train on as well")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    train = [make_image(rng) for _ in range(args.train_images)]
    if args.dataset is not None:
        train += dataset_frames(args.dataset)
    test_rng = np.random.default_rng(args.seed + 1000)
    test = [make_image(test_rng) for _ in range(args.test_images)]
    feats = _session(feature_model()).run(None, {"image": _batch([j for j, _, _ in train])})[0]
    y = np.stack([cell_labels(m) for _, _, m in train]).astype(np.int64)
    w1, b1, w2, b2 = train_head(feats, y, args.seed)
    model = full_model(w1, b1, w2, b2)
    post_cfg = {
        "pixelThreshold": 0.7,
        "minCells": 2,
        "confidenceThreshold": 0.5,
        "nmsIou": 0.3,
        "shrink": 0.5,
    }
    post = PostParams(LABELS, STRIDE, 0.7, 2, 0.5, 0.3, 0.5)
    sess = _session(model)
    test_jpegs, test_labels = [j for j, _, _ in test], [lab for _, lab, _ in test]
    quality = {
        "iou0.5": evaluate(sess, test_jpegs, test_labels, post, 0.5),
        "iou0.3": evaluate(sess, test_jpegs, test_labels, post, 0.3),
    }
    args.testset.mkdir(parents=True, exist_ok=True)
    index = []
    for i, (jpeg, lab) in enumerate(zip(test_jpegs, test_labels, strict=True)):
        name = f"defect_{i:03d}.jpg"
        (args.testset / name).write_bytes(jpeg)
        index.append({"file": name, "width": FRAME_W, "height": FRAME_H, "objects": lab})
    (args.testset / "labels.json").write_text(
        json.dumps({"labels": list(LABELS), "images": index}, indent=1) + "\n"
    )
    data = model.SerializeToString(deterministic=True)
    meta: dict[str, Any] = {
        "name": MODEL_NAME,
        "version": VERSION,
        "kind": "detector",
        "description": (
            "Surface defects at 128 px: ridge/blob filter bank (bright and dark), 2x2 cells with context, "
            "per-cell MLP; boxes from connected cells"
        ),
        "inputs": [{"name": "image", "dtype": "float32", "shape": [-1, 3, SIZE, SIZE]}],
        "outputs": [
            {
                "name": "probs",
                "dtype": "float32",
                "shape": [-1, len(LABELS) + 1, SIZE // STRIDE, SIZE // STRIDE],
            }
        ],
        "preprocess": {
            "size": SIZE,
            "letterbox": True,
            "padValue": PAD_VALUE,
            "colorOrder": "BGR",
            "scale": 1 / 255,
        },
        "postprocess": {"type": "cellComponents", "stride": STRIDE, **post_cfg},
        "labels": list(LABELS),
        "threshold": 0.5,
        "batching": {"maxBatchSize": 16, "maxQueueDelayMs": 4.0, "cpuMaxBatchSize": CPU_MAX_BATCH},
        "evaluation": {"testImages": len(test), **quality},
        "training": {
            "seed": args.seed,
            "trainImages": len(train),
            "hidden": HIDDEN,
            **({"dataset": args.dataset.name} if args.dataset is not None else {}),
        },
        "sha256": hashlib.sha256(data).hexdigest(),
        "opset": OPSET,
        "irVersion": IR_VERSION,
    }
    vdir = args.out / MODEL_NAME / VERSION
    vdir.mkdir(parents=True, exist_ok=True)
    (vdir / "model.onnx").write_bytes(data)
    (vdir / "metadata.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    print(f"wrote {vdir} ({len(data)} bytes); test set {args.testset}; {json.dumps(quality)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
