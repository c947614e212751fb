"""camera_ingest: read frames at a fixed rate, drop rather than lag, JPEG under 256 KB, send on `frames`."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import numpy as np

from edgeloop_runtime import Context, EdgeloopError, Module, get_logger, utc_now_iso
from edgeloop_runtime.metrics import Bound

from .encode import FrameTooLarge, encode_within
from .settings import Settings
from .sources import FrameSource, SourceLost, open_source

_log = get_logger(__name__)


@dataclass
class CameraState:
    """The capture's metrics and the sequence number of the last frame sent."""

    captured: Bound
    sent: Bound
    dropped: Bound
    reopens: Bound
    bytes: Bound
    age: Bound
    seq: int = 0


module = Module("camera_ingest", Settings, CameraState)


@module.on_start
async def start(ctx: Context[Settings, CameraState]) -> CameraState:
    m = ctx.metrics
    return CameraState(
        captured=m.counter("frames_captured_total", "Frames read from the source."),
        sent=m.counter("frames_sent_total", "Frames sent on `frames`."),
        dropped=m.counter("frames_dropped_total", "Frames dropped, by reason.", ["reason"]),
        reopens=m.counter("source_reopens_total", "Times the source was reopened."),
        bytes=m.histogram(
            "frame_bytes", "JPEG size per frame.", buckets=(16e3, 32e3, 64e3, 128e3, 192e3, 256e3)
        ),
        age=m.histogram(
            "frame_age_seconds",
            "From the grab of a frame to its send on `frames`.",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
        ),
    )


@module.task
async def capture(ctx: Context[Settings, CameraState]) -> None:
    """One frame per tick; a frame whose send is still pending when the next tick comes is dropped."""
    loop = asyncio.get_running_loop()
    backoff = 0.5
    source: FrameSource | None = None
    pending: asyncio.Task[None] | None = None
    try:
        while True:
            s = ctx.settings
            if source is None:
                try:
                    source = await loop.run_in_executor(None, open_source, s.source, s.loop)
                    backoff = 0.5
                except SourceLost as exc:
                    _log.warning("source unavailable; retrying", error=str(exc), retry_s=backoff)
                    ctx.set_health(False, f"source: {exc}")
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, s.reopen_max_seconds)
                    ctx.state.reopens.inc()
                    continue
                ctx.set_health(True)
            tick = time.monotonic()
            try:
                frame = await loop.run_in_executor(None, source.read)
            except SourceLost as exc:
                _log.warning("source lost; reopening", error=str(exc))
                source.close()
                source = None
                continue
            ctx.state.captured.inc()
            grabbed = time.monotonic() - float(getattr(source, "age_s", 0.0))
            if pending is not None and not pending.done():
                ctx.state.dropped.labels(reason="downstream_slow").inc()
            else:
                ctx.state.seq += 1
                pending = asyncio.create_task(_send(ctx, frame, ctx.state.seq, utc_now_iso(), grabbed))
            await asyncio.sleep(max(0.0, 1.0 / s.fps - (time.monotonic() - tick)))
    finally:
        if source is not None:
            source.close()
        if pending is not None:
            await asyncio.gather(pending, return_exceptions=True)


async def _send(
    ctx: Context[Settings, CameraState], frame: np.ndarray, seq: int, captured: str, grabbed: float
) -> None:
    s = ctx.settings
    try:
        data, _q, scale = await asyncio.get_running_loop().run_in_executor(
            None, encode_within, frame, s.jpeg_quality, s.max_bytes
        )
    except FrameTooLarge as exc:
        ctx.state.dropped.labels(reason="too_large").inc()
        _log.warning("frame dropped", error=str(exc))
        return
    h, w = frame.shape[:2]
    props = {
        "cameraId": s.camera_id,
        "seq": str(seq),
        "captureTs": captured,
        "width": str(round(w * scale)),
        "height": str(round(h * scale)),
    }
    age = time.monotonic() - grabbed
    props["ageMs"] = str(round(age * 1000))  # grab -> send: how far behind the camera this frame is
    ctx.state.age.observe(age)
    try:
        await ctx.send_bytes("frames", data, content_type="image/jpeg", properties=props)
    except EdgeloopError as exc:
        ctx.state.dropped.labels(reason="send_failed").inc()
        _log.warning("frame not sent", error=str(exc), seq=seq)
        return
    ctx.state.sent.inc()
    ctx.state.bytes.observe(len(data))
