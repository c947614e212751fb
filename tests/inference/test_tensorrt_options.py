"""The GPU image's TensorRT settings, checked where no GPU is: the provider options handed to ONNX Runtime,
the engine cache folder per model version, the CPU fallback when this build has no TensorRT, NVML absent."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort
import pytest
from inference_helpers import MODELS

from inference.engine.gpu import gpu_samples
from inference.engine.manager import EngineOptions, ModelManager
from inference.engine.session import TensorrtOptions, create_session, provider_list


def test_tensorrt_gets_fp16_and_its_engine_cache_the_other_providers_their_names() -> None:
    trt = TensorrtOptions(fp16=True, cache_dir="/models/.trt_cache/defect_detector/2")
    providers = provider_list(
        ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"], trt
    )
    assert providers[1:] == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    name, options = providers[0]
    assert name == "TensorrtExecutionProvider"
    assert options == {
        "trt_fp16_enable": "True",
        "trt_engine_cache_enable": "True",
        "trt_engine_cache_path": "/models/.trt_cache/defect_detector/2",
        "trt_timing_cache_enable": "True",
        "trt_timing_cache_path": "/models/.trt_cache/defect_detector/2",
    }
    assert TensorrtOptions().provider_options() == {"trt_fp16_enable": "False"}  # no cache, FP32


def test_the_engine_cache_lives_per_version_on_a_writable_model_volume_or_where_configured(
    tmp_path: Path,
) -> None:
    manager = ModelManager(EngineOptions(root=tmp_path, providers=["cpu"], tensorrt_fp16=True))
    assert manager.tensorrt("m", "3") == TensorrtOptions(True, str(tmp_path / ".trt_cache" / "m" / "3"))
    elsewhere = ModelManager(EngineOptions(root=tmp_path / "model.onnx", providers=["cpu"]))
    assert elsewhere.tensorrt("m", "1").cache_dir is None  # a single file: no folder to write into
    configured = ModelManager(EngineOptions(root=tmp_path, providers=["cpu"], tensorrt_cache="/cache"))
    assert configured.tensorrt("m", "1").cache_dir == "/cache/m/1"


@pytest.mark.skipif(
    "TensorrtExecutionProvider" in ort.get_available_providers(), reason="this build has TensorRT"
)
def test_without_tensorrt_in_the_build_the_session_falls_back_and_says_so(tmp_path: Path) -> None:
    data = (MODELS / "yolov8" / "model.onnx").read_bytes()
    trt = TensorrtOptions(True, str(tmp_path / "cache"))
    _sess, report = create_session(data, ["tensorrt", "cpu"], 1, trt)
    assert report.requested == ("TensorrtExecutionProvider", "CPUExecutionProvider")
    assert report.primary == "CPUExecutionProvider" and not report.on_gpu
    assert not (tmp_path / "cache").exists()  # nothing built, nothing cached


def test_gpu_gauges_are_empty_without_nvml() -> None:
    try:
        import pynvml  # type: ignore[import-not-found,unused-ignore]  # noqa: F401
    except ImportError:
        assert gpu_samples() == []
        return
    samples = gpu_samples()  # with nvidia-ml-py: one sample per GPU, none without a driver
    assert all({"index", "util", "memory", "temp"} <= set(s) for s in samples)
