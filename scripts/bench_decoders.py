"""Time the output decoders on full-size outputs: YOLOv8 [1, 84, 8400] (80 classes at 640) and YOLOv5
[1, 25200, 85], from threshold to detections in frame pixels (NMS and letterbox mapping included).

    python scripts/bench_decoders.py [--runs 300]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_test_models import scene

from inference.models.metadata import ModelMetadata
from inference.vision.decoders import make_decoder
from inference.vision.pre import Letterbox


def _meta(kind: str, out_shape: list[int]) -> ModelMetadata:
    return ModelMetadata.model_validate(
        {
            "name": "bench",
            "version": "1",
            "kind": "detector",
            "inputs": [{"name": "images", "dtype": "float32", "shape": [1, 3, 640, 640]}],
            "outputs": [{"name": "output0", "dtype": "float32", "shape": out_shape}],
            "sha256": "0" * 64,
            "labels": [f"c{i}" for i in range(80)],
            "preprocess": {"size": 640},
            "postprocess": {"type": kind, "confidenceThreshold": 0.25, "nmsIou": 0.7},
        }
    )


def bench(kind: str, runs: int) -> tuple[float, float, int]:
    xywh, scores = scene(np.random.default_rng(1), 640, 8400 if kind == "yolov8" else 25200, 80)
    if kind == "yolov8":
        raw = np.ascontiguousarray(np.concatenate([xywh, scores], axis=1).T[None])
        shape = [1, 84, 8400]
    else:
        obj = scores.max(axis=1, keepdims=True)
        raw = np.ascontiguousarray(np.concatenate([xywh, obj, scores / np.maximum(obj, 1e-6)], axis=1)[None])
        shape = [1, 25200, 85]
    decoder = make_decoder(_meta(kind, shape), None)
    box = Letterbox(1280, 720, 0.5, 0, 140)
    times = []
    n = 0
    for _ in range(runs):
        t0 = time.perf_counter()
        n = len(decoder([raw], 0, box).detections)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95)], n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    for kind, layout in (("yolov8", "[1, 84, 8400]"), ("yolov5", "[1, 25200, 85]")):
        median, p95, n = bench(kind, args.runs)
        print(f"{kind} {layout}: median {median:.3f} ms, p95 {p95:.3f} ms per image, {n} detections")


if __name__ == "__main__":
    main()
