"""Probe (GPU): what a change of batch shape costs on CUDA, and the engine's batches with and without padding.

`python scripts/probe_gpu_batches.py sizes engine` on a machine with onnxruntime-gpu: per batch size, the run
time the first time and again (io binding or not; cuDNN's exhaustive or heuristic search), two threads with
varied sizes, then the engine in process (4 and 16 clients) with `padBatch` off and on.
"""

from __future__ import annotations

import asyncio
import functools
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from bench_inference import detect_clients  # this folder: run as `python scripts/probe_gpu_batches.py`

ROOT = Path(__file__).resolve().parent.parent
REPO = ROOT / "modules" / "inference" / "model_repository"


def timed(fn: Any) -> float:
    t = time.perf_counter()
    fn()
    return round((time.perf_counter() - t) * 1000, 2)


def sizes_probe(label: str, provider_options: dict[str, str] | None, io: bool) -> None:
    data = (REPO / "defect_detector" / "1" / "model.onnx").read_bytes()
    providers: list[Any] = [("CUDAExecutionProvider", provider_options or {}), "CPUExecutionProvider"]
    sess = ort.InferenceSession(data, providers=providers)
    rng = np.random.default_rng(0)

    def run(b: int) -> None:
        x = rng.random((b, 3, 128, 128), np.float32)
        if io:
            bind = sess.io_binding()
            bind.bind_cpu_input("image", x)
            for o in sess.get_outputs():
                bind.bind_output(o.name, "cuda")
            sess.run_with_iobinding(bind)
            bind.copy_outputs_to_cpu()
        else:
            sess.run(None, {"image": x})

    out = {}
    for b in [1, 16, 2, 3, 4, 2, 3, 4, 5, 9, 16, 1, 7, 7, 7]:
        out.setdefault(b, []).append(timed(lambda b=b: run(b)))
    print(json.dumps({"probe": label, "io_binding": io, "ms_by_batch": out}), flush=True)
    # two threads, varied sizes, after all sizes were seen once
    for b in range(1, 17):
        run(b)
    lat: list[float] = []

    def worker(k: int) -> None:
        lat.extend(timed(functools.partial(run, 1 + (i * 7 + k) % 16)) for i in range(100))

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(2)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    wall = time.perf_counter() - t0
    lat.sort()
    print(json.dumps({"probe": label, "two_threads_varied_sizes_runs_per_s": round(200 / wall, 1),
                      "p50_ms": lat[100], "p99_ms": lat[197]}), flush=True)  # fmt: skip


async def engine_probe(clients: int, max_in_flight: int, pad: bool) -> None:
    from edgeloop_runtime.metrics import Metrics
    from inference.service import InferenceService
    from inference.settings import Settings
    from inference.telemetry_metrics import InferenceMetrics

    images = [p.read_bytes() for p in sorted((ROOT / "tests/data/vision/defects").glob("*.jpg"))]
    batching = {"defect_detector": {"padBatch": pad}}
    settings = Settings(
        providers=["cuda", "cpu"],
        rest_port=-1,
        drift_enabled=False,
        max_in_flight=max_in_flight,
        batching=batching,
    )
    svc = InferenceService(settings, InferenceMetrics(Metrics("inference", "probe")))
    await svc.load_all(svc.settings)
    loaded = svc.manager.current["defect_detector"]
    proc = loaded.processor
    runs: list[tuple[int, float]] = []
    orig = proc.runner.run

    def run(feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        t = time.perf_counter()
        r = orig(feeds)
        runs.append((next(iter(feeds.values())).shape[0], (time.perf_counter() - t) * 1000))
        return r

    proc.runner.run = run  # type: ignore[method-assign]
    lat, wall = await detect_clients(svc, images, clients, 3.0)
    lat.sort()
    by: dict[int, list[float]] = {}
    for b, ms in runs:
        by.setdefault(b, []).append(ms)
    summary = {b: (len(v), round(float(np.median(v)), 2), round(max(v), 2)) for b, v in sorted(by.items())}
    print(json.dumps({"probe": "engine", "clients": clients, "max_in_flight": max_in_flight, "pad": pad,
                      "per_s": round(len(lat) / wall, 1), "p50_ms": round(lat[len(lat) // 2] * 1000, 2),
                      "run_ms_by_batch(n,median,max)": summary}), flush=True)  # fmt: skip
    await svc.manager.close()


def main() -> None:
    print(json.dumps({"ort": ort.__version__, "providers": ort.get_available_providers()}), flush=True)
    if "sizes" in sys.argv:
        sizes_probe("default", None, io=True)
        sizes_probe("default", None, io=False)
        sizes_probe("heuristic", {"cudnn_conv_algo_search": "HEURISTIC"}, io=True)
    if "engine" in sys.argv:
        for clients, mif, pad in ((4, 2, False), (4, 2, True), (4, 1, True), (16, 2, True)):
            asyncio.run(engine_probe(clients, mif, pad))


if __name__ == "__main__":
    main()
