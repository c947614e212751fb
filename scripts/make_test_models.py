"""Write small ONNX models with the exact input/output layouts of the common detector and classifier
exports (onnx.helper graphs: the raw outputs are fixed scenes, so the decoders can be judged exactly).

Each model is a folder `tests/data/models/<family>/model.onnx` (+ `metadata.json` where the real export
would need one). Deterministic: rerunning gives the same bytes.

    python scripts/make_test_models.py [--out tests/data/models]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "tests" / "data" / "models"
OPSET = 17
IR_VERSION = 8
LABELS = ("scratch", "dent", "crack")
NAMES = "{0: 'scratch', 1: 'dent', 2: 'crack'}"  # as Ultralytics writes `names` (a Python dict repr)


def anchors(size: int) -> int:
    """Ultralytics' anchor-free grid: one box per cell of strides 8, 16, 32."""
    return sum((size // s) ** 2 for s in (8, 16, 32))


def scene(rng: np.random.Generator, size: int, n_boxes: int, nc: int) -> tuple[np.ndarray, np.ndarray]:
    """Candidate boxes (xywh, input pixels) and per-class scores [n_boxes, nc] like a trained detector's:
    clusters of overlapping candidates around a few objects (with a runner-up class), some lone
    mid-score boxes near the thresholds, and low-score background everywhere else."""
    xywh = np.zeros((n_boxes, 4), np.float32)
    xywh[:, :2] = rng.uniform(0, size, (n_boxes, 2))
    xywh[:, 2:] = rng.uniform(4, size / 6, (n_boxes, 2))
    scores = rng.uniform(0.0, 0.04, (n_boxes, nc)).astype(np.float32)
    idx = rng.permutation(n_boxes)
    pos = 0
    for _ in range(6):  # objects
        cls = int(rng.integers(nc))
        cx, cy = rng.uniform(size * 0.15, size * 0.85, 2)
        w, h = rng.uniform(size * 0.08, size * 0.3, 2)
        for _ in range(int(rng.integers(5, 12))):
            k = idx[pos]
            pos += 1
            jitter = (rng.normal(0, w * 0.06), rng.normal(0, h * 0.06))
            xywh[k] = [
                cx + jitter[0],
                cy + jitter[1],
                w * rng.uniform(0.85, 1.15),
                h * rng.uniform(0.85, 1.15),
            ]
            scores[k, cls] = rng.uniform(0.35, 0.95)
            scores[k, (cls + 1) % nc] = rng.uniform(0.05, 0.3)  # the runner-up class
    for _ in range(12):  # lone boxes around the usual thresholds
        k = idx[pos]
        pos += 1
        scores[k, int(rng.integers(nc))] = rng.uniform(0.15, 0.55)
    return xywh, scores


def _graph(
    name: str,
    inp: onnx.ValueInfoProto,
    consts: list[tuple[str, np.ndarray, list[Any]]],
    uint8: bool = False,
) -> onnx.GraphProto:
    """Outputs = constant + 0 * mean(input): each output a fixed tensor, broadcast over a dynamic batch
    when the constant has a leading 1, and the input is consumed (as any real model's is)."""
    nodes = []
    src = inp.name
    if uint8:
        nodes.append(helper.make_node("Cast", [src], ["x_f"], to=TensorProto.FLOAT))
        src = "x_f"
    rank = len(inp.type.tensor_type.shape.dim)
    nodes.append(helper.make_node("ReduceMean", [src], ["m"], axes=list(range(1, rank)), keepdims=0))
    nodes.append(helper.make_node("Mul", ["m", "zero"], ["z"]))
    inits = [numpy_helper.from_array(np.zeros(1, np.float32), "zero")]
    outputs = []
    for out_name, value, dims in consts:
        cname = f"{out_name}_const"
        inits.append(numpy_helper.from_array(value.astype(np.float32), cname))
        # z has shape [N] (or [C]... collapsed for a CHW input): reshape it to broadcast over the batch
        zr = f"{out_name}_z"
        shape = np.array([-1 if rank == 4 else 1] + [1] * (value.ndim - 1), np.int64)
        inits.append(numpy_helper.from_array(shape, f"{zr}_shape"))
        if rank == 4:
            nodes.append(helper.make_node("Reshape", ["z", f"{zr}_shape"], [zr]))
        else:
            nodes.append(helper.make_node("ReduceMean", ["z"], [f"{zr}_s"], keepdims=0))
            nodes.append(helper.make_node("Reshape", [f"{zr}_s", f"{zr}_shape"], [zr]))
        final = out_name
        out_type = TensorProto.FLOAT
        if value.dtype == np.int64:
            nodes.append(helper.make_node("Add", [cname, zr], [f"{out_name}_f"]))
            nodes.append(helper.make_node("Cast", [f"{out_name}_f"], [final], to=TensorProto.INT64))
            out_type = TensorProto.INT64
        else:
            nodes.append(helper.make_node("Add", [cname, zr], [final]))
        outputs.append(helper.make_tensor_value_info(final, out_type, dims))
    return helper.make_graph(nodes, name, [inp], outputs, inits)


def _model(graph: onnx.GraphProto, props: dict[str, str]) -> onnx.ModelProto:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="edgeloop")
    model.ir_version = IR_VERSION
    helper.set_model_props(model, props)
    onnx.checker.check_model(model, full_check=True)
    return model


def _ultralytics_props(size: int, task: str = "detect", batch: int = 1) -> dict[str, str]:
    return {
        "description": "edgeloop test model in the layout of an Ultralytics export",
        "author": "edgeloop",
        "stride": "32",
        "task": task,
        "batch": str(batch),
        "imgsz": f"[{size}, {size}]",
        "names": NAMES,
    }


def yolov8(dynamic: bool) -> onnx.ModelProto:
    """YOLOv8 / YOLO11 detect: images [1, 3, 320, 320] -> output0 [1, 4+nc, anchors] (xywh, class scores)."""
    size, nc = 320, len(LABELS)
    n = anchors(size)
    xywh, scores = scene(np.random.default_rng(8), size, n, nc)
    raw = np.concatenate([xywh, scores], axis=1).T[None]  # [1, 4+nc, n]
    dims_in: list[Any] = ["batch", 3, "height", "width"] if dynamic else [1, 3, size, size]
    dims_out: list[Any] = ["batch", 4 + nc, "anchors"] if dynamic else [1, 4 + nc, n]
    inp = helper.make_tensor_value_info("images", TensorProto.FLOAT, dims_in)
    props = _ultralytics_props(size, batch=-1 if dynamic else 1)
    return _model(_graph("yolov8", inp, [("output0", raw, dims_out)]), props)


def yolov5() -> onnx.ModelProto:
    """YOLOv5 detect: images [1, 3, 160, 160] -> output0 [1, 3 anchors x cells, 5+nc] (xywh, obj, cls)."""
    size, nc = 160, len(LABELS)
    n = 3 * sum((size // s) ** 2 for s in (8, 16, 32))
    rng = np.random.default_rng(5)
    xywh, scores = scene(rng, size, n, nc)
    obj = scores.max(axis=1, keepdims=True)
    obj = np.clip(obj * rng.uniform(0.9, 1.3, obj.shape), 0, 1).astype(np.float32)
    cls = scores / np.maximum(scores.max(axis=1, keepdims=True), 1e-6) * rng.uniform(0.6, 1.0, (n, 1))
    raw = np.concatenate([xywh, obj, cls.astype(np.float32)], axis=1)[None]  # [1, n, 5+nc]
    inp = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, size, size])
    props = {"stride": "32", "names": NAMES}  # what yolov5's export.py writes
    return _model(_graph("yolov5", inp, [("output0", raw, [1, n, 5 + nc])]), props)


def _nms_rows(rng: np.random.Generator, k: int, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """k detections after NMS: xyxy boxes (input pixels), descending scores, class ids 0..nc-1."""
    x1y1 = rng.uniform(0, size * 0.7, (k, 2))
    wh = rng.uniform(size * 0.05, size * 0.3, (k, 2))
    boxes = np.concatenate([x1y1, x1y1 + wh], axis=1).astype(np.float32)
    scores = np.sort(rng.uniform(0.05, 0.97, k))[::-1].astype(np.float32)
    classes = rng.integers(0, len(LABELS), k)
    return boxes, scores, classes


def end2end() -> onnx.ModelProto:
    """Ultralytics export with nms=True (and YOLOv10): output0 [1, 300, 6] x1, y1, x2, y2, score, class."""
    size = 320
    boxes, scores, classes = _nms_rows(np.random.default_rng(10), 300, size)
    scores[40:] = 0.0  # the padding rows
    raw = np.concatenate([boxes, scores[:, None], classes[:, None].astype(np.float32)], axis=1)[None]
    inp = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, size, size])
    return _model(_graph("end2end", inp, [("output0", raw, [1, 300, 6])]), _ultralytics_props(size))


def tf_od_api() -> onnx.ModelProto:
    """TF Object Detection API SSD via tf2onnx: input_tensor uint8 [1, H, W, 3] -> detection_boxes [1, 100, 4]
    (normalised ymin, xmin, ymax, xmax), detection_classes [1, 100] (1-based, float), detection_scores,
    num_detections [1]."""
    boxes, scores, classes = _nms_rows(np.random.default_rng(11), 100, 1)
    yxyx = boxes[:, [1, 0, 3, 2]]
    inp = helper.make_tensor_value_info("input_tensor", TensorProto.UINT8, [1, "height", "width", 3])
    consts = [
        ("detection_boxes", yxyx[None], [1, 100, 4]),
        ("detection_classes", (classes + 1).astype(np.float32)[None], [1, 100]),
        ("detection_scores", scores[None], [1, 100]),
        ("num_detections", np.array([37.0], np.float32), [1]),
    ]
    return _model(_graph("tf_od_api", inp, consts, uint8=True), {})


def torchvision_det() -> onnx.ModelProto:
    """torchvision detection (Faster R-CNN / RetinaNet / SSD) export: images [3, H, W] (one image, no
    batch) -> boxes [K, 4] (xyxy input pixels), labels [K] int64, scores [K]."""
    size = 320
    boxes, scores, classes = _nms_rows(np.random.default_rng(12), 25, size)
    inp = helper.make_tensor_value_info("images", TensorProto.FLOAT, [3, "height", "width"])
    consts = [
        ("boxes", boxes, ["num", 4]),
        ("labels", classes.astype(np.int64), ["num"]),
        ("scores", scores, ["num"]),
    ]
    return _model(_graph("torchvision", inp, consts), {})


def classifier() -> onnx.ModelProto:
    """Ultralytics classify export: images [1, 3, 64, 64] -> output0 [1, nc] probabilities."""
    size = 64
    probs = np.array([[0.07, 0.81, 0.12]], np.float32)
    inp = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, size, size])
    props = _ultralytics_props(size, task="classify")
    return _model(_graph("classifier", inp, [("output0", probs, [1, 3])]), props)


MODELS: dict[str, tuple[Any, dict[str, Any] | None]] = {
    "yolov8": (lambda: yolov8(False), None),
    "yolov8_dynamic": (lambda: yolov8(True), None),
    "yolov5": (yolov5, None),
    "yolov8_nms": (end2end, None),
    "tf_od_api": (tf_od_api, {"labels": list(LABELS), "preprocess": {"size": 300}}),
    "torchvision": (torchvision_det, {"labels": list(LABELS), "preprocess": {"size": 320}}),
    "classifier": (classifier, None),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    for name, (build, sidecar) in MODELS.items():
        folder = args.out / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "model.onnx").write_bytes(build().SerializeToString())
        if sidecar is not None:
            (folder / "metadata.json").write_text(json.dumps(sidecar, indent=1) + "\n")
        print(f"{folder / 'model.onnx'}: {(folder / 'model.onnx').stat().st_size} bytes")


if __name__ == "__main__":
    main()
