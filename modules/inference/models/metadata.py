"""The metadata file beside each model version: kind, tensor contract, pre/post-processing, baselines."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Meta(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class TensorSpec(_Meta):
    """One input or output: name, dtype and shape (-1 for a dynamic dimension)."""

    name: str
    dtype: Literal["float32", "float16", "int64", "int32", "uint8"]
    shape: list[int]
    batched: bool = True  # False: the first dimension is not the batch (torchvision detection outputs)


class WindowSpec(_Meta):
    length: int = Field(ge=2, le=10_000)
    stride: int = Field(ge=1, le=10_000)
    width: int = Field(ge=1, le=1_000)


class AssetSpec(_Meta):
    index: int = Field(ge=0)
    fields: list[str]


class FieldBaseline(_Meta):
    """Training distribution of one field (PSI bins, mean, std) and how its drift is judged.

    `psi` (default): PSI of the drift window against the bins, above `psiThreshold` (else the model's).
    `meanShift`: for a slow signal whose normal wander already saturates PSI at the window size, the
    distance of the window's mean from the training mean in training standard deviations, above
    `meanShiftThreshold`.
    """

    edges: list[float]
    fractions: list[float]
    mean: float = 0.0
    std: float = Field(1.0, gt=0)
    metric: Literal["psi", "meanShift"] = "psi"
    psi_threshold: float | None = Field(None, alias="psiThreshold", gt=0)
    mean_shift_threshold: float | None = Field(None, alias="meanShiftThreshold", gt=0)


class DriftSpec(_Meta):
    metric: Literal["psi"] = "psi"
    threshold: float = 0.25
    window_size: int = Field(600, alias="windowSize", ge=10)
    baseline: dict[str, dict[str, FieldBaseline]] = Field(default_factory=dict)


class Batching(_Meta):
    """Dynamic batching; `cpuMaxBatchSize` replaces `maxBatchSize` when the session runs on the CPU
    (memory-bound convolutions cost more per item in big batches there: caches, not launches, limit).

    `padBatch` runs every batch at `maxBatchSize` (zero rows added, their outputs dropped). On CUDA a batch
    of another size than the last one costs cuDNN a new convolution plan (measured on an H100 with
    onnxruntime-gpu 1.31: 55 ms per change with the default exhaustive search, 11 ms with the heuristic
    one, 2 ms for the same size again), so one fixed shape is far faster there. Default (null): on a GPU
    provider only.
    """

    max_batch_size: int = Field(16, alias="maxBatchSize", ge=1, le=1024)
    max_queue_delay_ms: float = Field(4.0, alias="maxQueueDelayMs", ge=0.0, le=1000.0)
    cpu_max_batch_size: int | None = Field(None, alias="cpuMaxBatchSize", ge=1, le=1024)
    pad_batch: bool | None = Field(None, alias="padBatch")

    def for_provider(self, on_gpu: bool) -> Batching:
        """The batching that applies on this provider (`maxBatchSize` and `padBatch` resolved)."""
        update: dict[str, object] = {"pad_batch": on_gpu if self.pad_batch is None else self.pad_batch}
        if not on_gpu and self.cpu_max_batch_size is not None:
            update["max_batch_size"] = self.cpu_max_batch_size
        return self.model_copy(update=update)


class Preprocess(_Meta):
    """How a frame becomes the input tensor.

    `layout` NCHW (most exports), NHWC (TF), CHW (torchvision detection: one image, no batch axis).
    `scale` multiplies the pixel values (1/255 for float inputs, 1 for uint8); `mean`/`std` (per channel,
    after scaling) normalise classifiers. `interpolation` linear and `reducedDecode` off give exactly the
    pixels Ultralytics' LetterBox gives. `native`: the frame goes in at its own size, unresized (models
    that resize and map boxes back themselves, as torchvision detection exports do; one image per run).
    """

    size: int = Field(ge=8, le=4096)
    letterbox: bool = True
    pad_value: int = Field(114, alias="padValue", ge=0, le=255)
    color_order: Literal["BGR", "RGB"] = Field("BGR", alias="colorOrder")
    layout: Literal["NCHW", "NHWC", "CHW"] = "NCHW"
    scale: float = Field(1.0 / 255.0, gt=0)
    mean: list[float] | None = None
    std: list[float] | None = None
    interpolation: Literal["area", "linear"] = "area"
    reduced_decode: bool = Field(True, alias="reducedDecode")
    native: bool = False


DecoderType = Literal["cellComponents", "yolov5", "yolov8", "nms", "classification"]


class Postprocess(_Meta):
    """Output decoding. `cellComponents`: the shipped detector's probability map (needs `stride`).
    `yolov5`: [N, boxes, 5+classes] (xywh, objectness, class scores; conf = obj * cls).
    `yolov8`: [N, 4+classes, boxes] (xywh, class scores; conf = max class score; YOLO11 alike).
    `nms`: NMS inside the model (boxes / scores / classes [/ num_detections] outputs, or one [N, K, 6]).
    `classification`: [N, classes] scores (softmax applied unless they already are probabilities).
    """

    type: DecoderType = "cellComponents"
    stride: int = Field(1, ge=1)
    pixel_threshold: float = Field(0.5, alias="pixelThreshold")
    min_cells: int = Field(1, alias="minCells")
    confidence_threshold: float = Field(0.5, alias="confidenceThreshold")
    nms_iou: float = Field(0.5, alias="nmsIou")
    shrink: float = 0.0
    max_detections: int = Field(300, alias="maxDetections", ge=1, le=10_000)
    agnostic: bool = False  # class-agnostic NMS
    # `nms` decoding: the output names by role, the box format, and how class ids map to labels
    outputs: dict[str, str] = Field(default_factory=dict)  # boxes / scores / classes / count / detections
    box_format: Literal["xyxy", "yxyx"] = Field("xyxy", alias="boxFormat")
    normalized: bool = False  # boxes in [0, 1] of the input size
    class_offset: int = Field(0, alias="classOffset")  # label index = class id - offset (TF OD API: 1)
    top_k: int = Field(5, alias="topK", ge=1)  # classification: classes reported per image


class ModelMetadata(_Meta):
    """metadata.json of one model version (written by scripts/train_*.py)."""

    name: str
    version: str
    kind: Literal["window", "detector", "classifier"]
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    threshold: float = 1.0
    batching: Batching = Field(default_factory=lambda: Batching.model_validate({}))
    window: WindowSpec | None = None
    assets: dict[str, AssetSpec] = Field(default_factory=dict)
    drift: DriftSpec | None = None
    preprocess: Preprocess | None = None
    postprocess: Postprocess | None = None
    labels: list[str] = Field(default_factory=list)
    evaluation: dict[str, Any] = Field(default_factory=dict)

    def check_kind(self) -> str | None:
        """What is missing for this kind, or None when the metadata is complete."""
        if self.kind == "window":
            if self.window is None or not self.assets:
                return "a window model needs `window` and `assets`"
            for asset, spec in self.assets.items():
                if len(spec.fields) > self.window.width:
                    return f"asset {asset!r} has more fields than the window width"
        if self.kind != "window" and (self.preprocess is None or self.postprocess is None or not self.labels):
            return f"a {self.kind} needs `preprocess`, `postprocess` and `labels`"
        return None

    @property
    def vision(self) -> bool:
        """A model of frames (detector or classifier)."""
        return self.kind != "window"
