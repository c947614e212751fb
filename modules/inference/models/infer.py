"""Metadata for a bare .onnx: tensor contract from the session, labels and sizes from `metadata_props`
(Ultralytics writes `names`, `stride`, `imgsz`, `task`), the decoder from the output shapes; a sidecar
`metadata.json` (any subset of the full form) or the DECODER setting overrides what is inferred."""

from __future__ import annotations

import ast
import json
from typing import Any

import numpy as np
import onnxruntime as ort
from pydantic import ValidationError

from ..errors import ModelRejected
from .metadata import ModelMetadata

_DTYPES = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(uint8)": "uint8",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
}
DEFAULT_SIZE = 640
_ROLES = (
    ("count", ("num_det", "num", "count")),
    ("boxes", ("box",)),
    ("scores", ("score", "conf")),
    ("classes", ("class", "label")),
)


def _dim(d: Any) -> int:
    return d if isinstance(d, int) and d > 0 else -1


def _labels(props: dict[str, str], sidecar: dict[str, Any]) -> list[str]:
    names: Any = sidecar.get("labels", sidecar.get("names", props.get("names")))
    if isinstance(names, str):
        try:
            names = ast.literal_eval(names)  # Ultralytics: "{0: 'person', 1: 'bicycle'}"
        except (ValueError, SyntaxError):
            try:
                names = json.loads(names)
            except json.JSONDecodeError:
                names = [n.strip() for n in names.split(",") if n.strip()]
    if isinstance(names, dict):
        return [str(names[k]) for k in sorted(names, key=lambda k: int(k))]
    if isinstance(names, list):
        return [str(n) for n in names]
    return []


def _imgsz(props: dict[str, str]) -> int | None:
    raw = props.get("imgsz")
    if not raw:
        return None
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return None
    sizes = value if isinstance(value, list | tuple) else [value]
    return int(max(sizes)) if sizes else None


def _role(name: str) -> str | None:
    low = name.lower()
    for role, keys in _ROLES:
        if any(k in low for k in keys):
            return role
    return None


def _decoder(
    outs: list[np.ndarray], names: list[str], labels: list[str], props: dict[str, str]
) -> tuple[str, dict[str, Any]]:
    """(postprocess type, extra postprocess fields) from the concrete output shapes of a batch-1 run."""
    nc = len(labels)
    if props.get("task") == "classify" or (len(outs) == 1 and outs[0].ndim == 2):
        return "classification", {}
    if len(outs) == 1 and outs[0].ndim == 3:
        a, b = outs[0].shape[1:]
        if nc and a == 4 + nc:
            return "yolov8", {}
        if nc and b == 5 + nc:
            return "yolov5", {}
        if b in (6, 7) and a <= 1000:  # [N, K, 6]: x1, y1, x2, y2, score, class (Ultralytics nms=True)
            return "nms", {"outputs": {"detections": names[0]}}
        if a < b and a > 4:
            return "yolov8", {}
        if b > 5:
            return "yolov5", {}
    if len(outs) == 1 and outs[0].ndim == 4:
        return "cellComponents", {}
    roles: dict[str, str] = {}
    for name in names:
        role = _role(name)
        if role and role not in roles:
            roles[role] = name
    if {"boxes", "scores", "classes"} <= set(roles):
        extra: dict[str, Any] = {"outputs": roles}
        tf_names = all(roles[r].startswith("detection_") for r in ("boxes", "scores", "classes"))
        if tf_names:  # TF Object Detection API
            extra.update({"boxFormat": "yxyx", "normalized": True, "classOffset": 1})
        return "nms", extra
    shapes = ", ".join(f"{n}{list(o.shape)}" for n, o in zip(names, outs, strict=True))
    raise ModelRejected("unsupported", f"cannot tell how to decode the outputs {shapes}")


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def infer_metadata(
    sess: ort.InferenceSession,
    sidecar: dict[str, Any],
    name: str,
    version: str,
    sha256: str,
    decoder: str = "",
) -> ModelMetadata:
    """The full metadata of a vision model from its session, its `metadata_props` and a partial sidecar."""
    props = dict(sess.get_modelmeta().custom_metadata_map)
    inputs = sess.get_inputs()
    if len(inputs) != 1:
        raise ModelRejected(
            "unsupported",
            f"{len(inputs)} inputs {[i.name for i in inputs]}: a bare model must take one image "
            "(a sensor model needs a complete metadata.json)",
        )
    inp = inputs[0]
    dtype = _DTYPES.get(inp.type)
    if dtype not in ("float32", "float16", "uint8"):
        raise ModelRejected(
            "unsupported", f"input {inp.name} has type {inp.type}; an image input is float or uint8"
        )
    shape = [_dim(d) for d in inp.shape]
    if len(shape) == 4 and shape[3] == 3 and shape[1] != 3:
        layout, hw = "NHWC", shape[1:3]
    elif len(shape) == 4:
        layout, hw = "NCHW", shape[2:4]
    elif len(shape) == 3 and shape[0] == 3:
        layout, hw = "CHW", shape[1:3]
    else:
        raise ModelRejected(
            "unsupported", f"input {inp.name} has shape {inp.shape}; expected an image tensor"
        )
    if hw[0] != -1 and hw[1] != -1 and hw[0] != hw[1]:
        raise ModelRejected(
            "unsupported", f"input {inp.name} is {hw[1]}x{hw[0]}; only square inputs are served"
        )
    side_pre = dict(sidecar.get("preprocess") or {})
    size = int(side_pre.get("size") or (hw[0] if hw[0] != -1 else None) or _imgsz(props) or DEFAULT_SIZE)
    ultralytics = "stride" in props or "imgsz" in props
    pre: dict[str, Any] = {
        "size": size,
        "layout": layout,
        "colorOrder": "RGB",
        "scale": 1.0 if dtype == "uint8" else 1.0 / 255.0,
    }
    if ultralytics:  # LetterBox: bilinear from the full-size image
        pre.update({"interpolation": "linear", "reducedDecode": False})
    if layout == "CHW" and hw == [-1, -1]:  # torchvision detection: resizes, maps boxes back itself
        pre.update({"native": True, "reducedDecode": False})
    labels = _labels(props, sidecar)
    batch_static = shape[0] if layout != "CHW" else 1
    probe = {"NCHW": [1, 3, size, size], "NHWC": [1, size, size, 3], "CHW": [3, size, size]}[layout]
    try:
        outs = sess.run(None, {inp.name: np.zeros(probe, np.dtype(dtype))})
    except Exception as exc:
        raise ModelRejected("load_failed", f"a zero image of {probe} fails: {str(exc)[:300]}") from exc
    outputs = sess.get_outputs()
    names = [o.name for o in outputs]
    side_post = dict(sidecar.get("postprocess") or {})
    explicit = decoder or side_post.get("type")
    if explicit:
        kind_of, extra = str(explicit), {}
        if explicit == "nms" and "outputs" not in side_post:
            extra = _decoder(outs, names, labels, props)[1]
    else:
        kind_of, extra = _decoder(outs, names, labels, props)
    if not labels:
        n = outs[0].shape[-1] if kind_of == "classification" else 0
        if kind_of == "yolov8":
            n = outs[0].shape[1] - 4
        elif kind_of == "yolov5":
            n = outs[0].shape[2] - 5
        labels = [f"class{i}" for i in range(max(n, 1))]
    post: dict[str, Any] = {
        "type": kind_of,
        "confidenceThreshold": 0.25,
        "nmsIou": 0.7 if ultralytics else 0.45,
    }
    post.update(extra)
    if kind_of == "cellComponents":
        post["stride"] = max(1, size // max(1, outs[0].shape[-1]))
    if kind_of == "classification":
        pre["letterbox"] = False
    batched_out = layout != "CHW"
    full: dict[str, Any] = {
        "name": name,
        "version": version,
        "kind": "classifier" if kind_of == "classification" else "detector",
        "inputs": [{"name": inp.name, "dtype": dtype, "shape": shape, "batched": layout != "CHW"}],
        "outputs": [
            {
                "name": o.name,
                "dtype": _DTYPES.get(o.type, "float32"),
                "shape": [_dim(d) for d in o.shape],
                "batched": batched_out,
            }
            for o in outputs
        ],
        "sha256": sha256,
        "threshold": post["confidenceThreshold"],
        "labels": labels,
        "preprocess": pre,
        "postprocess": post,
        "batching": {
            "maxBatchSize": batch_static if batch_static > 0 else 8,
            "cpuMaxBatchSize": batch_static if batch_static > 0 else 2,
        },
        "source": "inferred",
    }
    overrides = {
        k: v for k, v in sidecar.items() if k not in ("name", "version", "sha256", "inputs", "outputs")
    }
    merged = _merge(full, overrides)
    if decoder:
        merged["postprocess"]["type"] = decoder
    merged["labels"] = labels
    try:
        meta = ModelMetadata.model_validate(merged)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ModelRejected("bad_metadata", f"{where}: {first['msg']}") from exc
    problem = meta.check_kind()
    if problem:
        raise ModelRejected("bad_metadata", problem)
    return meta
