"""The retraining loop closed, locally and for real: evidence in Blob (Azurite) is labelled, pulled into a
training folder, a new detector is trained on it, packaged, published; the device (the real module through
the local hub) downloads it, runs it in shadow beside the active version, and promotes it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from edgeloop_dev.azurite import Azurite, missing_reason
from edgeloop_dev.hub.harness import HubProcess, make_manifest, wait_for
from edgeloop_dev.plant.process import free_port

ROOT = Path(__file__).resolve().parents[2]
REPO = ROOT / "modules" / "inference" / "model_repository"
TESTSET = ROOT / "tests" / "data" / "vision" / "defects"
LABELLED = json.loads((TESTSET / "labels.json").read_text())["images"][:12]
CLI = [sys.executable, "-m", "edgeloop_dev.cli"]


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    reason = missing_reason()
    if reason:
        pytest.skip(reason)
    with Azurite.start(tmp_path_factory.mktemp("azurite")) as az:
        yield az


def _evidence(az: Azurite) -> None:
    """What the router uploads: frames and a window, scored by defect_detector 1 / sensor_anomaly 1."""
    from azure.storage.blob import BlobServiceClient

    cc = BlobServiceClient.from_connection_string(az.connection_string).get_container_client(
        "edgeloop-dataset"
    )
    cc.create_container()
    for i, item in enumerate(LABELLED):
        meta = {"asset": "line-1", "model": "defect_detector", "modelVersion": "1", "eventId": f"e{i}",
                "state": "open", "label": "unlabelled", "cameraId": "line-1"}  # fmt: skip
        path = f"line-1/2026-12-04/defect_detector-1/e{i}-open.jpg"
        cc.upload_blob(path, (TESTSET / item["file"]).read_bytes(), metadata=meta)
    window = {"event": {"asset": "pump", "eventId": "w1"}, "window": {"Flow": [1.0, 2.0]}, "label": None}
    cc.upload_blob(
        "pump/2026-12-04/sensor_anomaly-1/w1-open.json",
        json.dumps(window).encode(),
        metadata={"asset": "pump", "model": "sensor_anomaly", "modelVersion": "1", "eventId": "w1", "label": "unlabelled"},
    )  # fmt: skip


def _label(az: Azurite) -> None:
    """A person labels the evidence: boxes on the frames with defects, `normal` on the others."""
    from azure.storage.blob import BlobServiceClient

    cc = BlobServiceClient.from_connection_string(az.connection_string).get_container_client(
        "edgeloop-dataset"
    )
    for i, item in enumerate(LABELLED):
        blob = cc.get_blob_client(f"line-1/2026-12-04/defect_detector-1/e{i}-open.jpg")
        meta = dict(blob.get_blob_properties().metadata)
        meta["label"] = "defect" if item["objects"] else "normal"
        meta["boxes"] = json.dumps(item["objects"], separators=(",", ":"))
        blob.set_blob_metadata(meta)
    blob = cc.get_blob_client("pump/2026-12-04/sensor_anomaly-1/w1-open.json")
    blob.set_blob_metadata({**blob.get_blob_properties().metadata, "label": "bearing_wear"})


def _run(args: list[str], **kw: Any) -> dict[str, Any]:
    done = subprocess.run(args, check=True, capture_output=True, text=True, timeout=300, cwd=ROOT, **kw)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


class Device:
    def __init__(self, hub: HubProcess, rest: str) -> None:
        self.hub, self.rest = hub, rest

    def reported(self) -> dict[str, Any]:
        return dict(self.hub.twin("inference").get("reported", {}))

    def evaluations(self) -> list[dict[str, Any]]:
        out = []
        for e in self.hub.upstream():
            payload = e["event"]["payload"]
            body = json.loads(payload) if isinstance(payload, str) else payload
            if isinstance(body, dict) and body.get("kind") == "model-evaluation":
                out.append(body["data"])
        return out


@pytest.fixture
def device(tmp_path: Path, hub_factory: Callable[..., HubProcess]) -> Iterator[Device]:
    repo = tmp_path / "device-models"
    shutil.copytree(REPO, repo)
    hub = hub_factory(
        make_manifest({"up": "FROM /messages/modules/inference/outputs/* INTO $upstream"}, {"inference": {}})
    )
    port = free_port()
    from inference_helpers import module_env

    env = module_env(
        hub.env("inference"),
        MODEL_PATH=str(repo),
        PROVIDERS='["cpu"]',
        REST_PORT=str(port),
        REST_HOST="127.0.0.1",
        METRICS_PORT="0",
        METRICS_HOST="127.0.0.1",
        MODEL_VERSIONS=json.dumps({"defect_detector": "1"}),
        SHADOW_SHARE="1.0",
        SHADOW_SUMMARY_SECONDS="0.5",
    )
    with open(tmp_path / "inference.log", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "inference"], env=env, stdout=log, stderr=log)
    try:
        dev = Device(hub, f"http://127.0.0.1:{port}")
        wait_for(lambda: dev.reported().get("status") == "running", 60)
        yield dev
    finally:
        proc.kill()
        proc.wait()


def test_label_pull_retrain_package_publish_then_the_device_shadows_and_promotes(
    tmp_path: Path, azurite: Azurite, device: Device
) -> None:
    from inference_helpers import get_json, post_image

    _evidence(azurite)
    conn = ["--connection-string", azurite.connection_string]
    unlabelled = _run([*CLI, "dataset", "pull", *conn, "--out", str(tmp_path / "none")])
    assert unlabelled["detect"] + unlabelled["negative"] + unlabelled["windows"] == 0  # nothing labelled yet
    _label(azurite)
    pulled = _run([*CLI, "dataset", "pull", *conn, "--out", str(tmp_path / "ds")])
    with_boxes = sum(1 for i in LABELLED if i["objects"])
    assert (pulled["detect"], pulled["negative"], pulled["windows"]) == (
        with_boxes,
        len(LABELLED) - with_boxes,
        1,
    )
    ds = tmp_path / "ds"
    item = next(i for i in LABELLED if i["objects"])
    n = LABELLED.index(item)
    (txt,) = list(ds.glob(f"labels/*/line-1__2026-12-04__defect_detector-1__e{n}-open.txt"))
    names = [
        ln.split(":", 1)[1].strip()
        for ln in (ds / "data.yaml").read_text().splitlines()
        if ln.startswith("  ")
    ]
    first = txt.read_text().splitlines()[0].split()
    x1, y1, x2, y2 = item["objects"][0]["bbox"]
    assert names[int(first[0])] == item["objects"][0]["class"]
    assert [float(v) for v in first[1:]] == pytest.approx(
        [(x1 + x2) / 2 / 512, (y1 + y2) / 2 / 384, (x2 - x1) / 512, (y2 - y1) / 384], abs=1e-6
    )
    windows = (ds / "windows.csv").read_text().splitlines()
    assert windows[1].split(",")[1:7] == ["w1", "pump", "sensor_anomaly", "1", "", "bearing_wear"]
    manifest = [json.loads(ln) for ln in (ds / "manifest.jsonl").read_text().splitlines()]
    assert {(m["model"], m["modelVersion"]) for m in manifest} == {
        ("defect_detector", "1"),
        ("sensor_anomaly", "1"),
    }

    train = tmp_path / "train"
    subprocess.run(
        [sys.executable, "scripts/train_vision_model.py", "--out", str(train), "--testset", str(tmp_path / "ts"),
         "--train-images", "20", "--test-images", "4", "--dataset", str(ds)],
        check=True, capture_output=True, timeout=300, cwd=ROOT,
    )  # fmt: skip
    trained = train / "defect_detector" / "1"
    meta = json.loads((trained / "metadata.json").read_text())
    assert meta["training"]["trainImages"] == 20 + len(LABELLED) and meta["training"]["dataset"] == "ds"
    packaged = _run([*CLI, "model", "package", str(trained / "model.onnx"), "--repo", str(tmp_path / "pkg"),
                     "--name", "defect_detector", "--version", "2", "--metadata", str(trained / "metadata.json")])  # fmt: skip
    vdir = Path(packaged["folder"])
    assert packaged["version"] == "2" and len(packaged["sha256"]) == 64
    published = _run(
        [*CLI, "model", "publish", str(vdir), *conn, "--shadow", "--state-dir", str(device.hub.state_dir)]
    )
    assert published["modelDelivery"]["defect_detector"]["url"].endswith("?<SAS>")  # the token is not printed

    delivered = wait_for(
        lambda: (
            (d := device.reported().get("modelDelivery", {}).get("defect_detector", {})).get("state")
            in ("delivered", "failed")
            and d
        ),
        60,
    )
    assert delivered["state"] == "delivered" and delivered["pinned"] == "1"  # the pin keeps 1 serving
    wait_for(
        lambda: device.reported()["models"]["shadow"].get("defect_detector", {}).get("version") == "2", 30
    )
    for item in LABELLED[:6]:
        status, _ = post_image(device.rest + "/predict", (TESTSET / item["file"]).read_bytes())
        assert status == 200
    evaluation = wait_for(lambda: device.evaluations(), 30)[0]
    assert (evaluation["activeVersion"], evaluation["candidateVersion"]) == ("1", "2")
    assert evaluation["samples"] >= 1 and evaluation["errors"] == 0 and evaluation["agreement"] is not None
    result = device.hub.invoke("inference", "promoteModel", {"model": "defect_detector"})
    assert result["status"] == 200, result
    status, health = get_json(device.rest + "/health")
    assert status == 200 and health["model"]["version"] == "2"
