"""Bring your own model: each family's export layout, served from a bare .onnx, gives the detections its
exporter's documented post-processing gives (the judges in inference_reference_post.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import inference_reference_post as ref
import numpy as np
import onnx
import pytest
from inference_helpers import MODELS, ROOT, raw_outputs
from inference_serving import IMAGE, Served
from inference_serving import serve as _serve
from onnx import TensorProto, helper

from inference.engine.processors import FrameResult
from inference.errors import ModelRejected
from inference.service import InferenceService
from inference.vision.post import PostParams, components_batch
from inference.vision.pre import prepare

LABELS = ["scratch", "dent", "crack"]


def _rows(result: FrameResult) -> list[tuple[int, float, list[float]]]:
    return [(d["classId"], d["confidence"], d["bbox"]) for d in result.detections]


def _expected(rows: list[ref.Row], size: int) -> list[tuple[int, float, list[float]]]:
    mapped = ref.scale_boxes(rows, size, 512, 384)
    return [(cls, round(conf, 4), [round(v, 1) for v in box]) for box, conf, cls in mapped]


def _assert_same(
    got: list[tuple[int, float, list[float]]], want: list[tuple[int, float, list[float]]]
) -> None:
    assert len(got) == len(want) > 0
    for (gc, gs, gb), (wc, ws, wb) in zip(got, want, strict=True):
        assert gc == wc
        assert gs == pytest.approx(ws, abs=1.5e-4)
        assert gb == pytest.approx(wb, abs=0.11)  # float32 here, float64 in the judge, one decimal


@pytest.mark.parametrize("threshold", [None, 0.5], ids=["default-0.25", "CONFIDENCE_THRESHOLD-0.5"])
@pytest.mark.parametrize(
    ("family", "size", "judge"),
    [
        pytest.param("yolov8", 320, "v8", id="yolov8-static"),
        pytest.param("yolov8_dynamic", 320, "v8", id="yolov8-dynamic-batch"),
        pytest.param("yolov5", 160, "v5", id="yolov5"),
    ],
)
async def test_yolo_exports_give_ultralytics_detections_mapped_back_to_the_frame(
    services: list[InferenceService], family: str, size: int, judge: str, threshold: float | None
) -> None:
    model = MODELS / family / "model.onnx"
    svc = await _serve(model, confidence_threshold=threshold)
    services.append(svc)
    loaded = svc.manager.current["defect_detector"]
    assert loaded.describe()["decoder"] == ("yolov8" if judge == "v8" else "yolov5")
    assert loaded.files.metadata.labels == LABELS  # from metadata_props `names`
    conf = 0.25 if threshold is None else threshold
    (raw,) = raw_outputs(model, size)
    rows = ref.ultralytics_v8(raw[0], conf, 0.7) if judge == "v8" else ref.yolov5(raw[0], conf, 0.7)
    result = await Served(svc).detect()
    _assert_same(_rows(result), _expected(rows, size))
    assert all(d["confidence"] > conf for d in result.detections)
    assert {d["class"] for d in result.detections} <= set(LABELS)


def _nms_inside_reference(family: str, conf: float) -> list[ref.Row]:
    outs = raw_outputs(MODELS / family / "model.onnx", {"tf_od_api": 300}.get(family, 320))
    rows: list[ref.Row] = []
    if family == "yolov8_nms":
        for x1, y1, x2, y2, score, cls in outs[0][0]:
            if score > conf:
                rows.append(([float(x1), float(y1), float(x2), float(y2)], float(score), int(cls)))
    elif family == "tf_od_api":
        boxes, classes, scores, num = outs
        for i in range(int(num[0])):
            ymin, xmin, ymax, xmax = (float(v) * 300 for v in boxes[0, i])
            if scores[0, i] > conf:
                rows.append(([xmin, ymin, xmax, ymax], float(scores[0, i]), int(classes[0, i]) - 1))
    else:  # torchvision: boxes, labels, scores for the one image
        boxes, labels, scores = outs
        for b, lab, s in zip(boxes, labels, scores, strict=True):
            if s > conf:
                rows.append(([float(v) for v in b], float(s), int(lab)))
    return sorted(rows, key=lambda r: -r[1])


@pytest.mark.parametrize(
    ("family", "size"),
    [
        pytest.param("yolov8_nms", 320, id="ultralytics-nms-export-[1,300,6]"),
        pytest.param("tf_od_api", 300, id="tf-od-api-normalised-yxyx-1-based"),
        pytest.param("torchvision", 320, id="torchvision-unbatched-chw-frame-as-it-is"),
    ],
)
async def test_models_with_nms_inside_give_their_own_detections_mapped_back(
    services: list[InferenceService], family: str, size: int
) -> None:
    svc = await _serve(MODELS / family)  # a folder holding one .onnx (+ a sidecar where needed)
    services.append(svc)
    assert svc.manager.current["defect_detector"].describe()["decoder"] == "nms"
    result = await Served(svc).detect()
    rows = _nms_inside_reference(family, 0.25)
    if family == "torchvision":  # it resizes and maps its boxes back itself: the frame goes in as it is
        frame = (512, 384, 512, 384)
        want = [
            (c, round(s, 4), [round(min(max(v, 0.0), f), 1) for v, f in zip(b, frame, strict=True)])
            for b, s, c in rows
        ]
        _assert_same(_rows(result), want)
    else:
        _assert_same(_rows(result), _expected(rows, size))


async def test_a_classifier_reports_its_top_classes(services: list[InferenceService]) -> None:
    svc = await _serve(MODELS / "classifier" / "model.onnx")
    services.append(svc)
    loaded = svc.manager.current["defect_detector"]
    assert (loaded.files.metadata.kind, loaded.describe()["decoder"]) == ("classifier", "classification")
    result = await Served(svc).detect()
    assert result.detections == []
    assert [(c["class"], c["confidence"]) for c in result.classes] == [
        ("dent", 0.81),
        ("crack", 0.12),
        ("scratch", 0.07),
    ]


def test_the_ultralytics_preprocessing_gives_letterbox_pixels() -> None:
    data = IMAGE.read_bytes()
    canvas, box = prepare(data, 320, 114, letterboxed=True, linear=True, reduced=False)
    want = ref.letterbox(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), 320)
    assert canvas.shape == want.shape == (320, 320, 3)
    assert np.array_equal(canvas, want)
    assert (box.pad_x, box.pad_y, box.scale) == (0, 40, 0.625)


async def test_the_decoder_setting_overrides_what_is_inferred(services: list[InferenceService]) -> None:
    svc = await _serve(MODELS / "yolov8" / "model.onnx", decoder="yolov5")
    services.append(svc)
    assert svc.manager.current["defect_detector"].describe()["decoder"] == "yolov5"


def _unservable(path: Path) -> None:
    """Two inputs and outputs no decoder knows."""
    graph = helper.make_graph(
        [helper.make_node("Add", ["a", "b"], ["mystery"])],
        "odd",
        [
            helper.make_tensor_value_info("a", TensorProto.FLOAT, [1, 3, 32, 32]),
            helper.make_tensor_value_info("b", TensorProto.FLOAT, [1, 3, 32, 32]),
        ],
        [helper.make_tensor_value_info("mystery", TensorProto.FLOAT, [1, 3, 32, 32])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path.write_bytes(model.SerializeToString())


async def test_a_model_that_cannot_be_served_is_refused_with_one_error_naming_the_setting(
    tmp_path: Path, services: list[InferenceService]
) -> None:
    _unservable(tmp_path / "odd.onnx")
    svc = await _serve(tmp_path / "odd.onnx")  # no exception: the module keeps running
    services.append(svc)
    status = svc.status()
    assert status["loaded"] == {} and status["state"] == "model refused"
    refused = status["refused"]["defect_detector"]
    assert refused["reason"] == "unsupported"
    assert f"MODEL_PATH={tmp_path / 'odd.onnx'}" in refused["error"]
    assert "2 inputs" in refused["error"]
    with pytest.raises(ModelRejected) as err:
        await Served(svc).detect()
    assert err.value.reason == "not_loaded"


async def test_a_sidecar_metadata_json_supplies_what_the_graph_does_not_say(
    tmp_path: Path, services: list[InferenceService]
) -> None:
    shutil.copy(MODELS / "yolov8" / "model.onnx", tmp_path / "defect_model.onnx")
    (tmp_path / "metadata.json").write_text(
        json.dumps(
            {"labels": ["a", "b", "c"], "postprocess": {"confidenceThreshold": 0.6, "maxDetections": 2}}
        )
    )
    svc = await _serve(tmp_path / "defect_model.onnx")
    services.append(svc)
    result = await Served(svc).detect()
    assert len(result.detections) == 2
    assert all(d["confidence"] > 0.6 and d["class"] in ("a", "b", "c") for d in result.detections)


async def test_a_vision_only_deployment_needs_no_sensor_model(services: list[InferenceService]) -> None:
    svc = await _serve(MODELS / "yolov8" / "model.onnx")
    services.append(svc)
    status = svc.status()
    assert list(status["loaded"]) == ["defect_detector"]
    assert status["waiting"] == {} and status["refused"] == {} and status["state"] == "serving"


def test_the_committed_test_models_are_what_the_script_makes(tmp_path: Path) -> None:
    import subprocess
    import sys

    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_test_models.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=110,
    )
    for made in sorted(tmp_path.rglob("*")):
        if made.is_file():
            assert made.read_bytes() == (MODELS / made.relative_to(tmp_path)).read_bytes(), made.name
    onnx.checker.check_model(onnx.load(str(MODELS / "yolov8" / "model.onnx")), full_check=True)


@pytest.mark.parametrize("n", [300, 3000], ids=["one-offset-matrix", "per-class-matrices"])
def test_class_aware_nms_keeps_what_greedy_nms_per_class_keeps(n: int) -> None:
    from inference.vision.decoders import batched_nms

    rng = np.random.default_rng(n)
    xy = rng.uniform(0, 600, (n, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(10, 80, (n, 2))], axis=1).astype(np.float32)
    scores = rng.uniform(0, 1, n).astype(np.float32)
    classes = rng.integers(0, 3, n)
    keep = batched_nms(boxes, scores, classes, 0.5)
    rows = [([float(v) for v in b], float(s), int(c)) for b, s, c in zip(boxes, scores, classes, strict=True)]
    want = ref._nms(rows, 0.5, max_det=n)
    got = [rows[int(i)] for i in keep]
    assert [(r[2], r[1]) for r in got] == [(r[2], r[1]) for r in want]


@pytest.mark.parametrize("seed", range(40))
def test_cell_maps_of_a_whole_batch_give_each_image_s_own_components(seed: int) -> None:
    """One labelling pass for the batch (maps stacked) finds what each map alone gives, in the same order."""
    rng = np.random.default_rng(seed)
    b, c, h, w = (int(v) for v in rng.integers((1, 2, 1, 1), (5, 6, 40, 40)))
    probs = rng.random((b, c, h, w), dtype=np.float32) ** rng.uniform(0.2, 3)
    params = PostParams(tuple(f"c{i}" for i in range(1, c)), 2, float(rng.uniform(0, 0.9)),
                        int(rng.integers(1, 4)), 0.0, 0.5, float(rng.uniform(0, 0.5)))  # fmt: skip
    got = components_batch(probs, params)
    for i in range(b):
        want = ref.cell_components(probs[i], params.pixel_threshold, params.min_cells, 2, params.shrink)
        boxes, confs, classes = got[i]
        assert [int(k) for k in classes] == [k for k, _, _ in want]
        np.testing.assert_array_equal(boxes, np.array([box for _, box, _ in want], np.float32).reshape(-1, 4))
        np.testing.assert_array_equal(confs, np.array([conf for _, _, conf in want], np.float32))
