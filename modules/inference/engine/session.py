"""ONNX Runtime adapter: providers in order of preference, the active-provider check, contract, warm-up, run.

Every onnxruntime error is mapped to ModelRejected / ProviderError here, and nowhere else.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnxruntime as ort

from edgeloop_runtime import get_logger

from ..errors import ModelRejected, ProviderError
from ..models.metadata import ModelMetadata, TensorSpec

_log = get_logger(__name__)

PROVIDER_NAMES = {
    "tensorrt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "cpu": "CPUExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
}
GPU_PROVIDERS = frozenset({"TensorrtExecutionProvider", "CUDAExecutionProvider"})
_ORT_TYPES = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(uint8)": "uint8",
}


def provider_name(name: str) -> str:
    """`cuda` / `CUDA` / `CUDAExecutionProvider` -> `CUDAExecutionProvider`."""
    return PROVIDER_NAMES.get(name.lower().removesuffix("executionprovider"), name)


@dataclass(frozen=True, slots=True)
class ProviderReport:
    """What was asked, what this build has, and what the session actually uses (first = primary)."""

    requested: tuple[str, ...]
    available: tuple[str, ...]
    active: tuple[str, ...]

    @property
    def primary(self) -> str:
        return self.active[0] if self.active else "none"

    @property
    def on_gpu(self) -> bool:
        return self.primary in GPU_PROVIDERS


def check_providers(report: ProviderReport, require_gpu: bool) -> None:
    """Fail loudly when a GPU is required but ONNX Runtime fell back (silently) to another provider."""
    if require_gpu and not report.on_gpu:
        raise ProviderError(
            f"requireGpu is set but the active provider is {report.primary} "
            f"(requested {list(report.requested)}, available in this build {list(report.available)}); "
            "check onnxruntime-gpu, the CUDA/cuDNN libraries and the device mapping"
        )


@dataclass(frozen=True, slots=True)
class TensorrtOptions:
    """TensorRT execution provider: FP16, and the engine cache (built engines are reused across restarts,
    which otherwise cost seconds to minutes at every start)."""

    fp16: bool = False
    cache_dir: str | None = None  # one folder per model version, on the model volume when writable

    def provider_options(self) -> dict[str, str]:
        opts = {"trt_fp16_enable": "True" if self.fp16 else "False"}
        if self.cache_dir:
            opts.update(
                {
                    "trt_engine_cache_enable": "True",
                    "trt_engine_cache_path": self.cache_dir,
                    "trt_timing_cache_enable": "True",
                    "trt_timing_cache_path": self.cache_dir,
                }
            )
        return opts


def preload_tensorrt() -> bool:
    """Load TensorRT's libraries from the `tensorrt-cu13-libs` wheel (ONNX Runtime's TensorRT provider looks
    for libnvinfer on the library path, where pip does not put it); False when they are not installed."""
    import ctypes
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("tensorrt_libs")
    if spec is None or not spec.submodule_search_locations:
        return False
    folder = Path(next(iter(spec.submodule_search_locations)))
    loaded = False
    for pattern in ("libnvinfer.so*", "libnvinfer_plugin.so*", "libnvonnxparser.so*"):
        for lib in sorted(folder.glob(pattern)):
            try:
                ctypes.CDLL(str(lib), mode=ctypes.RTLD_GLOBAL)
                loaded = True
            except OSError as exc:
                _log.warning("TensorRT library not loaded", library=lib.name, error=str(exc))
            break
    return loaded


def provider_list(usable: list[str], tensorrt: TensorrtOptions | None) -> list[Any]:
    """The providers argument of InferenceSession: names, TensorRT with its options."""
    return [
        (p, tensorrt.provider_options()) if p == "TensorrtExecutionProvider" and tensorrt is not None else p
        for p in usable
    ]


def create_session(
    data: bytes, providers: list[str], intra_op_threads: int = 0, tensorrt: TensorrtOptions | None = None
) -> tuple[ort.InferenceSession, ProviderReport]:
    """Create a session with the requested providers that this build has, then read back the active ones."""
    available = tuple(ort.get_available_providers())
    requested = tuple(provider_name(p) for p in providers)
    usable = [p for p in requested if p in available]
    if "CPUExecutionProvider" not in usable and "CPUExecutionProvider" in requested:
        usable.append("CPUExecutionProvider")
    if not usable:
        raise ProviderError(
            f"none of the requested providers {list(requested)} is in this build {list(available)}"
        )
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = intra_op_threads
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if "TensorrtExecutionProvider" in usable:
        preload_tensorrt()
        if tensorrt is not None and tensorrt.cache_dir:
            os.makedirs(tensorrt.cache_dir, exist_ok=True)
    try:
        sess = ort.InferenceSession(data, opts, providers=provider_list(usable, tensorrt))
    except Exception as exc:  # onnxruntime raises its own Fail / InvalidGraph / RuntimeException types
        raise ModelRejected("load_failed", f"onnxruntime refused the model: {str(exc)[:300]}") from exc
    report = ProviderReport(requested, available, tuple(sess.get_providers()))
    if usable and report.primary != usable[0]:
        _log.warning("execution provider fell back", wanted=usable[0], active=report.primary)
    return sess, report


def _dims_match(spec: TensorSpec, shape: list[Any]) -> bool:
    if len(spec.shape) != len(shape):
        return False
    return all(
        want == -1 or not isinstance(got, int) or got == want
        for want, got in zip(spec.shape, shape, strict=True)
    )


def check_contract(sess: ort.InferenceSession, meta: ModelMetadata) -> None:
    """Names, dtypes and shapes of the session's inputs and outputs must be the metadata's, in order."""
    for kind, have, want in (
        ("input", sess.get_inputs(), meta.inputs),
        ("output", sess.get_outputs(), meta.outputs),
    ):
        if [t.name for t in have] != [t.name for t in want]:
            raise ModelRejected(
                "contract", f"{kind}s {[t.name for t in have]} != metadata {[t.name for t in want]}"
            )
        for t, spec in zip(have, want, strict=True):
            if _ORT_TYPES.get(t.type) != spec.dtype:
                raise ModelRejected("contract", f"{kind} {t.name}: type {t.type} != metadata {spec.dtype}")
            if not _dims_match(spec, list(t.shape)):
                raise ModelRejected("contract", f"{kind} {t.name}: shape {t.shape} != metadata {spec.shape}")


def example_shape(meta: ModelMetadata, spec: TensorSpec, batch: int) -> list[int]:
    """A concrete shape: `batch` for a dynamic batch, the preprocess size for dynamic image dims."""
    shape = list(spec.shape)
    pre = meta.preprocess
    if pre is not None and spec.name == meta.inputs[0].name:
        image = {
            "NCHW": [3, pre.size, pre.size],
            "NHWC": [pre.size, pre.size, 3],
            "CHW": [3, pre.size, pre.size],
        }
        tail = image[pre.layout]
        head = shape[: len(shape) - len(tail)]
        shape = [*head, *(t if d == -1 else d for d, t in zip(shape[len(head) :], tail, strict=True))]
    if spec.batched and shape and shape[0] == -1:
        shape[0] = batch
    return [1 if d == -1 else d for d in shape]


def example_feeds(meta: ModelMetadata, batch: int) -> dict[str, np.ndarray]:
    """Zero inputs of the metadata's shapes with `batch` for dynamic dims (warm-up)."""
    return {t.name: np.zeros(example_shape(meta, t, batch), np.dtype(t.dtype)) for t in meta.inputs}


def _pad_rows(x: np.ndarray, rows: int) -> np.ndarray:
    """`x` with zero rows appended along the batch axis up to `rows`."""
    out = np.empty((rows, *x.shape[1:]), x.dtype)  # on the hot path: only the added rows are zeroed
    out[: len(x)] = x
    out[len(x) :] = 0
    return out


class OrtRunner:
    """Runs one session; on CUDA with explicit I/O binding, elsewhere with plain run()."""

    def __init__(self, sess: ort.InferenceSession, report: ProviderReport, meta: ModelMetadata) -> None:
        self.sess = sess
        self.report = report
        self.meta = meta
        self.output_names = [o.name for o in meta.outputs]
        self.io_binding = report.primary == "CUDAExecutionProvider"
        self.pad_to = meta.batching.max_batch_size if meta.batching.pad_batch else 0
        # only tensors whose first dimension is the batch (-1 in the metadata) are padded and cut back
        self._batched_in = {t.name for t in meta.inputs if t.batched and t.shape and t.shape[0] == -1}
        self._batched_out = [bool(t.batched and t.shape and t.shape[0] == -1) for t in meta.outputs]

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        """Run one batch (padded to `pad_to` rows when set); ModelRejected('run_failed') when onnxruntime
        fails."""
        n = max((len(v) for k, v in feeds.items() if k in self._batched_in), default=0)
        if 0 < n < self.pad_to:
            feeds = {k: _pad_rows(v, self.pad_to) if k in self._batched_in else v for k, v in feeds.items()}
        try:
            outs = (
                self._run_bound(feeds) if self.io_binding else list(self.sess.run(self.output_names, feeds))
            )
        except Exception as exc:
            raise ModelRejected("run_failed", f"inference failed: {str(exc)[:300]}") from exc
        if not 0 < n < self.pad_to:
            return outs
        return [o[:n] if batched else o for o, batched in zip(outs, self._batched_out, strict=True)]

    def _run_bound(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        binding = self.sess.io_binding()
        for name, value in feeds.items():
            binding.bind_cpu_input(name, np.ascontiguousarray(value))
        for name in self.output_names:
            binding.bind_output(name, "cuda")  # outputs stay on the device until copied once
        self.sess.run_with_iobinding(binding)
        return list(binding.copy_outputs_to_cpu())

    def warm_up(self) -> None:
        """One run at batch 1 and one at the maximum batch: fails here, not on the first real request."""
        for batch in sorted({1, self.meta.batching.max_batch_size}):
            outs = self.run(example_feeds(self.meta, batch))
            for spec, out in zip(self.meta.outputs, outs, strict=True):
                wrong_batch = (
                    spec.batched and bool(spec.shape) and spec.shape[0] == -1 and out.shape[0] != batch
                )
                if wrong_batch or not _dims_match(spec, list(out.shape)):
                    raise ModelRejected("contract", f"warm-up output {spec.name} has shape {out.shape}")
