"""Execution providers: requireGpu fails loudly without CUDA; the CUDA/TensorRT path where there is a GPU."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from inference_helpers import REPO, TESTSET, module_env

from edgeloop_dev.hub.harness import HubProcess, make_manifest
from inference.engine.processors import FrameProcessor
from inference.engine.session import OrtRunner, check_providers, create_session, example_feeds
from inference.errors import ProviderError
from inference.models.repository import read_version

HAS_CUDA = "CUDAExecutionProvider" in ort.get_available_providers()
NO_CUDA = f"CUDAExecutionProvider not available (onnxruntime providers: {ort.get_available_providers()})"
needs_gpu = pytest.mark.skipif(not HAS_CUDA, reason=NO_CUDA)


@pytest.mark.skipif(HAS_CUDA, reason="this machine has CUDA: the fallback cannot happen here")
def test_a_cpu_fallback_is_reported_and_refused_when_a_gpu_is_required() -> None:
    files = read_version(REPO, "defect_detector", "1")
    _sess, report = create_session(files.data, ["tensorrt", "cuda", "cpu"])
    assert report.requested == (
        "TensorrtExecutionProvider",
        "CUDAExecutionProvider",
        "CPUExecutionProvider",
    )
    assert report.primary == "CPUExecutionProvider" and not report.on_gpu
    check_providers(report, require_gpu=False)  # allowed: serving on the CPU is a choice
    with pytest.raises(
        ProviderError, match="requireGpu is set but the active provider is CPUExecutionProvider"
    ):
        check_providers(report, require_gpu=True)


@pytest.mark.skipif(HAS_CUDA, reason="this machine has CUDA: requireGpu would be satisfied")
def test_require_gpu_without_cuda_makes_the_module_exit_non_zero_with_a_clear_log_line(
    tmp_path: Path, hub_factory: Callable[..., HubProcess]
) -> None:
    hub = hub_factory(make_manifest({}, {"inference": {}}))
    env = module_env(
        hub.env("inference"),
        REQUIRE_GPU="true",
        PROVIDERS='["cuda", "cpu"]',
        REST_PORT="-1",
        METRICS_PORT="-1",
    )
    log = tmp_path / "inference.log"
    with open(log, "ab") as out:
        proc = subprocess.run(
            [sys.executable, "-m", "inference"], env=env, stdout=out, stderr=out, timeout=90, check=False
        )
    text = log.read_text()
    assert proc.returncode != 0, text[-2000:]
    assert "requireGpu is set but the active provider is CPUExecutionProvider" in text
    assert "fatal error; module exits" in text


# ---- on a GPU machine (onnxruntime-gpu): `pytest -m gpu tests/inference` -------------------------------
@pytest.mark.gpu
@needs_gpu
@pytest.mark.parametrize(
    "providers",
    [
        pytest.param(["cuda", "cpu"], id="cuda"),
        pytest.param(["tensorrt", "cuda", "cpu"], id="tensorrt-first"),
    ],
)
def test_the_gpu_provider_is_active_and_satisfies_require_gpu(providers: list[str]) -> None:
    files = read_version(REPO, "sensor_anomaly", "1")
    _sess, report = create_session(files.data, providers)
    assert report.on_gpu, report
    check_providers(report, require_gpu=True)


@pytest.mark.gpu
@needs_gpu
@pytest.mark.parametrize("model", ["sensor_anomaly", "defect_detector"])
def test_io_binding_on_cuda_gives_the_cpu_results(model: str) -> None:
    files = read_version(REPO, model, "1")
    gpu_sess, gpu_report = create_session(files.data, ["cuda", "cpu"])
    cpu_sess, cpu_report = create_session(files.data, ["cpu"])
    gpu, cpu = (
        OrtRunner(gpu_sess, gpu_report, files.metadata),
        OrtRunner(cpu_sess, cpu_report, files.metadata),
    )
    assert gpu.io_binding and not cpu.io_binding
    gpu.warm_up()
    feeds = example_feeds(files.metadata, 4)
    rng = np.random.default_rng(0)
    for name, value in feeds.items():
        if value.dtype == np.float32:
            feeds[name] = rng.random(value.shape, np.float32)
    for got, want in zip(gpu.run(feeds), cpu.run(feeds), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4)


@pytest.mark.gpu
@needs_gpu
def test_frames_on_cuda_detect_what_the_cpu_detects() -> None:
    files = read_version(REPO, "defect_detector", "1")
    procs = []
    for providers in (["cuda", "cpu"], ["cpu"]):
        sess, report = create_session(files.data, providers)
        procs.append(FrameProcessor(OrtRunner(sess, report, files.metadata), files.metadata, None))
    frames = [p.read_bytes() for p in sorted(TESTSET.glob("*.jpg"))[:8]]
    on_gpu, on_cpu = (proc([proc.prepare(f) for f in frames]) for proc in procs)
    assert [len(r.detections) for r in on_gpu] == [len(r.detections) for r in on_cpu]  # type: ignore[union-attr]
