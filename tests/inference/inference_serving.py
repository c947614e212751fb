"""An inference service served in process from a model path, as the decoder tests load a user's model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from inference_helpers import TESTSET

from edgeloop_runtime.metrics import Metrics
from inference.engine.processors import FrameResult
from inference.service import InferenceService
from inference.settings import Settings
from inference.telemetry_metrics import InferenceMetrics

IMAGE = TESTSET / "defect_001.jpg"  # 512 x 384: letterboxed with bands top and bottom
JPEG = IMAGE.read_bytes()


class Served:
    """A loaded service's detections on one image, through the same call `/predict` makes."""

    def __init__(self, svc: InferenceService) -> None:
        self.svc = svc

    async def detect(self, image: bytes = JPEG) -> FrameResult:
        _loaded, result = await self.svc.detect(image, "rest")
        return result


async def serve(model_path: Path, **settings: Any) -> InferenceService:
    """A CPU service with `MODEL_PATH` = model_path (and any other settings), every model loaded."""
    svc = InferenceService(
        Settings(
            model_path=str(model_path), providers=["cpu"], drift_enabled=False, rest_port=-1, **settings
        ),
        InferenceMetrics(Metrics("inference", "test")),
    )
    await svc.load_all(svc.settings)
    return svc
