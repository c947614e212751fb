"""Shadow evaluation in process on real sessions: the candidate sees a share of the real inputs, its
agreement and latency are summarised, the active results are never touched, promotion swaps it in."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest
from inference_helpers import MODELS, TESTSET, Sink, add_version, copy_repo, plant_messages

from edgeloop_runtime.metrics import Metrics
from inference.service import InferenceService
from inference.settings import Settings
from inference.shadow.compare import Sampler, correlation, frame_agreement
from inference.telemetry_metrics import InferenceMetrics

IMAGES = [p.read_bytes() for p in sorted(TESTSET.glob("*.jpg"))[:12]]


def _det(cls: str, box: list[float], conf: float = 0.9) -> dict[str, Any]:
    return {"class": cls, "confidence": conf, "bbox": box}


@pytest.mark.parametrize(
    ("active", "candidate", "agreement"),
    [
        pytest.param([], [], 1.0, id="both-empty-agree"),
        pytest.param([_det("a", [0, 0, 10, 10])], [_det("a", [1, 1, 11, 11])], 1.0, id="same-class-iou-0.68"),
        pytest.param([_det("a", [0, 0, 10, 10])], [_det("b", [0, 0, 10, 10])], 0.0, id="other-class"),
        pytest.param([_det("a", [0, 0, 10, 10])], [_det("a", [5, 5, 15, 15])], 0.0, id="iou-0.14"),
        pytest.param(
            [_det("a", [0, 0, 10, 10]), _det("a", [20, 20, 30, 30])],
            [_det("a", [0, 0, 10, 10])],
            0.5,
            id="one-of-two-found",
        ),
        pytest.param([_det("a", [0, 0, 10, 10])], [], 0.0, id="candidate-missed-it"),
        pytest.param(
            [_det("a", [5, 0, 9, 0])], [_det("a", [5, 0, 9, 0])], 1.0, id="equal-boxes-clipped-flat"
        ),
    ],
)
def test_detections_agree_when_matched_by_class_and_iou(
    active: list[dict[str, Any]], candidate: list[dict[str, Any]], agreement: float
) -> None:
    assert frame_agreement(active, candidate) == agreement


def test_the_sampler_takes_the_configured_share_evenly() -> None:
    sampler = Sampler(0.25)
    assert [sampler.take() for _ in range(8)] == [False, False, False, True] * 2
    # by hand: sum dx*dy = 4.5, sum dx^2 = 2, sum dy^2 = 10.1667 -> 4.5 / sqrt(20.333) = 0.99795
    assert correlation([(1, 2), (2, 4), (3, 6.5)]) == pytest.approx(0.99795, abs=1e-5)


def _repo(tmp_path: Path, candidate: str) -> Path:
    repo = tmp_path / "repo"
    for version, family in (("1", "yolov8"), ("2", candidate), ("3", "yolov8")):
        (repo / "defect_detector" / version).mkdir(parents=True)
        shutil.copy(MODELS / family / "model.onnx", repo / "defect_detector" / version / "model.onnx")
    return repo


async def _service(repo: Path, **settings: Any) -> InferenceService:
    svc = InferenceService(
        Settings(model_path=str(repo), providers=["cpu"], drift_enabled=False, rest_port=-1, **settings),
        InferenceMetrics(Metrics("inference", "test")),
    )
    await svc.load_all(svc.settings)
    return svc


async def _settle(svc: InferenceService) -> None:
    """Until every shadow request started so far has finished."""
    while svc.shadows.tasks:
        await asyncio.gather(*svc.shadows.tasks, return_exceptions=True)


@pytest.mark.parametrize(
    ("candidate", "agrees"), [("yolov8", True), ("yolov5", False)], ids=["same-model", "other-model"]
)
async def test_a_candidate_sees_a_share_of_the_frames_and_its_agreement_is_summarised(
    tmp_path: Path, services: list[InferenceService], candidate: str, agrees: bool
) -> None:
    repo = _repo(tmp_path, candidate)
    pins = {"defect_detector": "1"}
    plain = await _service(repo, model_versions=pins)
    shadowed = await _service(
        repo, model_versions=pins, shadow_versions={"defect_detector": "2"}, shadow_share=0.5
    )
    services += [plain, shadowed]
    assert shadowed.status()["shadow"]["defect_detector"]["version"] == "2"
    for image in IMAGES:
        (_, want), (loaded, got) = await plain.detect(image, "rest"), await shadowed.detect(image, "rest")
        assert loaded.version == "1" and got == want  # the active results are the candidate-free ones
    await _settle(shadowed)
    (summary,) = shadowed.take_summaries()
    assert (summary["activeVersion"], summary["candidateVersion"]) == ("1", "2")
    assert summary["samples"] == len(IMAGES) // 2 and summary["errors"] == 0
    assert (summary["agreement"] == 1.0) is agrees
    assert summary["latencyMs"]["candidate"]["p50"] > 0 and summary["latencyMs"]["active"]["p95"] > 0
    assert shadowed.take_summaries() == []  # a new period starts empty


async def test_a_sensor_candidate_is_judged_by_score_correlation(
    tmp_path: Path, services: list[InferenceService]
) -> None:
    repo = copy_repo(tmp_path / "repo")
    add_version(repo, "sensor_anomaly", "1", "2")
    svc = await _service(
        repo,
        model_versions={"sensor_anomaly": "1"},
        shadow_versions={"sensor_anomaly": "2"},
        shadow_share=1.0,
    )
    services.append(svc)
    sink = Sink()
    for i, m in enumerate(plant_messages(130, start=600)):
        await svc.on_telemetry(sink, m, f"m-{i}")
    await _settle(svc)
    summary = next(s for s in svc.take_summaries() if s["model"] == "sensor_anomaly")
    assert summary["samples"] == len(sink.sent) == 11
    assert summary["scoreCorrelation"] == pytest.approx(1.0) and summary["agreement"] is None
    assert all(data["model"]["version"] == "1" for _out, data, _id in sink.sent)


async def test_promotion_swaps_the_candidate_in_and_holds_until_the_twin_pin_changes(
    tmp_path: Path, services: list[InferenceService]
) -> None:
    repo = _repo(tmp_path, "yolov8")
    settings = {"model_versions": {"defect_detector": "1"}, "shadow_versions": {"defect_detector": "3"}}
    svc = await _service(repo, **settings)
    services.append(svc)
    await svc.promote("defect_detector")
    status = svc.status()
    assert status["loaded"]["defect_detector"]["version"] == "3" and status["shadow"] == {}
    assert status["promoted"] == {"defect_detector": "3"}
    await svc.load_all(svc.settings)  # the same twin again: the promotion holds
    assert svc.manager.current["defect_detector"].version == "3"
    await svc.load_all(svc.settings.model_copy(update={"model_versions": {"defect_detector": "2"}}))
    assert svc.manager.current["defect_detector"].version == "2" and svc.status()["promoted"] == {}


async def test_automatic_promotion_waits_for_the_thresholds_to_hold_long_enough(
    tmp_path: Path, services: list[InferenceService]
) -> None:
    repo = _repo(tmp_path, "yolov8")
    svc = await _service(
        repo,
        model_versions={"defect_detector": "1"},
        shadow_versions={"defect_detector": "3"},
        shadow_share=1.0,
        shadow_auto_promote=True,
        shadow_min_samples=4,
        shadow_max_latency_ratio=1000.0,
        shadow_summary_seconds=10.0,
        shadow_promote_after_seconds=20.0,
    )
    services.append(svc)

    async def period() -> dict[str, Any]:
        for image in IMAGES[:4]:
            await svc.detect(image, "frames")
        await _settle(svc)
        (summary,) = svc.take_summaries()
        return summary

    first = await period()
    assert first["agreement"] == 1.0 and not svc.due_for_promotion(first, 100.0)  # held 10 s of 20
    assert svc.due_for_promotion(await period(), 110.0)  # held 20 s
    few = dict(first, samples=3)
    assert not svc.due_for_promotion(few, 120.0)  # too few samples: the clock restarts
    assert not svc.due_for_promotion(first, 130.0)
