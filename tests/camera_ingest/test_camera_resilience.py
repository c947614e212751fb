"""camera_ingest under stress, through the local hub: frames dropped (and counted) rather than queued when
the send path is slower than the capture rate, and a lost source reopened with back-off."""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from prometheus_client.parser import text_string_to_metric_families

from edgeloop_dev.hub.harness import HubProcess, SdkModule, make_manifest, wait_for

TESTSET = Path(__file__).resolve().parents[1] / "data" / "vision" / "defects"
ROUTE = (
    "FROM /messages/modules/camera_ingest/outputs/frames INTO BrokeredEndpoint('/modules/sink/inputs/frames')"
)


@contextmanager
def _camera(
    tmp_path: Path, hub: HubProcess, **settings: str
) -> Iterator[tuple[subprocess.Popen[bytes], Path, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IOTEDGE_", "EdgeHub"))}
    env.update(hub.env("camera_ingest"))
    env.update({"CAMERA_ID": "line-1", "METRICS_PORT": "0", "METRICS_HOST": "127.0.0.1", **settings})
    log = tmp_path / "cam.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "camera_ingest"], env=env, stdout=out, stderr=out)
    try:
        reported = wait_for(
            lambda: (
                (r := hub.twin("camera_ingest").get("reported", {})).get("status") == "running"
                and r.get("endpoints", {}).get("metrics")
                and r
            ),
            30,
        )
        yield proc, log, reported["endpoints"]["metrics"]
    finally:
        proc.kill()
        proc.wait()


def _metrics(url: str) -> dict[str, float]:
    """`name{label=value}` -> value for the camera's own samples."""
    with urllib.request.urlopen(url, timeout=5) as resp:
        text = resp.read().decode()
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if "camera_ingest_" in s.name:
                extra = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()) if k != "module")
                out[s.name + (f"{{{extra}}}" if extra else "")] = s.value
    return out


def _healthy(metrics_url: str) -> bool:
    try:
        with urllib.request.urlopen(metrics_url.replace("/metrics", "/healthz"), timeout=5) as resp:
            return bool(resp.status == 200)
    except urllib.error.HTTPError:
        return False


def _events(log: Path, event: str) -> list[dict[str, Any]]:
    lines = [json.loads(x) for x in log.read_text().splitlines() if x.startswith("{")]
    return [x for x in lines if x.get("event") == event]


def _drain(sink: SdkModule) -> list[Any]:
    got = []
    while True:
        try:
            got.append(sink.next_input(0.5))
        except queue.Empty:
            return got


def test_frames_are_dropped_and_counted_not_queued_when_sending_is_slower_than_capture(
    tmp_path: Path, hub_factory: Callable[..., HubProcess], sdk_module: Callable[..., SdkModule]
) -> None:
    folder = tmp_path / "big"
    folder.mkdir()
    rng = np.random.default_rng(3)
    for i in range(2):  # 1080p noise: each frame needs several quality/scale steps to fit 60 KB
        cv2.imwrite(str(folder / f"f{i}.bmp"), rng.integers(0, 255, (1080, 1920, 3), np.uint8))
    hub = hub_factory(make_manifest({"f": ROUTE}, {"camera_ingest": {}, "sink": {}}))
    sink = sdk_module(hub.env("sink"))
    with _camera(tmp_path, hub, SOURCE=str(folder), FPS="30", JPEG_QUALITY="95", MAX_BYTES="60000") as (
        _proc,
        _log,
        metrics_url,
    ):
        frames = sink.collect(4, 60)
        m = wait_for(
            lambda: (
                (x := _metrics(metrics_url)).get(
                    "edgeloop_camera_ingest_frames_dropped_total{reason=downstream_slow}", 0
                )
                >= 5
                and x
            ),
            30,
        )
    captured = m["edgeloop_camera_ingest_frames_captured_total"]
    sent = m["edgeloop_camera_ingest_frames_sent_total"]
    dropped = sum(v for k, v in m.items() if k.startswith("edgeloop_camera_ingest_frames_dropped_total{"))
    assert 0 <= captured - sent - dropped <= 1  # every captured frame is sent, dropped, or the one in flight
    assert m.get("edgeloop_camera_ingest_frames_dropped_total{reason=too_large}", 0) == 0
    seqs = [int(f.custom_properties["seq"]) for f in frames]
    assert seqs == list(range(seqs[0], seqs[0] + 4))  # dropped frames take no sequence number: no gaps
    assert all(len(f.data) <= 60_000 for f in frames)


def test_a_lost_source_is_reopened_with_back_off_and_frames_flow_again(
    tmp_path: Path, hub_factory: Callable[..., HubProcess], sdk_module: Callable[..., SdkModule]
) -> None:
    folder, away = tmp_path / "cam", tmp_path / "away"
    folder.mkdir()
    away.mkdir()
    for name in ("defect_000.jpg", "defect_001.jpg"):
        shutil.copy(TESTSET / name, folder / name)
    hub = hub_factory(make_manifest({"f": ROUTE}, {"camera_ingest": {}, "sink": {}}))
    sink = sdk_module(hub.env("sink"))
    with _camera(tmp_path, hub, SOURCE=str(folder), FPS="10", REOPEN_MAX_SECONDS="2") as (_p, log, url):
        first = sink.collect(2, 30)
        for p in folder.iterdir():
            p.rename(away / p.name)  # the camera goes away mid-stream
        retries = wait_for(
            lambda: (r := _events(log, "source unavailable; retrying")) and len(r) >= 4 and r, 20
        )
        assert _events(log, "source lost; reopening")
        assert [r["retry_s"] for r in retries[:4]] == [0.5, 1.0, 2.0, 2.0]  # doubling, capped
        assert not _healthy(url)
        last_seq = max(int(f.custom_properties["seq"]) for f in first + _drain(sink))
        for p in away.iterdir():
            p.rename(folder / p.name)  # it comes back
        (again,) = sink.collect(1, 15)
        assert int(again.custom_properties["seq"]) > last_seq
        wait_for(lambda: _healthy(url), 10)
        assert _metrics(url)["edgeloop_camera_ingest_source_reopens_total"] >= 4
