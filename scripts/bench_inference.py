"""Benchmark, side by side in one run: (a) this module's batched engine over REST, (b) a one-request-one-run
server in the style of the public samples (per-request PIL resize), (c) the in-memory batched ceiling."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import multiprocessing as mp
import statistics
import threading
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
REPO = ROOT / "modules" / "inference" / "model_repository"
TESTSET = ROOT / "tests" / "data" / "vision" / "defects"


def _images() -> list[bytes]:
    return [p.read_bytes() for p in sorted(TESTSET.glob("*.jpg"))]


def _serve_engine(port: int, ready: mp.Event) -> None:  # type: ignore[valid-type]
    from aiohttp import web

    from edgeloop_runtime.metrics import Metrics
    from inference.rest import make_app
    from inference.service import InferenceService
    from inference.settings import Settings
    from inference.telemetry_metrics import InferenceMetrics

    async def main() -> None:
        svc = InferenceService(Settings(providers=["cpu"]), InferenceMetrics(Metrics("inference", "bench")))
        await svc.load_all(svc.settings)
        runner = web.AppRunner(make_app(svc), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        ready.set()  # type: ignore[attr-defined]
        await asyncio.Event().wait()

    asyncio.run(main())


def _serve_sample(port: int, ready: mp.Event) -> None:  # type: ignore[valid-type]
    """The public samples' shape: one image per request, PIL decode + resize, session.run at batch 1."""
    import onnxruntime as ort
    from PIL import Image

    from inference.repository import read_version
    from inference.vision_post import PostParams, detections
    from inference.vision_pre import Letterbox

    files = read_version(REPO, "defect_detector", "1")
    meta = files.metadata
    sess = ort.InferenceSession(files.data, providers=["CPUExecutionProvider"])
    assert meta.postprocess is not None
    pp = meta.postprocess
    post = PostParams(
        tuple(meta.labels), pp.stride, pp.pixel_threshold, pp.min_cells, 0.5, pp.nms_iou, pp.shrink
    )
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            return None

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            start = body.index(b"\r\n\r\n") + 4
            end = body.rindex(b"\r\n--")
            img = Image.open(io.BytesIO(body[start:end])).convert("RGB")
            w, h = img.size
            s = min(256 / w, 256 / h)
            nw, nh = round(w * s), round(h * s)
            canvas = Image.new("RGB", (256, 256), (114, 114, 114))
            canvas.paste(img.resize((nw, nh), Image.BILINEAR), ((256 - nw) // 2, (256 - nh) // 2))
            x = np.asarray(canvas, np.float32)[:, :, ::-1].transpose(2, 0, 1)[None] / 255.0
            with lock:
                probs = sess.run(None, {"image": np.ascontiguousarray(x)})[0][0]
            dets = detections(probs, Letterbox(w, h, nw / w, (256 - nw) // 2, (256 - nh) // 2), post)
            out = json.dumps({"detections": dets, "total": len(dets)}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    ready.set()  # type: ignore[attr-defined]
    server.serve_forever()


def _post(url: str, data: bytes) -> float:
    b = uuid.uuid4().hex
    body = (
        (
            f'--{b}\r\nContent-Disposition: form-data; name="image"; filename="f.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{b}--\r\n".encode()
    )
    req = urllib.request.Request(url, body, {"Content-Type": f"multipart/form-data; boundary={b}"})
    t = time.perf_counter()
    with urllib.request.urlopen(req, timeout=30) as resp:
        resp.read()
    return time.perf_counter() - t


def _load(url: str, images: list[bytes], clients: int, seconds: float) -> dict[str, float]:
    lat: list[float] = []
    stop = time.perf_counter() + seconds

    def client(k: int) -> None:
        i = k
        while time.perf_counter() < stop:
            lat.append(_post(url, images[i % len(images)]))
            i += clients

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    wall = time.perf_counter() - t0
    q = statistics.quantiles(lat, n=100)
    return {"per_s": len(lat) / wall, "p50_ms": q[49] * 1000, "p99_ms": q[98] * 1000}


def _ceiling(images: list[bytes], batch: int, seconds: float) -> float:
    import onnxruntime as ort

    from inference.repository import read_version
    from inference.vision_pre import prepare, to_batch

    files = read_version(REPO, "defect_detector", "1")
    sess = ort.InferenceSession(files.data, providers=["CPUExecutionProvider"])
    n, t0, i = 0, time.perf_counter(), 0
    while time.perf_counter() - t0 < seconds:
        chunk = [images[(i + k) % len(images)] for k in range(batch)]
        i += batch
        x = to_batch([prepare(c, 256)[0] for c in chunk])
        sess.run(None, {"image": x})
        n += batch
    return n / (time.perf_counter() - t0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--clients", default="1,4,16")
    args = ap.parse_args()
    images = _images()
    ctx = mp.get_context("spawn")
    procs, urls = [], {}
    for name, target, port in (("a_engine", _serve_engine, 18500), ("b_sample", _serve_sample, 18501)):
        ready = ctx.Event()
        p = ctx.Process(target=target, args=(port, ready), daemon=True)
        p.start()
        ready.wait(60)
        procs.append(p)
        urls[name] = f"http://127.0.0.1:{port}/predict"
    rows = []
    try:
        for url in urls.values():
            _load(url, images, 2, 1.0)  # warm-up
        for c in (int(x) for x in args.clients.split(",")):
            for name, url in urls.items():
                r = _load(url, images, c, args.seconds)
                rows.append({"server": name, "clients": c, **{k: round(v, 1) for k, v in r.items()}})
                print(json.dumps(rows[-1]))
        ceiling = _ceiling(images, 16, args.seconds)
        print(json.dumps({"server": "c_ceiling", "batch": 16, "per_s": round(ceiling, 1)}))
        for c in (int(x) for x in args.clients.split(",")):
            a = next(r for r in rows if r["server"] == "a_engine" and r["clients"] == c)
            b = next(r for r in rows if r["server"] == "b_sample" and r["clients"] == c)
            print(
                f"clients {c:>2}: a/b throughput {a['per_s'] / b['per_s']:.2f}x, "
                f"p99 a {a['p99_ms']} ms vs b {b['p99_ms']} ms, a/c {a['per_s'] / ceiling:.0%}"
            )
    finally:
        for p in procs:
            p.terminate()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
