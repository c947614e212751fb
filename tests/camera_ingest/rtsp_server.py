"""A real RTSP camera for tests: GStreamer's RTSP server (Debian `gir1.2-gst-rtsp-server-1.0`, run with the
system Python that has `gi`) serving H.264 at 25 fps: a grey plate, a dark defect moving across it, and in
the top band the wall-clock time the frame was made (ms since the epoch, 48 black/white blocks), so that a
receiver can tell which moment of the stream a frame shows.

    /usr/bin/python3 tests/camera_ingest/rtsp_server.py HOST PORT   # rtsp://HOST:PORT/line
"""

from __future__ import annotations

import sys
import time
from typing import Any

import gi  # type: ignore[import-not-found, unused-ignore]

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # type: ignore[import-not-found, unused-ignore]  # noqa: E402

W, H, FPS, BITS, BAND = 384, 256, 25, 48, 32
BLOCK = W // BITS


def frame(n: int, now_ms: int) -> bytes:
    """One RGB frame: the time band, the plate, the defect at a position that moves with `n`."""
    band = b"".join(
        (b"\xff" if (now_ms >> (BITS - 1 - i)) & 1 else b"\x00") * (BLOCK * 3) for i in range(BITS)
    )
    plate = b"\x80" * (W * 3)
    x = (n * 4) % (W - 40)
    defect = b"\x80" * (x * 3) + b"\x20" * (40 * 3) + b"\x80" * ((W - x - 40) * 3)
    return b"".join([band] * BAND + [plate] * (100 - BAND) + [defect] * 40 + [plate] * (H - 140))


class Camera(GstRtspServer.RTSPMediaFactory):  # type: ignore[misc, unused-ignore]
    """One shared pipeline; frames pushed in real time from a GLib timer."""

    def __init__(self) -> None:
        super().__init__()
        self.set_shared(True)

    def do_create_element(self, _url: Any) -> Any:
        pipeline = Gst.parse_launch(
            "appsrc name=src is-live=true format=time do-timestamp=true "
            f"caps=video/x-raw,format=RGB,width={W},height={H},framerate={FPS}/1 ! videoconvert ! "
            f"x264enc tune=zerolatency speed-preset=ultrafast key-int-max={FPS} bitrate=3000 ! "
            "rtph264pay name=pay0 pt=96 config-interval=1"
        )
        src = pipeline.get_by_name("src")
        count = [0]

        def push() -> bool:
            buf = Gst.Buffer.new_wrapped(frame(count[0], int(time.time() * 1000)))
            buf.duration = Gst.SECOND // FPS
            count[0] += 1
            return src.emit("push-buffer", buf) == Gst.FlowReturn.OK or count[0] < 5

        GLib.timeout_add(1000 // FPS, push)
        return pipeline


def main() -> None:
    host, port = sys.argv[1], sys.argv[2]
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(host)
    server.set_service(port)
    server.get_mount_points().add_factory("/line", Camera())
    server.attach(None)
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
