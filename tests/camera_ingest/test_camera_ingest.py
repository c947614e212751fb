"""camera_ingest: JPEG under the budget, sources, and frames through the local hub with the real SDK."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from camera_ingest.encode import encode_within
from camera_ingest.sources import FolderSource, SourceLost, open_source
from edgeloop_dev.hub.harness import HubProcess, SdkModule, make_manifest, wait_for

TESTSET = Path(__file__).resolve().parents[1] / "data" / "vision" / "defects"


def test_a_noisy_4k_frame_is_squeezed_under_256_kb() -> None:
    img = np.random.default_rng(0).integers(0, 255, (2160, 3840, 3), np.uint8)
    data, quality, scale = encode_within(img, 95, 240_000)
    assert len(data) <= 240_000 and (quality < 95 or scale < 1.0)
    assert cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) is not None


def test_folder_source_loops_in_name_order_and_missing_sources_are_lost(tmp_path: Path) -> None:
    src = FolderSource(TESTSET, loop=True)
    first = src.read()
    for _ in range(len(src.files) - 1):
        src.read()
    np.testing.assert_array_equal(src.read(), first)
    with pytest.raises(SourceLost):
        open_source(str(tmp_path / "nowhere.mp4"), loop=False)
    with pytest.raises(SourceLost):
        open_source(str(tmp_path), loop=False)  # empty folder


def test_frames_flow_through_the_hub_with_camera_id_seq_and_capture_time(
    tmp_path: Path, hub_factory: Callable[..., HubProcess], sdk_module: Callable[..., SdkModule]
) -> None:
    route = "FROM /messages/modules/camera_ingest/outputs/frames INTO BrokeredEndpoint('/modules/sink/inputs/frames')"
    hub = hub_factory(make_manifest({"f": route}, {"camera_ingest": {}, "sink": {}}))
    sink = sdk_module(hub.env("sink"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IOTEDGE_", "EdgeHub"))}
    env.update(hub.env("camera_ingest"))
    env.update({"SOURCE": str(TESTSET), "FPS": "10", "CAMERA_ID": "line-1", "METRICS_PORT": "-1"})
    with open(tmp_path / "cam.log", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "camera_ingest"], env=env, stdout=log, stderr=log)
    try:
        wait_for(lambda: hub.twin("camera_ingest").get("reported", {}).get("status") == "running", 30)
        frames = sink.collect(5, 30)
    finally:
        proc.kill()
        proc.wait()
    seqs = [int(f.custom_properties["seq"]) for f in frames]
    assert seqs == sorted(seqs) and len(set(seqs)) == 5
    assert all(f.custom_properties["cameraId"] == "line-1" for f in frames)
    assert all(f.content_type == "image/jpeg" and len(f.data) < 256 * 1024 for f in frames)
    assert frames[0].custom_properties["captureTs"].endswith("Z")
    img = cv2.imdecode(np.frombuffer(frames[0].data, np.uint8), cv2.IMREAD_COLOR)
    assert img.shape[1] == int(frames[0].custom_properties["width"])
