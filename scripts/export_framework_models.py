"""Export small detectors with the real frameworks' own exporters and write those frameworks' detections.

Dev-time only (never run by CI or tests). In a throwaway venv outside the repository:

    python3.11 -m venv /tmp/exportvenv
    /tmp/exportvenv/bin/pip install torch==2.14.1 torchvision==0.29.1 ultralytics==8.4.190 onnx onnxslim \
        onnxruntime opencv-python-headless
    /tmp/exportvenv/bin/python scripts/export_framework_models.py [--out tests/data/models/framework]

No weights are downloaded: each model is built from its config with seeded random init. Random weights
detect nothing, so the class branch of the detection head is recalibrated (its last convolution's weights
scaled and bias set from the logits seen on the test images) so that a few dozen boxes per image score
above 0.25 and some above 0.5. Then the framework's own pipeline (Ultralytics `predict` on the exported
.onnx: its LetterBox, its ORT backend, its `non_max_suppression`, its `scale_boxes`) gives the reference
detections, written as `<family>.detections.json` beside `<family>.onnx` (not `<family>.json`:
the module would read that as a sidecar). The first seed is kept whose reference does
not change with a threshold moved 1e-4 either way (no detection sits on a threshold for float noise to
flip); SSDlite's eager scores are checked the same way.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import ultralytics
import yaml
from ultralytics import YOLO

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "tests" / "data" / "models" / "framework"
IMAGES = REPO_ROOT / "tests" / "data" / "vision" / "defects"
NAMES = {0: "scratch", 1: "spot", 2: "crack"}  # tests/data/vision/defects/labels.json
IMGSZ = 320
OPSET = 17
CONFS = (0.25, 0.5)
IOU = 0.7  # Ultralytics' predict default
MARGIN = 1e-4  # no reference may change with the threshold moved this much (float noise: ~1e-6)
SEEDS = 40

# the stock Ultralytics configs (yolov8.yaml, yolo11.yaml) at a tiny width so each .onnx stays small
FAMILIES: dict[str, tuple[str, float]] = {
    "yolov8": ("yolov8.yaml", 0.0625),
    "yolo11": ("yolo11.yaml", 0.125),  # C2PSA needs >= 64 channels for its one attention head
    "yolov5u": ("yolov5.yaml", 0.0625),  # YOLOv5u: the v5 backbone with the anchor-free v8 head
}


def images(out: Path) -> list[Path]:
    """Three 512x384 test frames and one portrait crop (letterbox padding left and right)."""
    picks = [IMAGES / f"defect_{i:03d}.jpg" for i in (1, 2, 5)]
    portrait = out / "portrait.jpg"
    img = cv2.imread(str(IMAGES / "defect_003.jpg"))
    crop = cv2.rotate(img[:, 100:400], cv2.ROTATE_90_CLOCKWISE)  # 384 x 300 -> 300 wide, 384 tall
    cv2.imwrite(str(portrait), crop, [cv2.IMWRITE_JPEG_QUALITY, 90])
    return [*picks, portrait]


def _config(base: str, width: float, work: Path) -> Path:
    """The stock config with one scale: depth 0.33, the given width, at most 1024 channels."""
    src = Path(ultralytics.__file__).parent / "cfg" / "models"
    found = next(src.rglob(base))
    cfg = yaml.safe_load(found.read_text())
    cfg.pop("scales", None)
    cfg.update({"nc": len(NAMES), "depth_multiple": 0.33, "width_multiple": width, "max_channels": 1024})
    path = work / f"tiny_{base}"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _calibrate(model: YOLO, frames: list[Path]) -> None:
    """Variance-keeping init everywhere, then scale and shift the class branch's logits so that the
    top 1% of (box, class) candidates score above 0.25 and the top 0.1% above 0.55."""
    head = model.model.model[-1]
    fixed = set(head.dfl.modules())  # DFL's conv is the fixed arange(reg_max) expectation, not a weight
    for m in model.model.modules():  # PyTorch's default init shrinks activations ~1e-8 over this depth
        if isinstance(m, torch.nn.Conv2d) and m not in fixed:
            torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
    convs = [branch[-1] for branch in head.cv3]
    for conv in convs:
        torch.nn.init.zeros_(conv.bias)
    net = model.model.eval()
    from ultralytics.data.augment import LetterBox

    batch = []
    for f in frames:
        canvas = LetterBox((IMGSZ, IMGSZ), auto=False)(image=cv2.imread(str(f)))
        batch.append(canvas[:, :, ::-1].transpose(2, 0, 1) / 255.0)
    x = torch.from_numpy(np.ascontiguousarray(np.stack(batch), np.float32))
    with torch.no_grad():
        y = net(x)
        y = y[0] if isinstance(y, list | tuple) else y
    p = y[:, 4:].clamp(1e-7, 1 - 1e-7)
    logits = torch.log(p / (1 - p)).flatten()
    q99, q999 = (float(torch.quantile(logits, q)) for q in (0.99, 0.999))
    lo, hi = float(np.log(0.25 / 0.75)), float(np.log(0.55 / 0.45))
    a = (hi - lo) / (q999 - q99)
    c = lo - a * q99
    with torch.no_grad():
        for conv in convs:
            conv.weight.mul_(a)
            conv.bias.fill_(c)


def _reference(onnx: Path, frames: list[Path]) -> dict[str, Any]:
    """Ultralytics' own detections (predict on the exported .onnx) per image and confidence threshold."""
    model = YOLO(str(onnx), task="detect")
    out: dict[str, Any] = {}
    for conf in CONFS:
        per_image = {}
        for f in frames:
            (r,) = model.predict(str(f), imgsz=IMGSZ, conf=conf, iou=IOU, verbose=False)
            b = r.boxes
            per_image[f.name] = [
                {"class": int(c), "score": float(s), "xyxy": [float(v) for v in box]}
                for box, s, c in zip(b.xyxy.tolist(), b.conf.tolist(), b.cls.tolist(), strict=True)
            ]
        out[str(conf)] = per_image
    return out


def _stable(onnx: Path, frames: list[Path], ref: dict[str, Any]) -> bool:
    """The same detections with each threshold moved by MARGIN either way (no score sits at a threshold)."""
    model = YOLO(str(onnx), task="detect")
    for conf in CONFS:
        for delta in (-MARGIN, MARGIN):
            for f in frames:
                (r,) = model.predict(str(f), imgsz=IMGSZ, conf=conf + delta, iou=IOU, verbose=False)
                if len(r.boxes) != len(ref[str(conf)][f.name]):
                    return False
    return True


def ultralytics_family(family: str, out: Path, frames: list[Path]) -> str:
    """Build, calibrate, export with Ultralytics' exporter, and write the reference detections."""
    base, width = FAMILIES[family]
    for seed in range(SEEDS):  # the first seed whose detections no float noise at a threshold can flip
        with tempfile.TemporaryDirectory() as tmp:
            torch.manual_seed(seed)
            model = YOLO(str(_config(base, width, Path(tmp))), task="detect")
            model.model.names = dict(NAMES)
            _calibrate(model, frames)
            exported = model.export(format="onnx", imgsz=IMGSZ, opset=OPSET, simplify=True, dynamic=False)
            dest = out / f"{family}.onnx"
            shutil.move(Path(exported), dest)
        ref = _reference(dest, frames)
        if _stable(dest, frames, ref):
            break
    else:
        raise SystemExit(f"{family}: no seed below {SEEDS} gives detections stable at the thresholds")
    meta = {
        "family": family,
        "producer": f"ultralytics {ultralytics.__version__}, torch {torch.__version__}",
        "command": f"YOLO(tiny {base}, width {width}).export(format='onnx', imgsz={IMGSZ}, opset={OPSET}, "
        "simplify=True); reference: YOLO(onnx).predict(image, imgsz, conf, iou=0.7)",
        "seed": seed,
        "imgsz": IMGSZ,
        "iou": IOU,
        "names": NAMES,
        "detections": ref,
    }
    (out / f"{family}.detections.json").write_text(json.dumps(meta, indent=1) + "\n")
    counts = {c: sum(len(v) for v in ref[c].values()) for c in ref}
    return f"{dest.name}: {dest.stat().st_size} bytes, detections per threshold {counts}"


def _calibrate_ssd(model: torch.nn.Module, tensors: list[torch.Tensor]) -> None:
    """Variance-keeping init, then class logits scaled to std 1 and the background logit raised until
    1% of the median image's (box, class) scores pass 0.25 (random heads otherwise score every class ~1/4)."""
    for m in model.modules():  # the default init leaves class logits ~1e-19 at this width
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
    heads = [seq[-1] for seq in model.head.classification_head.module_list]
    nc = len(NAMES) + 1
    with torch.no_grad():
        for conv in heads:
            conv.bias.zero_()
        images, _ = model.transform(tensors)
        logits = model.head.classification_head(list(model.backbone(images.tensors).values()))
        a = 1.0 / float(logits.std())
        scaled = logits * a
        grid = torch.linspace(0, 20, 401)
        background = torch.eye(nc)[0]
        share = [  # the median image's share
            float((torch.softmax(scaled + background * b, -1)[..., 1:] > 0.25).float().mean((1, 2)).median())
            for b in grid
        ]
        bias = float(grid[int(np.argmin(np.abs(np.array(share) - 0.01)))])
        for conv in heads:
            conv.weight.mul_(a)
            conv.bias.view(-1, nc)[:, 0] = bias


def torchvision_ssdlite(out: Path, frames: list[Path]) -> str:
    """torchvision SSDlite (MobileNetV3 at width 0.25, 3 classes + background), exported by
    `torch.onnx.export` with NMS inside; the reference is the eager model on each decoded image."""
    import torchvision
    from torchvision.io import ImageReadMode, decode_image
    from torchvision.models.detection import ssdlite320_mobilenet_v3_large

    torch.manual_seed(0)
    model = ssdlite320_mobilenet_v3_large(
        weights=None, weights_backbone=None, num_classes=len(NAMES) + 1, width_mult=0.25,
        detections_per_img=100,
    ).eval()  # fmt: skip
    tensors = [decode_image(str(f), mode=ImageReadMode.RGB).float() / 255.0 for f in frames]
    _calibrate_ssd(model, tensors)
    dest = out / "ssdlite.onnx"
    torch.onnx.export(
        model, ([tensors[0]],), str(dest), opset_version=OPSET, input_names=["images"],
        output_names=["boxes", "scores", "labels"],  # the order of torchvision's result dict
        dynamic_axes={"images": {1: "height", 2: "width"}, "boxes": {0: "num"}, "scores": {0: "num"},
                      "labels": {0: "num"}},
        dynamo=False,
    )  # fmt: skip
    detections: dict[str, Any] = {}
    with torch.no_grad():
        results = [model([t])[0] for t in tensors]
    near = min(abs(float(x) - c) for r in results for x in r["scores"] for c in CONFS)
    if near < MARGIN:
        raise SystemExit(f"ssdlite: an eager score lies {near:.1e} from a threshold; change the calibration")
    for conf in CONFS:
        detections[str(conf)] = {
            f.name: [
                {"class": int(c), "score": float(s), "xyxy": [float(v) for v in b]}
                for b, c, s in zip(*(r[k].tolist() for k in ("boxes", "labels", "scores")), strict=True)
                if s > conf
            ]
            for f, r in zip(frames, results, strict=True)
        }  # fmt: skip
    meta = {
        "family": "ssdlite",
        "producer": f"torchvision {torchvision.__version__}, torch {torch.__version__}",
        "command": "ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=4, "
        f"width_mult=0.25, detections_per_img=100); torch.onnx.export(opset={OPSET}, dynamo=False, "
        "dynamic H, W); reference: the eager model on decode_image(RGB)/255, scores above conf",
        "names": {0: "__background__", **{k + 1: v for k, v in NAMES.items()}},
        "detections": detections,
    }
    (out / "ssdlite.detections.json").write_text(json.dumps(meta, indent=1) + "\n")
    counts = {c: sum(len(v) for v in detections[c].values()) for c in detections}
    return f"{dest.name}: {dest.stat().st_size} bytes, detections per threshold {counts}"


MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]  # torchvision's ImageNet normalisation


def torchvision_classifier(out: Path, frames: list[Path]) -> str:
    """torchvision mobilenet_v3_small (width 0.5, 3 classes) by `torch.onnx.export`; the reference is the
    eager model's softmax on v2 Resize(224, bilinear, antialias=False) + Normalize of the decoded image.
    The graph carries neither names nor normalisation, so a sidecar `<name>.json` gives both."""
    import torchvision
    from torchvision.io import ImageReadMode, decode_image
    from torchvision.models import mobilenet_v3_small
    from torchvision.transforms import v2

    torch.manual_seed(0)
    model = mobilenet_v3_small(weights=None, num_classes=len(NAMES), width_mult=0.5).eval()
    tf = v2.Compose(
        [
            v2.Resize((224, 224), antialias=False),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(MEAN, STD),
        ]
    )
    x = torch.stack([tf(decode_image(str(f), mode=ImageReadMode.RGB)) for f in frames])
    with torch.no_grad():  # variance-keeping init, then logits scaled to std 1 (else every class ~1/3)
        for m in model.modules():
            if isinstance(m, torch.nn.Conv2d | torch.nn.Linear):
                torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
        std = float(model(x).std())
        model.classifier[-1].weight.div_(std)
        model.classifier[-1].bias.div_(std)
        probs = torch.softmax(model(x), -1)
    dest = out / "mobilenet_v3_small.onnx"
    torch.onnx.export(
        model, (x[:1],), str(dest), opset_version=OPSET, input_names=["images"], output_names=["logits"],
        dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}}, dynamo=False,
    )  # fmt: skip
    sidecar = {
        "labels": [NAMES[i] for i in range(len(NAMES))],
        "preprocess": {"interpolation": "linear", "reducedDecode": False, "mean": MEAN, "std": STD},
    }
    (out / "mobilenet_v3_small.json").write_text(json.dumps(sidecar, indent=1) + "\n")
    meta = {
        "family": "mobilenet_v3_small",
        "producer": f"torchvision {torchvision.__version__}, torch {torch.__version__}",
        "command": "mobilenet_v3_small(weights=None, num_classes=3, width_mult=0.5); torch.onnx.export("
        f"opset={OPSET}, dynamo=False); reference: softmax of the eager model on v2.Resize((224, 224), "
        "antialias=False) + ToDtype(scale) + Normalize(ImageNet) of decode_image(RGB)",
        "probabilities": {f.name: [float(v) for v in p] for f, p in zip(frames, probs, strict=True)},
    }
    (out / "mobilenet_v3_small.detections.json").write_text(json.dumps(meta, indent=1) + "\n")
    return f"{dest.name}: {dest.stat().st_size} bytes"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--families", nargs="*", default=[*FAMILIES, "ssdlite", "mobilenet_v3_small"])
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    frames = images(args.out)
    for family in args.families:
        if family == "ssdlite":
            print(torchvision_ssdlite(args.out, frames))
        elif family == "mobilenet_v3_small":
            print(torchvision_classifier(args.out, frames))
        else:
            print(ultralytics_family(family, args.out, frames))


if __name__ == "__main__":
    main()
