"""Shadow evaluation for real: `python -m inference` through the local hub runs a candidate beside the
active version, sends model-evaluation summaries upstream, and `promoteModel` swaps the candidate in."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from inference_helpers import MODELS, TESTSET, RunningInference, get_json, post_image

from edgeloop_dev.hub.harness import wait_for


def _evaluations(module: RunningInference) -> list[dict[str, Any]]:
    return [b["data"] for b in module.upstream_bodies("model-evaluation")]


def test_a_candidate_is_evaluated_on_real_requests_and_promoted_by_method(
    tmp_path: Path, start_module: Callable[..., RunningInference]
) -> None:
    repo = tmp_path / "models"
    for version in ("1", "2"):
        (repo / "defect_detector" / version).mkdir(parents=True)
        shutil.copy(MODELS / "yolov8" / "model.onnx", repo / "defect_detector" / version / "model.onnx")
    module = start_module(
        repo,
        MODEL_VERSIONS=json.dumps({"defect_detector": "1"}),
        SHADOW_VERSIONS=json.dumps({"defect_detector": "2"}),
        SHADOW_SHARE="1.0",
        SHADOW_SUMMARY_SECONDS="0.5",
    )
    image = (TESTSET / "defect_003.jpg").read_bytes()
    answers = [post_image(module.rest + "/predict", image) for _ in range(6)]
    assert all(status == 200 for status, _ in answers)
    assert all(body == answers[0][1] for _, body in answers)  # the active answers, unaffected
    evaluations = wait_for(
        lambda: sum(e["samples"] for e in _evaluations(module)) >= 6 and _evaluations(module), 30
    )
    first = evaluations[0]
    assert (first["model"], first["activeVersion"], first["candidateVersion"]) == (
        "defect_detector",
        "1",
        "2",
    )
    assert all(e["agreement"] == 1.0 and e["errors"] == 0 for e in evaluations)
    assert module.reported()["models"]["shadow"]["defect_detector"]["version"] == "2"
    result = module.hub.invoke("inference", "promoteModel", {"model": "defect_detector"})
    assert result["status"] == 200 and result["payload"] == {"model": "defect_detector", "version": "2"}
    status, health = get_json(module.rest + "/health")
    assert status == 200 and health["model"]["version"] == "2"
    reported = module.reported()["models"]
    assert reported["promoted"] == {"defect_detector": "2"} and reported["shadow"] == {}
