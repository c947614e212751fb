"""camera_ingest on a real RTSP camera (GStreamer's RTSP server, H.264 at 25 fps, each frame stamped with the
moment it was made): read at 2 fps, each frame sent is the newest of the stream, not the next one queued
behind it; a stream that goes away is reopened; a video file plays."""

from __future__ import annotations

import itertools
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgeloop_dev.hub.harness import HubProcess, SdkModule, make_manifest, wait_for
from edgeloop_dev.plant.process import free_port

SERVER = Path(__file__).with_name("rtsp_server.py")
SYSTEM_PYTHON = "/usr/bin/python3"
ROUTE = {
    "f": "FROM /messages/modules/camera_ingest/outputs/frames INTO BrokeredEndpoint('/modules/sink/inputs/frames')"
}


def _missing() -> str | None:
    if not Path(SYSTEM_PYTHON).exists():
        return f"{SYSTEM_PYTHON} (with gi) is not installed"
    probe = "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer, Gst; Gst.init(None); assert Gst.ElementFactory.find('x264enc')"
    done = subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True, timeout=30)
    if done.returncode:
        return "GStreamer's RTSP server or x264enc is missing: apt-get install gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-ugly gstreamer1.0-plugins-good"
    return None


class Rtsp:
    """The RTSP test camera as a process: start, stop, start again on the same port."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}/line"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [SYSTEM_PYTHON, str(SERVER), "127.0.0.1", str(self.port)], stdout=subprocess.DEVNULL
        )

        def listening() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return True
            except OSError:
                return False

        wait_for(listening, 20)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


@pytest.fixture
def rtsp() -> Iterator[Rtsp]:
    reason = _missing()
    if reason:
        pytest.skip(reason)
    server = Rtsp(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def camera(
    tmp_path: Path, hub_factory: Callable[..., HubProcess], sdk_module: Callable[..., SdkModule]
) -> Iterator[Callable[..., SdkModule]]:
    procs: list[subprocess.Popen[bytes]] = []

    def start(**settings: str) -> SdkModule:
        hub = hub_factory(make_manifest(ROUTE, {"camera_ingest": {}, "sink": {}}))
        sink = sdk_module(hub.env("sink"))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("IOTEDGE_", "EdgeHub"))}
        env.update(hub.env("camera_ingest"))
        env.update({"CAMERA_ID": "line-1", "METRICS_PORT": "-1", "REOPEN_MAX_SECONDS": "1", **settings})
        with open(tmp_path / "cam.log", "ab") as out:
            procs.append(
                subprocess.Popen([sys.executable, "-m", "camera_ingest"], env=env, stdout=out, stderr=out)
            )
        return sink

    yield start
    for p in procs:
        p.kill()
        p.wait()


def stamp_ms(jpeg: bytes) -> int:
    """The moment the test camera made this frame (its top band of 48 blocks)."""
    img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    bits = "".join("1" if img[4:28, i * 8 + 2 : i * 8 + 6].mean() > 128 else "0" for i in range(48))
    return int(bits, 2)


def test_each_frame_sent_is_the_newest_of_the_stream_and_a_lost_stream_is_reopened(
    rtsp: Rtsp, camera: Callable[..., SdkModule]
) -> None:
    sink = camera(SOURCE=rtsp.url, FPS="2")
    frames = sink.collect(10, 60)
    received = time.time() * 1000
    stamps = [stamp_ms(m.data) for m in frames]
    steps = [b - a for a, b in itertools.pairwise(stamps)]
    # read one by one from the decoder's queue, frames 40 ms apart in the stream would come out (and lag
    # ever more); the newest at each 500 ms tick, they are about 500 ms apart
    assert statistics.median(steps) >= 200, steps
    assert all(int(m.custom_properties["ageMs"]) >= 0 for m in frames)
    ages = [int(m.custom_properties["ageMs"]) for m in frames]
    print(f"rtsp 25 fps read at 2 fps: source-time steps {steps} ms; grab->send {ages} ms; "
          f"camera->sink {received - stamps[-1]:.0f} ms for the last")  # fmt: skip
    rtsp.stop()
    wait_for(lambda: sink.no_input(1.0), 30)  # the stream is gone: frames stop
    rtsp.start()
    after = sink.collect(3, 60)
    assert min(stamp_ms(m.data) for m in after) > stamps[-1]  # the stream came back and frames flow again


def test_a_video_file_plays_and_loops(tmp_path: Path, camera: Callable[..., SdkModule]) -> None:
    video = tmp_path / "line.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 120))
    for i in range(5):
        img = np.full((120, 160, 3), 40 * i, np.uint8)
        writer.write(img)
    writer.release()
    sink = camera(SOURCE=str(video), FPS="20")
    levels = [
        int(cv2.imdecode(np.frombuffer(m.data, np.uint8), cv2.IMREAD_GRAYSCALE).mean())
        for m in sink.collect(8, 60)
    ]
    assert [round(v / 40) for v in levels] == [0, 1, 2, 3, 4, 0, 1, 2]
