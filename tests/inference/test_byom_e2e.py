"""The ASE GPU sample's contract for real: `python -m inference` with MODEL_PATH at a bare YOLOv8 .onnx, the
local hub, the real SDK, the route `FROM /messages/modules/inference/outputs/* INTO $upstream`."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import inference_reference_post as ref
import pytest
from inference_helpers import MODELS, TESTSET, RunningInference, get_json, post_image, raw_outputs

from edgeloop_dev.hub.harness import wait_for

IMAGE = TESTSET / "defect_001.jpg"


def _expected(threshold: float) -> list[tuple[str, float, list[float]]]:
    (raw,) = raw_outputs(MODELS / "yolov8" / "model.onnx", 320)
    rows = ref.scale_boxes(ref.ultralytics_v8(raw[0], threshold, 0.7), 320, 512, 384)
    labels = ["scratch", "dent", "crack"]
    return [(labels[c], round(s, 4), [round(v, 1) for v in b]) for b, s, c in rows]


def _same(dets: list[dict[str, Any]], want: list[tuple[str, float, list[float]]]) -> bool:
    if len(dets) != len(want):
        return False
    return all(
        d["class"] == c and abs(d["confidence"] - s) < 1.5e-4 and all(abs(x - y) < 0.11 for x, y in zip(d["bbox"], b, strict=True))
        for d, (c, s, b) in zip(dets, want, strict=True)
    )  # fmt: skip


def test_a_bare_yolov8_export_serves_predict_and_frames_and_its_results_reach_upstream(
    tmp_path: Path, start_module: Callable[..., RunningInference]
) -> None:
    shutil.copy(MODELS / "yolov8" / "model.onnx", tmp_path / "defect_model.onnx")
    module = start_module(
        tmp_path / "defect_model.onnx", CONFIDENCE_THRESHOLD="0.5", PREDICTIONS_OUTPUT="predictions"
    )
    want = _expected(0.5)
    status, health = get_json(module.rest + "/health")
    assert status == 200 and health["status"] == "healthy"
    assert health["models"]["defect_detector"]["decoder"] == "yolov8"
    assert "sensor_anomaly" not in health["models"] and health["waiting"] == {}  # vision only
    status, body = post_image(module.rest + "/predict", IMAGE.read_bytes())
    assert status == 200 and _same(body["detections"], want) and body["total"] == len(want)
    predictions = wait_for(lambda: module.upstream_bodies("prediction"), 30)
    (prediction,) = predictions
    assert prediction["data"]["source"] == "rest" and prediction["data"]["model"]["name"] == "defect_detector"
    assert _same(prediction["data"]["detections"], want)
    module.feeder.send(
        "frames", IMAGE.read_bytes(), content_type="image/jpeg", properties={"cameraId": "line-1", "seq": "7"}
    )
    (score,) = wait_for(lambda: module.upstream_bodies("score"), 30)
    assert score["data"]["cameraId"] == "line-1" and _same(score["data"]["detections"], want)
    assert module.reported()["models"]["state"] == "serving"


@pytest.mark.parametrize(
    "layout", ["single-file", "repository"], ids=["MODEL_PATH-file-not-there-yet", "empty-repository"]
)
def test_with_no_model_yet_the_module_runs_says_so_and_loads_the_model_when_it_lands(
    tmp_path: Path, start_module: Callable[..., RunningInference], layout: str
) -> None:
    models = tmp_path / "models"
    models.mkdir()
    target = models / "defect_model.onnx" if layout == "single-file" else models
    module = start_module(target)
    status, health = get_json(module.rest + "/health")
    assert status == 503 and health["status"] == "waiting for model"
    assert "MODEL_PATH=" in health["waiting"]["defect_detector"]
    models_state = module.reported()["models"]
    assert models_state["state"] == "waiting for model" and models_state["loaded"] == {}
    status, body = post_image(module.rest + "/predict", IMAGE.read_bytes())
    assert status == 503 and body["reason"] == "waiting_for_model"
    # a version lands: written under a temporary name, then renamed into place
    dest = (
        models / "defect_model.onnx"
        if layout == "single-file"
        else models / "defect_detector" / "1" / "model.onnx"
    )
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(MODELS / "yolov8" / "model.onnx", dest.with_suffix(".tmp"))
    os.replace(dest.with_suffix(".tmp"), dest)
    wait_for(lambda: module.reported().get("models", {}).get("state") == "serving", 30)
    assert "defect_detector" not in module.reported()["models"]["waiting"]  # no stale entry left
    status, health = get_json(module.rest + "/health")
    assert status == 200 and health["model"]["version"] == "1"
    status, body = post_image(module.rest + "/predict", IMAGE.read_bytes())
    assert status == 200 and _same(body["detections"], _expected(0.25))
    assert module.reported()["status"] == "running"  # it never left
