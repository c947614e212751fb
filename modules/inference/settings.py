"""Settings of the inference module (env, then twin): repository, providers, models, batching, REST."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from edgeloop_runtime import ModuleSettings

from .models.delivery import DeliverySpec

DEFAULT_REPOSITORY = str(Path(__file__).resolve().parent / "model_repository")


class Settings(ModuleSettings):
    """MODEL_PATH, CONFIDENCE_THRESHOLD and REST_PORT are the names the common ASE GPU deployments use."""

    model_path: str = DEFAULT_REPOSITORY
    providers: list[str] = Field(default_factory=lambda: ["tensorrt", "cuda", "cpu"])
    require_gpu: bool = False
    tensorrt_fp16: bool = False  # TensorRT builds FP16 engines (faster; check the accuracy first)
    tensorrt_cache: str = ""  # engine cache folder; "" = MODEL_PATH/.trt_cache when writable, else none
    intra_op_threads: int = Field(default=0, ge=0, le=256)  # 0: the cores / maxInFlight
    pre_threads: int = Field(default=2, ge=0, le=64)  # JPEG decode + letterbox pool; 0: one per core
    max_in_flight: int = Field(default=2, ge=1, le=8)  # batches running at once per model
    sensor_model: str = "sensor_anomaly"
    vision_model: str = "defect_detector"
    model_versions: dict[str, str] = Field(default_factory=dict)  # model -> version; absent = highest
    batching: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="model -> maxBatchSize/maxQueueDelayMs/padBatch"
    )
    confidence_threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    # the vision model's output decoder: yolov5, yolov8, nms, classification, cellComponents; "" = inferred
    decoder: Literal["", "cellComponents", "yolov5", "yolov8", "nms", "classification"] = ""
    model_poll_seconds: float = Field(default=2.0, ge=0.0)  # repository watch; 0 disables
    model_delivery: dict[str, DeliverySpec] = Field(
        default_factory=dict,
        description="model -> {version, url, sha256, size, metadata}: download and serve",
    )
    model_retention: int = Field(default=3, ge=1, le=100)  # versions kept per model after a delivery
    shadow_versions: dict[str, str] = Field(
        default_factory=dict, description="model -> candidate version run beside the active one"
    )
    shadow_share: float = Field(default=0.2, gt=0.0, le=1.0)  # share of real inputs the candidate also sees
    shadow_summary_seconds: float = Field(default=60.0, gt=0.0)  # a model-evaluation summary this often
    shadow_auto_promote: bool = False  # promote when the thresholds below hold for shadowPromoteAfterSeconds
    shadow_min_samples: int = Field(default=100, ge=1)  # per summary period
    shadow_min_agreement: float = Field(default=0.95, ge=0.0, le=1.0)  # detections, or score correlation
    shadow_max_latency_ratio: float = Field(default=1.5, gt=0.0)  # candidate p95 / active p95
    shadow_promote_after_seconds: float = Field(default=600.0, ge=0.0)
    predictions_output: str = ""  # e.g. "predictions": /predict results are also sent on this output
    rest_port: int = Field(default=5000, ge=-1, le=65535)  # -1 disables, 0 picks a free port
    rest_host: str = "0.0.0.0"
    drift_enabled: bool = True
    gpu_poll_seconds: float = Field(default=10.0, gt=0)
