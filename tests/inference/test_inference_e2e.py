"""inference for real: `python -m inference` through the local hub with the real SDK, real ONNX Runtime."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
from inference_helpers import TESTSET, add_version, copy_repo, plant_messages

from edgeloop_dev.hub.harness import HubProcess, SdkModule, make_manifest, wait_for
from edgeloop_dev.plant.process import free_port
from inference.engine.session import GPU_PROVIDERS
from inference.vision.post import iou_matrix

ROUTES = {
    "tel": "FROM /messages/modules/feeder/outputs/telemetry INTO BrokeredEndpoint('/modules/inference/inputs/telemetry')",
    "frm": "FROM /messages/modules/feeder/outputs/frames INTO BrokeredEndpoint('/modules/inference/inputs/frames')",
    "sc": "FROM /messages/modules/inference/outputs/scores INTO BrokeredEndpoint('/modules/feeder/inputs/scores')",
    "dl": "FROM /messages/modules/inference/outputs/deadletter INTO BrokeredEndpoint('/modules/feeder/inputs/dead')",
}


class Served:
    def __init__(
        self, hub: HubProcess, feeder: SdkModule, proc: subprocess.Popen[bytes], repo: Path, rest: str
    ):
        self.hub, self.feeder, self.proc, self.repo, self.rest = hub, feeder, proc, repo, rest

    def reported(self) -> dict[str, Any]:
        return dict(self.hub.twin("inference").get("reported", {}))


@pytest.fixture
def served(
    tmp_path: Path, hub_factory: Callable[..., HubProcess], sdk_module: Callable[..., SdkModule]
) -> Iterator[Served]:
    repo = copy_repo(tmp_path / "repo")
    hub = hub_factory(make_manifest(ROUTES, {"inference": {}, "feeder": {}}))
    feeder = sdk_module(hub.env("feeder"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IOTEDGE_", "EdgeHub"))}
    env.update(hub.env("inference"))
    env.update(
        {
            "MODEL_PATH": str(repo),
            "PROVIDERS": '["cuda", "cpu"]',
            "REST_PORT": str(port),
            "REST_HOST": "127.0.0.1",
            "METRICS_PORT": "0",
            "METRICS_HOST": "127.0.0.1",
        }
    )
    with open(tmp_path / "inference.log", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "inference"], env=env, stdout=log, stderr=log)
    try:
        wait_for(lambda: hub.twin("inference").get("reported", {}).get("status") == "running", 60)
        yield Served(hub, feeder, proc, repo, f"http://127.0.0.1:{port}")
    finally:
        proc.kill()
        proc.wait()


def _scores(feeder: SdkModule, n: int, timeout: float = 30) -> list[dict[str, Any]]:
    return [json.loads(m.data) for m in feeder.collect(n, timeout)]


def test_telemetry_windows_in_scores_out_and_bad_telemetry_dead_lettered(served: Served) -> None:
    msgs = plant_messages(60)
    bad = json.loads(json.dumps(msgs[45]))
    bad["Messages"][0]["Payload"]["Flow"]["Value"] = "NaN?"
    for i, m in enumerate(msgs):
        served.feeder.send_json("telemetry", m, message_id=f"t-{i}")
        if i == 45:
            served.feeder.send_json("telemetry", bad, message_id="bad-1")
    got = served.feeder.collect(5, 30)
    dead = [m for m in got if m.input_name == "dead"]
    scores = [json.loads(m.data) for m in got if m.input_name == "scores"]
    assert dead[0].custom_properties["edgeloopOriginalMessageId"] == "bad-1"
    assert "bad_value" in dead[0].custom_properties["edgeloopError"]
    assert [s["data"]["windowEnd"] for s in scores] == [
        msgs[i]["Messages"][0]["Timestamp"] for i in (29, 39, 49, 59)
    ]
    first = scores[0]["data"]
    assert first["type"] == "window" and first["asset"] == "pump" and first["quality"] == "good"
    assert first["model"] == {"name": "sensor_anomaly", "version": "1"}
    assert first["sourceTimestamp"] == first["windowEnd"]
    assert first["sourceMessageIds"] == [f"t-{i}" for i in range(30)]
    assert set(first["contributions"]) >= {"Flow", "Vibration", "BearingTemp"}
    assert first["score"] < first["threshold"]  # normal plant operation


def test_frames_in_detections_out_match_the_labelled_test_set(served: Served) -> None:
    labels = json.loads((TESTSET / "labels.json").read_text())["images"]
    for seq, item in enumerate(labels):
        served.feeder.send(
            "frames",
            (TESTSET / item["file"]).read_bytes(),
            content_type="image/jpeg",
            properties={
                "cameraId": "line-1",
                "seq": str(seq),
                "captureTs": f"2026-11-22T10:00:{seq:02d}.000Z",
            },
        )
    scores = [s["data"] for s in _scores(served.feeder, len(labels), 60)]
    by_seq = {s["seq"]: s for s in scores}
    tp = fp = fn = 0
    for seq, item in enumerate(labels):
        dets, gts = by_seq[seq]["detections"], item["objects"]
        used = set()
        for d in dets:
            best = max(
                ((float(iou_matrix(np.array([d["bbox"]]), np.array([g["bbox"]]))[0, 0]), j) for j, g in enumerate(gts)
                 if g["class"] == d["class"] and j not in used),
                default=(0.0, -1),
            )  # fmt: skip
            if best[0] >= 0.5:
                used.add(best[1])
                tp += 1
            else:
                fp += 1
        fn += len(gts) - len(used)
    precision, recall = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
    print(f"defect detector through the hub: precision {precision:.3f} recall {recall:.3f} at IoU 0.5")
    assert precision >= 0.85 and recall >= 0.85
    assert by_seq[0]["cameraId"] == "line-1" and by_seq[0]["type"] == "frame"


def _post_image(url: str, data: bytes) -> tuple[int, dict[str, Any]]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="f.jpg"\r\n'
            f"Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    req = urllib.request.Request(url, body, {"Content-Type": f"multipart/form-data; boundary={boundary}"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_rest_predict_and_health(served: Served) -> None:
    with urllib.request.urlopen(served.rest + "/health", timeout=10) as resp:
        health = json.loads(resp.read())
    assert health["status"] == "healthy"
    detector = health["models"]["defect_detector"]
    if "CUDAExecutionProvider" in ort.get_available_providers():  # the default providers: TensorRT, CUDA, CPU
        assert health["provider"] in GPU_PROVIDERS
        assert (detector["maxBatchSize"], detector["padBatch"]) == (16, True)  # one batch shape on the GPU
    else:
        assert health["provider"] == "CPUExecutionProvider"
        assert (detector["maxBatchSize"], detector["padBatch"]) == (2, False)  # cpuMaxBatchSize, no padding
    labels = json.loads((TESTSET / "labels.json").read_text())["images"]
    item = next(i for i in labels if i["objects"])
    status, body = _post_image(served.rest + "/predict", (TESTSET / item["file"]).read_bytes())
    assert status == 200 and body["total"] == len(body["detections"]) >= 1
    assert {"class", "confidence", "bbox"} <= set(body["detections"][0])
    status, body = _post_image(served.rest + "/predict", b"\xff\xd8 definitely not a jpeg")
    assert status == 400 and body["reason"] == "corrupt_image"
    status, body = _post_image(served.rest + "/predict", (TESTSET / item["file"]).read_bytes())
    assert status == 200  # still serving


def test_hot_swap_under_load_loses_and_duplicates_nothing_and_a_corrupt_version_is_refused(
    served: Served,
) -> None:
    msgs = plant_messages(330)
    expected = 1 + (330 - 30) // 10
    add_version(served.repo, "sensor_anomaly", "1", "2")
    for i, m in enumerate(msgs):
        served.feeder.send_json("telemetry", m, message_id=f"t-{i}")
        if i == 150:
            result = served.hub.invoke("inference", "reloadModels", {})
            assert result["status"] == 200, result
    scores = [s for s in _scores(served.feeder, expected, 60)]
    assert served.feeder.no_input(1.0)  # nothing more: no duplicates after the expected count
    ids = [s["id"] for s in scores]
    assert len(set(ids)) == expected
    ends = [s["data"]["windowEnd"] for s in scores]
    assert len(set(ends)) == expected
    versions = [s["data"]["model"]["version"] for s in scores]
    assert versions[0] == "1" and versions[-1] == "2"
    add_version(served.repo, "sensor_anomaly", "1", "3", corrupt=True)
    result = served.hub.invoke("inference", "reloadModels", {})
    assert result["status"] == 409
    assert result["payload"]["results"]["sensor_anomaly"]["refused"] == "checksum"
    wait_for(lambda: "sensor_anomaly" in served.reported().get("models", {}).get("refused", {}), 10)
    assert served.reported()["models"]["loaded"]["sensor_anomaly"]["version"] == "2"
    for i, m in enumerate(plant_messages(30, seed=5)):
        served.feeder.send_json("telemetry", m, message_id=f"u-{i}")
    (after,) = _scores(served.feeder, 1)
    assert after["data"]["model"]["version"] == "2"
