"""Judged by parts we did not write: detectors exported by the real frameworks' own exporters
(scripts/export_framework_models.py), served from a bare MODEL_PATH .onnx, give the detections the
framework itself gives on the same images (its preprocessing, its NMS, its mapping back to the frame)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from inference_helpers import ROOT, TESTSET
from inference_serving import Served
from inference_serving import serve as _serve

from inference.service import InferenceService

FRAMEWORK = ROOT / "tests" / "data" / "models" / "framework"
ULTRALYTICS = ["yolov8", "yolo11", "yolov5u"]
# Our boxes are rounded to 0.1 px and our scores to 1e-4; the rest is float32 run-to-run noise of the same
# ORT graph on the same pixels (same letterbox, same padding), so the framework's boxes agree to well
# under a pixel. A different preprocessing (INTER_AREA, reduced JPEG decode, other padding) moves boxes
# by pixels and scores by 1e-2, and a different NMS changes the count: both fail here.
BOX_TOL_PX = 0.2
SCORE_TOL = 1e-3


def _reference(family: str) -> dict[str, Any]:
    # the bare file as a user has it: no `<name>.json` nor `metadata.json` the module would read as a sidecar
    assert not (FRAMEWORK / f"{family}.json").exists() and not (FRAMEWORK / "metadata.json").exists()
    data: dict[str, Any] = json.loads((FRAMEWORK / f"{family}.detections.json").read_text())
    return data


def _image(name: str) -> Path:
    return FRAMEWORK / name if (FRAMEWORK / name).exists() else TESTSET / name


def _close(ours: tuple[int, float, list[float]], theirs: tuple[int, float, list[float]]) -> bool:
    (gc, gs, gb), (wc, ws, wb) = ours, theirs
    return (
        gc == wc
        and abs(gs - ws) <= SCORE_TOL
        and all(abs(g - w) <= BOX_TOL_PX for g, w in zip(gb, wb, strict=True))
    )


def _assert_same_as_framework(got: list[dict[str, Any]], want: list[dict[str, Any]], where: str) -> None:
    """Same count, and each framework detection has its own match (class, score, box within tolerance)."""
    ours = [(d["classId"], d["confidence"], d["bbox"]) for d in got]
    theirs = [(w["class"], w["score"], w["xyxy"]) for w in want]
    assert len(ours) == len(theirs), f"{where}: {len(ours)} detections, the framework {len(theirs)}"
    free = list(ours)
    for det in theirs:  # matched one to one: rounding to 1e-4 may reorder near-equal scores
        match = next((o for o in free if _close(o, det)), None)
        assert match is not None, f"{where}: no match for the framework's {det}"
        free.remove(match)


async def _detect_all(svc: InferenceService, images: list[str]) -> dict[str, list[dict[str, Any]]]:
    served = Served(svc)
    return {name: (await served.detect(_image(name).read_bytes())).detections for name in images}


@pytest.mark.parametrize("family", ULTRALYTICS)
async def test_an_ultralytics_export_served_bare_gives_ultralytics_own_detections(
    services: list[InferenceService],
    family: str,
) -> None:
    ref = _reference(family)
    svc = await _serve(FRAMEWORK / f"{family}.onnx")  # the single file, no sidecar: all from metadata_props
    services.append(svc)
    loaded = svc.manager.current["defect_detector"]
    assert loaded.describe()["decoder"] == "yolov8"
    assert loaded.files.metadata.labels == [ref["names"][str(i)] for i in range(len(ref["names"]))]
    want = ref["detections"]["0.25"]  # Ultralytics' predict default conf is 0.25, ours too
    got = await _detect_all(svc, list(want))
    assert sum(len(v) for v in want.values()) > 0
    for name in want:
        _assert_same_as_framework(got[name], want[name], f"{family} {name}")


@pytest.mark.parametrize("family", ULTRALYTICS)
async def test_confidence_threshold_changes_the_set_as_ultralytics_conf_does(
    services: list[InferenceService],
    family: str,
) -> None:
    ref = _reference(family)
    svc = await _serve(FRAMEWORK / f"{family}.onnx", confidence_threshold=0.5)
    services.append(svc)
    want = ref["detections"]["0.5"]
    loose = sum(len(v) for v in ref["detections"]["0.25"].values())
    assert 0 < sum(len(v) for v in want.values()) < loose  # the threshold does change the set
    got = await _detect_all(svc, list(want))
    for name in want:
        _assert_same_as_framework(got[name], want[name], f"{family} {name} conf 0.5")


@pytest.mark.parametrize("threshold", [None, 0.5], ids=["default-0.25", "CONFIDENCE_THRESHOLD-0.5"])
async def test_a_torchvision_ssdlite_export_gives_the_eager_models_detections_on_the_frame_as_it_is(
    services: list[InferenceService],
    threshold: float | None,
) -> None:
    """torchvision exports resize and map boxes back inside the graph: the frame goes in unresized
    (letterboxing it first gave other boxes and scores than the eager model on the same image)."""
    ref = _reference("ssdlite")
    svc = await _serve(FRAMEWORK / "ssdlite.onnx", confidence_threshold=threshold)
    services.append(svc)
    loaded = svc.manager.current["defect_detector"]
    assert loaded.describe()["decoder"] == "nms"
    assert loaded.files.metadata.preprocess is not None and loaded.files.metadata.preprocess.native
    want = ref["detections"]["0.25" if threshold is None else "0.5"]
    assert sum(len(v) for v in want.values()) > 0
    got = await _detect_all(svc, list(want))
    for name in want:  # class ids as torchvision's (0 is background); names need a sidecar `labels`
        _assert_same_as_framework(got[name], want[name], f"ssdlite {name} conf {threshold}")


# cv2's and torchvision's bilinear resize round uint8 differently (at most 1 level, on ~23% of pixels, on
# these frames); a random-weight net turns that into up to ~8e-3 of probability. The class order must hold.
PROB_TOL = 1e-2


async def test_a_torchvision_classifier_export_gives_the_eager_models_probabilities(
    services: list[InferenceService],
) -> None:
    """The graph carries neither names nor normalisation: its sidecar `<name>.json` gives both."""
    ref = json.loads((FRAMEWORK / "mobilenet_v3_small.detections.json").read_text())["probabilities"]
    svc = await _serve(FRAMEWORK / "mobilenet_v3_small.onnx")
    services.append(svc)
    loaded = svc.manager.current["defect_detector"]
    assert (loaded.files.metadata.kind, loaded.describe()["decoder"]) == ("classifier", "classification")
    labels = loaded.files.metadata.labels
    for name, want in ref.items():
        result = await Served(svc).detect(_image(name).read_bytes())
        got = {c["classId"]: c["confidence"] for c in result.classes}
        assert [c["classId"] for c in result.classes] == sorted(range(len(want)), key=lambda i: -want[i])
        assert [c["class"] for c in result.classes] == [labels[c["classId"]] for c in result.classes]
        for i, p in enumerate(want):
            assert got[i] == pytest.approx(p, abs=PROB_TOL), f"{name} class {i}"
