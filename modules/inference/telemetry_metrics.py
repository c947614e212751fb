"""The inference module's own metrics: stage latencies, batch sizes, throughput, provider, rejections, GPU."""

from __future__ import annotations

from typing import Any

from edgeloop_runtime.metrics import Metrics

BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class InferenceMetrics:
    """Bound to the module's registry; names are `edgeloop_inference_*`."""

    def __init__(self, metrics: Metrics) -> None:
        self.stage = metrics.histogram(
            "stage_seconds", "Latency per stage (queue, pre, run, post).", ["model", "stage"]
        )
        self.batch = metrics.histogram("batch_size", "Requests per batch.", ["model"], buckets=BATCH_BUCKETS)
        self.items = metrics.counter("items_total", "Requests scored (throughput = rate).", ["model"])
        self.model_info = metrics.gauge(
            "model_info", "1 for the version in service.", ["model", "version", "provider"]
        )
        self.rejected = metrics.counter("rejected_total", "Inputs rejected, by reason.", ["input", "reason"])
        self.refused = metrics.counter("model_refused_total", "Model versions refused.", ["model", "reason"])
        self.drift = metrics.gauge(
            "drift",
            "Drift statistic of a feature against the training baseline (metric: psi or meanShift).",
            ["asset", "field", "metric"],
        )
        self.gpu_util = metrics.gauge("gpu_utilization_ratio", "GPU utilisation, 0 to 1 (NVML).", ["gpu"])
        self.gpu_mem = metrics.gauge("gpu_memory_used_bytes", "GPU memory used (NVML).", ["gpu"])
        self.gpu_temp = metrics.gauge("gpu_temperature_celsius", "GPU temperature (NVML).", ["gpu"])
        self._info: dict[str, tuple[str, str]] = {}
        self._batch_children: dict[str, tuple[Any, Any, Any]] = {}

    def observe_stage(self, model: str) -> Any:
        child = {s: self.stage.labels(model=model, stage=s) for s in ("queue", "pre", "run", "post")}
        return lambda stage, seconds: child[stage].observe(seconds)

    def observe_batch(self, model: str, size: int, waits: list[float]) -> None:
        children = self._batch_children.get(model)
        if children is None:  # labels() costs more than the observation: look each child up once
            children = self._batch_children[model] = (
                self.batch.labels(model=model),
                self.items.labels(model=model),
                self.stage.labels(model=model, stage="queue"),
            )
        batch, items, queue = children
        batch.observe(size)
        items.inc(size)
        for w in waits:
            queue.observe(w)

    def in_service(self, model: str, version: str, provider: str) -> None:
        old = self._info.get(model)
        if old is not None:
            self.model_info.labels(model=model, version=old[0], provider=old[1]).set(0)
        self.model_info.labels(model=model, version=version, provider=provider).set(1)
        self._info[model] = (version, provider)
