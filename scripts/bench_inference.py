"""Inference benchmark, side by side in one run on the same models, inputs and cores.

Vision (the defect detector, the labelled test set's JPEG frames, `POST /predict` over keep-alive HTTP):
  (a) engine  this module's REST server: per-request OpenCV decode at reduced size + letterbox in a small
              thread pool, dynamic micro-batching, up to two batches in `session.run` at once (ORT
              intra-op threads = cores / 2). a_engine_x2 (--pair): two such servers sharing the port.
              a_engine_inproc (--inproc, after the rounds): the same engine called in process (no HTTP).
  (b) sample  the public samples' shape, a threaded Flask-style (werkzeug-like HTTP/1.1) server: per
              request a full PIL decode, PIL resize + paste into the letterbox canvas, numpy conversion,
              one `session.run` at batch 1 with ORT's default session options (no lock: sessions are
              thread-safe), the same post-processing.
  (c) ceiling the engine's own decode + letterbox (same pool), batched `session.run` (--ceiling-batch,
              default 2) and post-processing in a tight in-memory loop with two batches in flight: no
              HTTP, queues or messaging. A process of its own that stays up: measured in every round.
  (d) bentoml BentoML 1.4 (scripts/bench_bentoml_service.py, adaptive batching, its own venv).
  Round-robin: each round measures (c) and every server once, each round starting one arm later; the
  summary gives each arm's median over the rounds and its median ratio to the same round's (c).
  --burst-seconds N: afterwards, one client's p50 per 5-s slice for N s after a 16-client burst (does a
  learned batching wait linger?).
Sensor windows (the PCA model; OPC UA PubSub telemetry of the plant's three assets, in process):
  (a) engine  `InferenceService.on_telemetry`: window assembly + the micro-batcher, concurrent feeders.
  (b) single  the same window assembly, then one `session.run` per window at batch 1, inline.
  (c) ceiling the same assembly, batched `session.run` and result building in a tight loop.
Clients are closed-loop (1, 4, 16); throughput and p50/p99 latency per arm, then a per-item breakdown of
each step measured alone (decode/pre/run/post), so the ratios can be explained. Usage:
  .venv/bin/python scripts/bench_inference.py --seconds 4 [--only vision|sensor] [--frame-size 1920x1440]
      [--rounds 3] [--clients 4,16] [--burst-seconds 40] [--providers cuda,cpu]  (every arm on these
      execution providers; default cpu)
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import functools
import http.client
import io
import json
import multiprocessing as mp
import os
import queue
import socket
import statistics
import sys
import time
import urllib.parse
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
# tests.inference.inference_legacy_windows: the "before" arm of the sensor benchmark
sys.path.insert(0, str(ROOT))
REPO = ROOT / "modules" / "inference" / "model_repository"
TESTSET = ROOT / "tests" / "data" / "vision" / "defects"
VISION, SENSOR = "defect_detector", "sensor_anomaly"
# Execution providers of every arm, in order of preference; an environment variable so that the spawned
# servers and ceiling processes see what `--providers` set.
PROVIDERS_ENV = "EDGELOOP_BENCH_PROVIDERS"


def _providers() -> list[str]:
    return os.environ.get(PROVIDERS_ENV, "cpu").split(",")


def _ort_providers() -> list[str]:
    from inference.engine.session import provider_name

    return [provider_name(p) for p in _providers()]


def _pct(lat: list[float]) -> tuple[float, float]:
    if len(lat) < 2:
        return (lat[0] * 1000, lat[0] * 1000) if lat else (0.0, 0.0)
    q = statistics.quantiles(lat, n=100)
    return q[49] * 1000, q[98] * 1000


def _row(arm: str, clients: int, n: int, wall: float, lat: list[float]) -> dict[str, Any]:
    p50, p99 = _pct(lat)
    return {"arm": arm, "clients": clients, "per_s": round(n / wall, 1), "p50_ms": round(p50, 2),
            "p99_ms": round(p99, 2)}  # fmt: skip


def _run_image(runner: Any, x: np.ndarray, _i: int) -> object:
    return runner.run({"image": x})


def _run_window(sess: Any, x: np.ndarray, idx: np.ndarray, _i: int) -> object:
    return sess.run(None, {"window": x, "asset": idx})


def _ms(fn: Callable[[int], object], n: int) -> float:
    fn(0)
    t = time.perf_counter()
    for i in range(n):
        fn(i)
    return (time.perf_counter() - t) / n * 1000


# ------------------------------------------------------------------------------------------ vision
def _images(frame_size: tuple[int, int] | None = None) -> list[bytes]:
    """The labelled test set's JPEGs (512x384), or the same scenes as `camera_ingest` would send them from
    a camera of `frame_size` (resized, then JPEG-encoded under its 256 KB budget at its default quality)."""
    raw = [p.read_bytes() for p in sorted(TESTSET.glob("*.jpg"))]
    if frame_size is None:
        return raw
    import cv2

    from camera_ingest.encode import encode_within

    out = []
    for data in raw:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        frame = cv2.resize(img, frame_size, interpolation=cv2.INTER_CUBIC)
        out.append(encode_within(frame, 85, 250_000)[0])
    return out


def _processor(threads: int | None = None) -> Any:
    from inference.engine.manager import EngineOptions
    from inference.engine.processors import FrameProcessor
    from inference.engine.session import OrtRunner, create_session
    from inference.models.repository import read_version

    files = read_version(REPO, VISION, "1")
    opts = EngineOptions(root=REPO, providers=_providers())
    sess, report = create_session(files.data, _providers(), threads or opts.session_threads())
    return FrameProcessor(OrtRunner(sess, report, files.metadata), files.metadata, None)


def _serve_engine(port: int, ready: Any, reuse_port: bool = False) -> None:
    from aiohttp import web

    from edgeloop_runtime.metrics import Metrics
    from inference.http.rest import make_app
    from inference.service import InferenceService
    from inference.settings import Settings
    from inference.telemetry_metrics import InferenceMetrics

    async def main() -> None:
        svc = InferenceService(
            Settings(providers=_providers()), InferenceMetrics(Metrics("inference", "bench"))
        )
        await svc.load_all(svc.settings)
        runner = web.AppRunner(make_app(svc), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port, reuse_port=reuse_port or None).start()
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(main())


class _Sample:
    """The public samples' request path: PIL decode + resize, batch-1 run, the model's post-processing."""

    def __init__(self) -> None:
        import onnxruntime as ort

        from inference.models.repository import read_version
        from inference.vision.post import PostParams

        files = read_version(REPO, VISION, "1")
        meta = files.metadata
        assert meta.preprocess is not None and meta.postprocess is not None
        self.size, self.pad, pp = meta.preprocess.size, meta.preprocess.pad_value, meta.postprocess
        self.sess = ort.InferenceSession(files.data, providers=_ort_providers())
        self.post = PostParams(tuple(meta.labels), pp.stride, pp.pixel_threshold, pp.min_cells,
                               pp.confidence_threshold, pp.nms_iou, pp.shrink)  # fmt: skip

    def decode(self, data: bytes) -> Any:
        from PIL import Image

        return Image.open(io.BytesIO(data)).convert("RGB")

    def pre(self, img: Any) -> tuple[np.ndarray, Any]:
        from PIL import Image

        from inference.vision.pre import Letterbox

        w, h = img.size
        s = min(self.size / w, self.size / h)
        nw, nh = round(w * s), round(h * s)
        px, py = (self.size - nw) // 2, (self.size - nh) // 2
        canvas = Image.new("RGB", (self.size, self.size), (self.pad,) * 3)
        canvas.paste(img.resize((nw, nh), Image.Resampling.BILINEAR), (px, py))
        x = np.asarray(canvas, np.float32)[:, :, ::-1].transpose(2, 0, 1)[None] / 255.0
        return np.ascontiguousarray(x), Letterbox(w, h, nw / w, px, py)

    def run(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.sess.run(None, {"image": x})[0][0])

    def postprocess(self, probs: np.ndarray, box: Any) -> list[dict[str, object]]:
        from inference.vision.post import detections

        return detections(probs, box, self.post)

    def __call__(self, data: bytes) -> list[dict[str, object]]:
        x, box = self.pre(self.decode(data))
        return self.postprocess(self.run(x), box)


def _serve_sample(port: int, ready: Any) -> None:
    sample = _Sample()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as werkzeug's threaded server speaks
        disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

        def log_message(self, *args: object) -> None:
            return None

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            start = body.index(b"\r\n\r\n") + 4
            dets = sample(body[start : body.rindex(b"\r\n--")])
            out = json.dumps({"detections": dets, "total": len(dets)}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

    ThreadingHTTPServer.request_queue_size = 128  # werkzeug's listen backlog (the stdlib default is 5)
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    ready.set()
    server.serve_forever()


class _Client:
    """One load-generating client: a keep-alive HTTP/1.1 connection, multipart `image` uploads."""

    def __init__(self, url: str) -> None:
        parts = urllib.parse.urlsplit(url)
        self.path = parts.path
        self.conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
        self.conn.connect()  # headers and a large body go out in two sends: no Nagle wait between them
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def post(self, data: bytes, field: str = "image") -> float:
        b = uuid.uuid4().hex
        head = f'--{b}\r\nContent-Disposition: form-data; name="{field}"; filename="f.jpg"\r\n'
        body = (head + "Content-Type: image/jpeg\r\n\r\n").encode() + data + f"\r\n--{b}--\r\n".encode()
        t = time.perf_counter()
        self.conn.request("POST", self.path, body, {"Content-Type": f"multipart/form-data; boundary={b}"})
        resp = self.conn.getresponse()
        resp.read()
        if resp.status != 200 and field != "other":
            raise RuntimeError(f"POST {self.conn.host}:{self.conn.port}{self.path}: {resp.status}")
        return time.perf_counter() - t

    def close(self) -> None:
        self.conn.close()


def _http_load(
    arm: str, url: str, images: list[bytes], clients: int, seconds: float, field: str = "image"
) -> dict[str, Any]:
    lat: list[float] = []
    stop = time.perf_counter() + seconds

    def client(k: int) -> None:
        c, i = _Client(url), k
        try:
            while time.perf_counter() < stop:
                lat.append(c.post(images[i % len(images)], field))
                i += clients
        finally:
            c.close()

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    return _row(arm, clients, len(lat), time.perf_counter() - t0, lat)


async def detect_clients(
    svc: Any, images: list[bytes], clients: int, seconds: float
) -> tuple[list[float], float]:
    """`clients` closed-loop coroutines calling `svc.detect` for `seconds`: latencies and wall time."""
    lat: list[float] = []
    stop = time.perf_counter() + seconds

    async def client(k: int) -> None:
        i = k
        while time.perf_counter() < stop:
            t = time.perf_counter()
            await svc.detect(images[i % len(images)], "bench")
            lat.append(time.perf_counter() - t)
            i += clients

    t0 = time.perf_counter()
    await asyncio.gather(*(client(k) for k in range(clients)))
    return lat, time.perf_counter() - t0


def _engine_inproc(images: list[bytes], clients: int, seconds: float, out: Any) -> None:
    """The engine without HTTP: `clients` coroutines calling InferenceService.detect (queues + batcher)."""
    from edgeloop_runtime.metrics import Metrics
    from inference.service import InferenceService
    from inference.settings import Settings
    from inference.telemetry_metrics import InferenceMetrics

    async def main() -> dict[str, Any]:
        svc = InferenceService(
            Settings(providers=_providers(), rest_port=-1), InferenceMetrics(Metrics("inference", "bench"))
        )
        await svc.load_all(svc.settings)
        await detect_clients(svc, images, min(clients, 2), min(seconds, 1.0))  # warm-up
        lat, wall = await detect_clients(svc, images, clients, seconds)
        row = _row("a_engine_inproc", clients, len(lat), wall, lat)
        await svc.manager.close()
        return row

    out.put(asyncio.run(main()))


def _ceiling_batches(
    proc: Any, images: list[bytes], batch: int, seconds: float, pre_pool: Any, run_pool: Any
) -> float:
    """Images/s of the engine's own work in a tight loop: decode + letterbox in the pool, batched run and
    post-processing, two batches in flight."""

    def one(start: int) -> int:
        chunk = [images[(start + k) % len(images)] for k in range(batch)]
        proc(list(pre_pool.map(proc.prepare, chunk)))
        return batch

    n, i, t0 = 0, 0, time.perf_counter()
    pending = [run_pool.submit(one, 0), run_pool.submit(one, batch)]
    while time.perf_counter() - t0 < seconds:
        n += pending.pop(0).result()
        i += batch
        pending.append(run_pool.submit(one, i))
    for p in pending:
        n += p.result()
    return n / (time.perf_counter() - t0)


def _ceiling_worker(images: list[bytes], batch: int, cmd: Any, out: Any) -> None:
    """The ceiling (c) as a process that stays up, so that it is measured in the same rounds as the
    servers: one measurement of `seconds` per command, None ends it."""
    from inference.engine.manager import EngineOptions

    proc = _processor()
    decode = EngineOptions(root=REPO, providers=_providers()).decode_threads()
    with ThreadPoolExecutor(decode) as pre_pool, ThreadPoolExecutor(2) as run_pool:
        _ceiling_batches(proc, images, batch, 0.5, pre_pool, run_pool)
        out.put("ready")
        while (seconds := cmd.get()) is not None:
            out.put(_ceiling_batches(proc, images, batch, seconds, pre_pool, run_pool))


def _vision_breakdown(images: list[bytes]) -> dict[str, float]:
    """Per image, single thread, servers idle: what each step costs in each arm."""
    from inference.vision.post import detections
    from inference.vision.pre import to_batch

    proc = _processor()
    pre = [proc.prepare(d) for d in images[:16]]
    probs = proc.runner.run({"image": to_batch([p.canvas for p in pre])})[0]
    s = _Sample()
    pil = [s.decode(d) for d in images[:16]]
    x1, box1 = s.pre(pil[0])
    pb = s.run(x1)

    def a_post(i: int) -> object:
        return detections(probs[i % 16], pre[i % 16].box, s.post)

    n = len(images)
    out = {
        "a_decode_pre": _ms(lambda i: proc.prepare(images[i % n]), 200),
        "a_stack_b16": _ms(lambda i: to_batch([p.canvas for p in pre]), 20) / 16,
        "a_post": _ms(a_post, 200),
        "b_pil_decode": _ms(lambda i: s.decode(images[i % n]), 100),
        "b_pil_resize_numpy": _ms(lambda i: s.pre(pil[i % 16]), 100),
        "b_run_b1_default_threads": _ms(lambda i: s.run(x1), 100),
        "b_run_b1_if_1_thread": _ms(lambda i: proc.runner.run({"image": x1}), 100),
        "b_post": _ms(lambda i: s.postprocess(pb, box1), 200),
    }  # fmt: skip
    for b in (1, 4, 16):
        xb = to_batch([pre[k % 16].canvas for k in range(b)])
        out[f"a_run_b{b}"] = _ms(functools.partial(_run_image, proc.runner, xb), max(5, 80 // b)) / b
    return {k: round(v, 3) for k, v in out.items()}


def _in_child(ctx: Any, target: Callable[..., None], args: tuple[Any, ...], timeout: float) -> Any:
    """Run `target(*args, queue)` in a fresh process and return what it puts on the queue; a child that
    dies first ends the benchmark at once (its traceback is above), not after the timeout."""
    q = ctx.Queue()
    p = ctx.Process(target=target, args=(*args, q), daemon=True)
    p.start()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                return q.get(timeout=0.5)
            except queue.Empty:
                if not p.is_alive():
                    raise SystemExit(
                        f"{target.__name__} exited with {p.exitcode} before its result"
                    ) from None
        raise SystemExit(f"{target.__name__} gave no result in {timeout:.0f} s")
    finally:
        p.join(5)
        if p.is_alive():
            p.terminate()


BENTO_VENV = ROOT / ".bench" / "bentoml"
BENTO_SPEC = "bentoml>=1.4,<1.5"


def _bentoml_python() -> Path:
    """The benchmark's own venv with BentoML 1.4 (made once; the project's .venv never sees BentoML)."""
    py = BENTO_VENV / "bin" / "python"
    if not py.exists():
        import subprocess

        print(json.dumps({"bentoml": f"creating {BENTO_VENV} with {BENTO_SPEC}"}), flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(BENTO_VENV)], check=True)
        pkgs = [BENTO_SPEC, "onnxruntime", "opencv-python-headless", "numpy"]
        subprocess.run(
            [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", *pkgs], check=True
        )
    return py


def _start_bentoml(port: int, env: dict[str, str]) -> Any:
    import subprocess

    py = _bentoml_python()
    cmd = [str(py), "-m", "bentoml", "serve", "bench_bentoml_service:Detector", "--host", "127.0.0.1",
           "-p", str(port)]  # fmt: skip
    full = {**os.environ, "BENTOML_HOME": str(BENTO_VENV / "home"), "BENTOML_DO_NOT_TRACK": "true", **env}
    proc = subprocess.Popen(cmd, cwd=ROOT / "scripts", env=full, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # waiting for BentoML's readiness endpoint
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"bentoml serve exited with {proc.returncode}")
        time.sleep(0.5)
    proc.kill()
    raise SystemExit("bentoml did not become ready in 120 s")


def _start_servers(ctx: Any, bento: bool, pair: bool) -> tuple[list[Any], dict[str, tuple[str, str]]]:
    """The HTTP arms: the module (one process, and two sharing the port with SO_REUSEPORT), the seed-style
    sample, BentoML. Returns the processes and arm -> (url, multipart field)."""
    procs: list[Any] = []
    urls: dict[str, tuple[str, str]] = {}
    specs = [("a_engine", _serve_engine, 18500, 1), ("b_sample", _serve_sample, 18501, 1)]
    if pair:
        specs.insert(1, ("a_engine_x2", _serve_engine, 18502, 2))
    for arm, target, port, n in specs:
        for _ in range(n):
            ready = ctx.Event()
            args = (port, ready, True) if n > 1 else (port, ready)
            p = ctx.Process(target=target, args=args, daemon=True)
            p.start()
            if not ready.wait(90):
                raise SystemExit(f"{arm} server did not start")
            procs.append(p)
        urls[arm] = (f"http://127.0.0.1:{port}/predict", "image")
    if bento:
        procs.append(_start_bentoml(18503, {}))
        urls["d_bentoml"] = ("http://127.0.0.1:18503/predict", "images")
    return procs, urls


def _stop(procs: list[Any]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait(10) if hasattr(p, "returncode") else p.join(10)


def _after_burst(urls: dict[str, tuple[str, str]], images: list[bytes], seconds: float) -> None:
    """One client's p50 in 5-second slices after 16 clients for 5 s: does a learned wait linger?"""
    for arm in ("a_engine", "d_bentoml"):
        if arm not in urls:
            continue
        url, field = urls[arm]
        before = _http_load(arm, url, images, 1, 3, field)["p50_ms"]
        _http_load(arm, url, images, 16, 5, field)
        slices = [_http_load(arm, url, images, 1, 5, field)["p50_ms"] for _ in range(int(seconds // 5))]
        print(json.dumps({"model": VISION, "after_burst": arm, "p50_ms_before": before,
                          "p50_ms_per_5s_after": slices}), flush=True)  # fmt: skip


class _Ceiling:
    """The ceiling worker seen as an arm: `measure(seconds)` -> images/s (no clients, no latency)."""

    def __init__(self, ctx: Any, images: list[bytes], batch: int) -> None:
        self.cmd, self.out = ctx.Queue(), ctx.Queue()
        self.proc = ctx.Process(target=_ceiling_worker, args=(images, batch, self.cmd, self.out), daemon=True)
        self.proc.start()
        if self.out.get(timeout=120) != "ready":
            raise SystemExit("the ceiling worker did not start")

    def measure(self, seconds: float) -> float:
        self.cmd.put(seconds)
        return float(self.out.get(timeout=seconds + 60))

    def close(self) -> None:
        self.cmd.put(None)
        self.proc.join(10)


def _median_row(arm: str, clients: int, rows: list[dict[str, Any]], ceilings: list[float]) -> dict[str, Any]:
    """One arm's rounds as one row: the median of each figure, and its ratio to the ceiling of the same
    round (median of the per-round ratios)."""
    med = statistics.median
    return {"arm": arm, "clients": clients, "per_s": round(med(r["per_s"] for r in rows), 1),
            "p50_ms": round(med(r["p50_ms"] for r in rows), 2),
            "p99_ms": round(med(r["p99_ms"] for r in rows), 2),
            "of_c": round(med(r["per_s"] / c for r, c in zip(rows, ceilings, strict=True)), 3),
            "rounds": [r["per_s"] for r in rows]}  # fmt: skip


def bench_vision(
    seconds: float,
    clients: list[int],
    frame_size: tuple[int, int] | None = None,
    rounds: int = 3,
    bento: bool = True,
    burst_seconds: float = 0.0,
    ceiling_batch: int = 2,
    inproc: bool = False,
    pair: bool = False,
) -> None:
    """Round-robin: every round measures the ceiling and every server once, each round starting one arm
    later, so no arm always follows another and the ceiling sees the same load as the servers."""
    images = _images(frame_size)
    size = f"{frame_size[0]}x{frame_size[1]}" if frame_size else "512x384 (the test set)"
    mean_bytes = round(sum(map(len, images)) / len(images))
    print(json.dumps({"model": VISION, "frame_size": size, "mean_jpeg_bytes": mean_bytes}), flush=True)
    ctx = mp.get_context("spawn")
    procs, urls = _start_servers(ctx, bento, pair)
    ceiling = _Ceiling(ctx, images, ceiling_batch)
    rows: list[dict[str, Any]] = []
    try:
        for url, field in urls.values():
            _http_load("warm-up", url, images, 16, 2.0, field)
        probe = _Client(urls["a_engine"][0])
        http_only = _ms(lambda i: probe.post(images[0], field="other"), 200)
        probe.close()
        arms = ["c_ceiling", *urls]
        for c in clients:
            got: dict[str, list[dict[str, Any]]] = {a: [] for a in arms}
            for r in range(rounds):
                for arm in arms[r % len(arms) :] + arms[: r % len(arms)]:
                    if arm == "c_ceiling":
                        row = {"arm": arm, "clients": c, "per_s": round(ceiling.measure(seconds), 1),
                               "p50_ms": 0.0, "p99_ms": 0.0, "batch": ceiling_batch}  # fmt: skip
                    else:
                        row = _http_load(arm, urls[arm][0], images, c, seconds, urls[arm][1])
                    got[arm].append(row)
                    print(json.dumps({"model": VISION, "round": r, **row}), flush=True)
            ceilings = [x["per_s"] for x in got["c_ceiling"]]
            rows += [_median_row(a, c, got[a], ceilings) for a in arms]
        if burst_seconds > 0:
            _after_burst(urls, images, burst_seconds)
    finally:
        ceiling.close()
        _stop(procs)
    if inproc:
        for c in clients:
            row = _in_child(ctx, _engine_inproc, (images, c, seconds), seconds * 2 + 120)
            print(json.dumps({"model": VISION, "after_the_rounds": True, **row}), flush=True)
    breakdown = _vision_breakdown(images)
    breakdown["a_http_multipart_roundtrip"] = round(http_only, 3)
    print(json.dumps({"model": VISION, "breakdown_ms_per_image": breakdown}), flush=True)
    _vision_summary(rows, clients, size, ceiling_batch)


def _vision_summary(rows: list[dict[str, Any]], clients: list[int], size: str, batch: int) -> None:
    """A markdown table: per client count, every arm's median images/s (p50/p99 ms) and share of (c), then
    the module against BentoML."""
    arms = list(dict.fromkeys(r["arm"] for r in rows))
    print(f"\n{size}: median of the rounds, images/s (p50/p99 ms) and share of the ceiling "
          f"(c, batch {batch}, measured in the same rounds)")  # fmt: skip
    print(f"| clients | {' | '.join(arms)} |")
    print("|---" * (len(arms) + 1) + "|")
    for c in clients:
        got = {r["arm"]: r for r in rows if r["clients"] == c}
        cells = [f"{got['c_ceiling']['per_s']}"] + [
            f"{got[a]['per_s']} ({got[a]['p50_ms']}/{got[a]['p99_ms']}) {got[a]['of_c']:.2f} of c"
            for a in arms[1:]
        ]
        print(f"| {c} | {' | '.join(cells)} |")
    for c in clients:
        got = {r["arm"]: r for r in rows if r["clients"] == c}
        line = {k: f"{got[k]['of_c']:.2f} of (c)" for k in ("a_engine", "a_engine_x2") if k in got}
        if "d_bentoml" in got:
            d = got["d_bentoml"]
            for k in ("a_engine", "a_engine_x2"):
                if k in got:
                    a = got[k]
                    line[f"{k}/bentoml"] = (f"{a['per_s'] / d['per_s']:.2f}x images/s, p99 {a['p99_ms']} vs "
                                            f"{d['p99_ms']} ms")  # fmt: skip
        print(f"{c} clients: {json.dumps(line)}", flush=True)


def _summary(
    unit: str, rows: list[dict[str, Any]], ceiling: float, clients: list[int], a: str, b: str
) -> None:
    """A markdown table: every arm's throughput (p50/p99), then a/b and a/c for the named a and b."""
    arms = sorted({r["arm"] for r in rows})
    print(f"| clients | {' | '.join(f'{x} {unit}/s (p50/p99 ms)' for x in arms)} | a/b | a/c |")
    print("|---" * (len(arms) + 3) + "|")
    for c in clients:
        got = {r["arm"]: r for r in rows if r["clients"] == c}
        cells = " | ".join(f"{got[x]['per_s']} ({got[x]['p50_ms']}/{got[x]['p99_ms']})" for x in arms)
        ra, rb = got[a], got[b]
        print(f"| {c} | {cells} | {ra['per_s'] / rb['per_s']:.2f}x | {ra['per_s'] / ceiling:.0%} |")
    print(f"(c) ceiling: {ceiling} {unit}/s (best batch size)", flush=True)


# ------------------------------------------------------------------------------------------ sensor
def _telemetry(n: int, seed: int = 7) -> list[dict[str, Any]]:
    """`n` network messages at 10 Hz, one key frame per asset each, from the plant's process model."""
    from edgeloop_dev.plant.faults import fault_schedule
    from edgeloop_dev.plant.model import PlantModel

    plant = PlantModel(fault_schedule(seed, "steady"), seed=seed)
    t0 = datetime(2026, 11, 22, 10, tzinfo=UTC)
    out = []
    for i in range(n):
        ts = (t0 + timedelta(seconds=i / 10)).isoformat().replace("+00:00", "Z")
        row = plant.step(i / 10)
        msgs = []
        for asset, prefix in (("pump", "Pump."), ("crusher", "Crusher."), ("conveyor", "Conveyor.")):
            payload = {k[len(prefix) :]: {"Value": s.value, "SourceTimestamp": ts}
                       for k, s in row.items() if k.startswith(prefix)}  # fmt: skip
            msgs.append({"DataSetWriterId": asset, "SequenceNumber": i, "MessageType": "ua-keyframe",
                         "Timestamp": ts, "Payload": payload})  # fmt: skip
        out.append({"MessageId": f"m-{i}", "MessageType": "ua-data", "Messages": msgs})
    return out


class _Sink:
    """Stands in for ctx.send: records when each score was handed over."""

    def __init__(self) -> None:
        self.times: list[float] = []

    async def send(
        self, output: str, data: Any, *, kind: str | None = None, message_id: str | None = None
    ) -> str:
        self.times.append(time.perf_counter())
        return message_id or ""


Handler = Callable[[Any, Any, str], Any]


async def _feed(
    clients: int, seconds: float, msgs: list[Any], handle: Handler
) -> tuple[int, float, list[float]]:
    lat: list[float] = []
    stop = time.perf_counter() + seconds
    nxt = iter(range(10**9))

    async def client() -> None:
        sink = _Sink()  # its own: latency = from the message being ready to each of its scores
        while time.perf_counter() < stop:
            i = next(nxt)
            before, ready = len(sink.times), time.perf_counter()
            await asyncio.sleep(0)  # as if queued at the input: the other clients' messages go first
            await handle(sink, msgs[i % len(msgs)], f"m-{i}")
            lat.extend(x - ready for x in sink.times[before:])

    t0 = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return len(lat), time.perf_counter() - t0, lat


def _sensor_parts() -> tuple[Any, Any, Any]:
    import onnxruntime as ort

    from inference.models.repository import read_version
    from inference.sensor.windows import WindowAssembler

    files = read_version(REPO, SENSOR, "1")
    meta = files.metadata
    assert meta.window is not None
    sess = ort.InferenceSession(files.data, providers=_ort_providers())

    def assembler() -> WindowAssembler:
        assert meta.window is not None
        return WindowAssembler(meta.window, meta.assets, {})

    return meta, sess, assembler


def _window_body(meta: Any, w: Any, score: float, contrib: np.ndarray) -> dict[str, Any]:
    fields = meta.assets[w.asset].fields
    return {"type": "window", "asset": w.asset, "score": round(score, 5),
            "contributions": {f: round(float(contrib[j]), 5) for j, f in enumerate(fields)},
            "windowStart": w.window_start, "windowEnd": w.window_end,
            "sourceMessageIds": list(w.message_ids)}  # fmt: skip


async def _sensor_arms(
    seconds: float, clients: list[int], msgs: list[dict[str, Any]], rounds: int
) -> list[dict[str, Any]]:
    """`on_telemetry` from the message bytes, before (json.loads + the assembler as it was, kept in
    tests/inference/inference_legacy_windows.py) and now (the shared contract's typed decoder), in
    alternating rounds; then the single-window arm."""
    from edgeloop_runtime.metrics import Metrics
    from inference.service import InferenceService
    from inference.settings import Settings
    from inference.telemetry_metrics import InferenceMetrics
    from tests.inference.inference_legacy_windows import WindowAssembler as LegacyAssembler

    meta, sess, assembler = _sensor_parts()
    raw = [json.dumps(m).encode() for m in msgs]
    svc = InferenceService(Settings(providers=_providers(), drift_enabled=False, rest_port=-1),
                           InferenceMetrics(Metrics("inference", "bench")))  # fmt: skip
    await svc.load_all(svc.settings)
    typed_asm = svc.assembler
    assert meta.window is not None and typed_asm is not None
    legacy_asm = LegacyAssembler(meta.window, meta.assets, typed_asm.fallback)
    asm = assembler()

    async def before(out: _Sink, body: bytes, mid: str) -> None:
        svc.assembler = legacy_asm  # type: ignore[assignment]
        await svc.on_telemetry(out, json.loads(body), mid)

    async def after(out: _Sink, body: bytes, mid: str) -> None:
        svc.assembler = typed_asm
        await svc.on_telemetry(out, body, mid)  # the bytes, as the module's telemetry input hands them

    async def single(out: _Sink, body: bytes, mid: str) -> None:
        for w in asm.feed(body, mid):
            score, contrib = sess.run(None, {"window": w.values[None], "asset": np.array([w.asset_index])})
            await out.send("scores", _window_body(meta, w, float(score[0]), contrib[0]), kind="score")

    rows = []
    arms: list[tuple[str, Handler]] = [("a0_engine_json_before", before), ("a_engine", after)]
    try:
        for c in clients:
            got: dict[str, list[dict[str, Any]]] = {}
            for r in range(rounds):
                for arm, handle in arms if r % 2 == 0 else arms[::-1]:
                    n, wall, lat = await _feed(c, seconds, raw, handle)
                    got.setdefault(arm, []).append(_row(arm, c, n, wall, lat))
                    print(json.dumps({"model": SENSOR, "round": r, **got[arm][-1]}), flush=True)
            rows += [_merge(v) for v in got.values()]
            n, wall, lat = await _feed(c, seconds, raw, single)
            rows.append(_row("b_single", c, n, wall, lat))
            print(json.dumps({"model": SENSOR, **rows[-1]}), flush=True)
    finally:
        await svc.manager.close()
    return rows


def _merge(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """One arm's rounds as one row: mean throughput, worst p50/p99 (and each round's throughput)."""
    return {**rows[0], "per_s": round(statistics.fmean(r["per_s"] for r in rows), 1),
            "p50_ms": max(r["p50_ms"] for r in rows), "p99_ms": max(r["p99_ms"] for r in rows),
            "rounds": [r["per_s"] for r in rows]}  # fmt: skip


def _sensor_ceiling(seconds: float, batch: int, msgs: list[dict[str, Any]]) -> float:
    meta, sess, assembler = _sensor_parts()
    asm, pending, n, i = assembler(), [], 0, 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        pending.extend(asm.feed(msgs[i % len(msgs)], f"m-{i}"))
        i += 1
        if len(pending) >= batch:
            x = np.stack([w.values for w in pending]).astype(np.float32, copy=False)
            score, contrib = sess.run(
                None, {"window": x, "asset": np.array([w.asset_index for w in pending])}
            )
            n += len([_window_body(meta, w, float(score[k]), contrib[k]) for k, w in enumerate(pending)])
            pending = []
    return n / (time.perf_counter() - t0)


def _sensor_breakdown(msgs: list[dict[str, Any]]) -> dict[str, float]:
    meta, sess, assembler = _sensor_parts()
    asm = assembler()
    t = time.perf_counter()
    windows = [w for i, m in enumerate(msgs[:600]) for w in asm.feed(m, f"m-{i}")]
    out = {"assemble_per_window": (time.perf_counter() - t) * 1000 / len(windows)}
    w = windows[0]
    score, contrib = sess.run(None, {"window": w.values[None], "asset": np.array([w.asset_index])})

    def post(i: int) -> object:
        return _window_body(meta, w, float(score[0]), contrib[0])

    out["post_per_window"] = _ms(post, 500)
    for b in (1, 4, 16):
        x = np.stack([windows[k % len(windows)].values for k in range(b)])
        idx = np.array([windows[k % len(windows)].asset_index for k in range(b)])
        out[f"run_b{b}"] = _ms(functools.partial(_run_window, sess, x, idx), 300) / b
    return {k: round(v, 4) for k, v in out.items()}


def bench_sensor(seconds: float, clients: list[int], rounds: int) -> None:
    msgs = _telemetry(3000)
    rows = asyncio.run(_sensor_arms(seconds, clients, msgs, rounds))
    ceilings = {b: round(_sensor_ceiling(seconds, b, msgs), 1) for b in (1, 16)}
    for b, v in ceilings.items():
        print(json.dumps({"model": SENSOR, "arm": "c_ceiling", "batch": b, "per_s": v}), flush=True)
    print(json.dumps({"model": SENSOR, "breakdown_ms": _sensor_breakdown(msgs)}), flush=True)
    _summary("windows", rows, max(ceilings.values()), clients, "a_engine", "b_single")
    for c in clients:
        got = {r["arm"]: r["per_s"] for r in rows if r["clients"] == c}
        ratio = got["a_engine"] / got["a0_engine_json_before"]
        print(f"{c} clients: typed decoder / before = {ratio:.2f}x windows/s", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=3.0, help="per arm and client count")
    ap.add_argument("--clients", default="1,4,16")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of the compared arms (median reported)")
    ap.add_argument("--no-bentoml", action="store_true", help="leave out the BentoML arm")
    ap.add_argument(
        "--burst-seconds",
        type=float,
        default=0.0,
        help="after the vision arms: one client's p50 for this long after a 16-client burst",
    )
    ap.add_argument(
        "--ceiling-batch", type=int, default=2, help="the vision ceiling's batch (2: its best on CPU)"
    )
    ap.add_argument(
        "--pair", action="store_true", help="also two module servers sharing the port (SO_REUSEPORT)"
    )
    ap.add_argument("--inproc", action="store_true", help="after the rounds: the engine in process, no HTTP")
    ap.add_argument("--only", choices=["vision", "sensor"])
    ap.add_argument("--frame-size", metavar="WxH", help="the test scenes as camera frames (e.g. 1920x1440)")
    ap.add_argument("--providers", default="cpu", help="every arm's providers, e.g. cuda,cpu (default cpu)")
    args = ap.parse_args()
    os.environ[PROVIDERS_ENV] = args.providers
    clients = [int(x) for x in args.clients.split(",")]
    frame_size = tuple(int(v) for v in args.frame_size.lower().split("x")) if args.frame_size else None
    load = [round(x, 1) for x in os.getloadavg()]
    atexit.register(lambda: print(json.dumps({"loadavg_at_end": [round(x, 1) for x in os.getloadavg()]})))
    import onnxruntime as ort

    active = ort.InferenceSession(
        (REPO / SENSOR / "1" / "model.onnx").read_bytes(), providers=_ort_providers()
    )
    print(json.dumps({"python": sys.version.split()[0], "cpus": mp.cpu_count(), "loadavg": load,
                      "onnxruntime": ort.__version__, "active_providers": active.get_providers()}),
          flush=True)  # fmt: skip
    if args.only in (None, "vision"):
        bench_vision(args.seconds, clients, frame_size, args.rounds, not args.no_bentoml, args.burst_seconds,  # type: ignore[arg-type]
                     args.ceiling_batch, args.inproc, args.pair)  # fmt: skip
    if args.only in (None, "sensor"):
        bench_sensor(args.seconds, clients, args.rounds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
