"""The BentoML 1.4 arm of scripts/bench_inference.py: the defect detector behind BentoML's adaptive batching.

Runs in its own venv (.bench/bentoml, made by the benchmark), never in the project's. The same work per
image as the module: OpenCV reduced decode + letterbox (inference.vision.pre), one batched ONNX Runtime
run, the same post-processing for the whole batch (inference.vision.post.detections_batch). Tuning from
the environment: BENTO_WORKERS (2), BENTO_MAX_BATCH (16), BENTO_MAX_LATENCY_MS (1000: with 60 its
dispatcher answered 503 under load), BENTO_THREADS (ORT intra-op, cores / workers). Multipart field
`images` (BentoML names the field after the parameter).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "shared"), str(ROOT / "modules")]

import bentoml  # noqa: E402
import numpy as np  # noqa: E402

MODEL = ROOT / "modules" / "inference" / "model_repository" / "defect_detector" / "1"
WORKERS = int(os.environ.get("BENTO_WORKERS", "2"))


@bentoml.service(workers=WORKERS, traffic={"timeout": 60}, logging={"access": {"enabled": False}})
class Detector:
    def __init__(self) -> None:
        import onnxruntime as ort

        from inference.vision.post import PostParams

        meta = json.loads((MODEL / "metadata.json").read_text())
        pre, post = meta["preprocess"], meta["postprocess"]
        self.size, self.pad = pre["size"], pre["padValue"]
        self.post = PostParams(tuple(meta["labels"]), post["stride"], post["pixelThreshold"],
                               post["minCells"], post["confidenceThreshold"], post["nmsIou"],
                               post["shrink"])  # fmt: skip
        opts = ort.SessionOptions()
        cores = os.cpu_count() or 1
        opts.intra_op_num_threads = int(os.environ.get("BENTO_THREADS", max(1, cores // WORKERS)))
        self.sess = ort.InferenceSession(str(MODEL / "model.onnx"), opts, providers=["CPUExecutionProvider"])
        self.input = self.sess.get_inputs()[0].name

    @bentoml.api(
        batchable=True,
        max_batch_size=int(os.environ.get("BENTO_MAX_BATCH", "16")),
        max_latency_ms=int(os.environ.get("BENTO_MAX_LATENCY_MS", "1000")),
    )
    def predict(self, images: list[Path]) -> list[dict[str, object]]:
        from inference.vision.post import detections_batch
        from inference.vision.pre import prepare

        prepared = [prepare(p.read_bytes(), self.size, self.pad) for p in images]
        x = np.stack([c for c, _ in prepared]).astype(np.float32).transpose(0, 3, 1, 2) / 255.0
        probs = self.sess.run(None, {self.input: np.ascontiguousarray(x)})[0]
        found = detections_batch(probs, [box for _, box in prepared], self.post)
        return [{"detections": dets, "total": len(dets)} for dets in found]
