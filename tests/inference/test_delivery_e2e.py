"""Models delivered from the cloud for real: a Blob SAS URL on a real Azurite, the desired property through
the local hub, `python -m inference` downloading, checking, warming up and swapping the version in."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from inference_helpers import MODELS, get_json, module_env

from edgeloop_dev.azurite import ACCOUNT, DEV_KEY, Azurite, missing_reason
from edgeloop_dev.hub.harness import HubProcess, make_manifest, wait_for
from edgeloop_dev.plant.process import free_port

YOLO = (MODELS / "yolov8" / "model.onnx").read_bytes()
YOLO_SHA = hashlib.sha256(YOLO).hexdigest()


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    reason = missing_reason()
    if reason:
        pytest.skip(reason)
    with Azurite.start(tmp_path_factory.mktemp("azurite")) as az:
        yield az


def _sas_url(az: Azurite, blob: str, data: bytes) -> str:
    from azure.storage.blob import BlobSasPermissions, BlobServiceClient, generate_blob_sas

    service = BlobServiceClient.from_connection_string(az.connection_string)
    container = service.get_container_client("models")
    if not container.exists():
        container.create_container()
    container.upload_blob(blob, data, overwrite=True)
    sas = generate_blob_sas(
        ACCOUNT,
        "models",
        blob,
        account_key=DEV_KEY,
        permission=BlobSasPermissions(read=True),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )
    return f"http://{az.host}:{az.port}/{ACCOUNT}/models/{blob}?{sas}"


class Device:
    def __init__(self, hub: HubProcess, repo: Path, rest: str, log: Path) -> None:
        self.hub, self.repo, self.rest, self.log = hub, repo, rest, log

    def delivery(self) -> dict[str, Any]:
        reported = self.hub.twin("inference").get("reported", {})
        return dict(reported.get("modelDelivery", {}).get("defect_detector", {}))

    def serving(self) -> tuple[str | None, str | None]:
        _status, health = get_json(self.rest + "/health")
        model = health.get("models", {}).get("defect_detector", {})
        return model.get("version"), model.get("decoder")

    def versions(self) -> list[str]:
        return sorted(p.name for p in (self.repo / "defect_detector").iterdir() if p.name.isdigit())

    def deliver(self, version: str, url: str, sha256: str = YOLO_SHA, **extra: Any) -> None:
        spec = {"version": version, "url": url, "sha256": sha256, "size": len(YOLO)}
        self.hub.push_desired("inference", {"modelDelivery": {"defect_detector": spec}, **extra})

    def wait_state(self, version: str, *states: str) -> dict[str, Any]:
        """Until the delivery of `version` reaches one of `states` (reported properties)."""
        return dict(
            wait_for(
                lambda: (d := self.delivery()).get("version") == version and d.get("state") in states and d,
                60,
            )
        )


@pytest.fixture
def device(tmp_path: Path, hub_factory: Callable[..., HubProcess]) -> Iterator[Device]:
    repo = tmp_path / "models"
    (repo / "defect_detector" / "1").mkdir(parents=True)
    shutil.copy(MODELS / "yolov8_nms" / "model.onnx", repo / "defect_detector" / "1" / "model.onnx")
    hub = hub_factory(make_manifest({}, {"inference": {}}))
    port = free_port()
    env = module_env(
        hub.env("inference"),
        MODEL_PATH=str(repo),
        PROVIDERS='["cpu"]',
        REST_PORT=str(port),
        REST_HOST="127.0.0.1",
        METRICS_PORT="0",
        METRICS_HOST="127.0.0.1",
        MODEL_RETENTION="2",
    )
    log = tmp_path / "inference.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "inference"], env=env, stdout=out, stderr=out)
    dev = Device(hub, repo, f"http://127.0.0.1:{port}", log)
    try:
        wait_for(lambda: hub.twin("inference").get("reported", {}).get("status") == "running", 60)
        yield dev
    finally:
        proc.kill()
        proc.wait()


def test_a_version_delivered_by_twin_is_downloaded_checked_and_swapped_in_and_a_bad_one_changes_nothing(
    azurite: Azurite, device: Device
) -> None:
    assert device.serving() == ("1", "nms")
    url = _sas_url(azurite, "defect_detector/2/model.onnx", YOLO)
    device.deliver("2", url)
    done = device.wait_state("2", "active", "failed")
    assert done["state"] == "active", done
    assert device.serving() == ("2", "yolov8")
    assert "sig=" not in str(done) and done["url"].endswith("/models/defect_detector/2/model.onnx")

    corrupt = bytearray(YOLO)
    corrupt[len(corrupt) // 2] ^= 0xFF
    device.deliver("3", _sas_url(azurite, "defect_detector/3/model.onnx", bytes(corrupt)))
    failed = device.wait_state("3", "failed", "active")
    assert (failed["state"], failed["reason"]) == ("failed", "checksum")
    assert device.serving() == ("2", "yolov8") and device.versions() == ["1", "2"]

    missing = _sas_url(azurite, "defect_detector/2/model.onnx", YOLO).replace("/2/", "/404/")
    device.deliver("4", missing)
    failed = device.wait_state("4", "failed", "active")
    assert failed["reason"] == "http" and device.serving() == ("2", "yolov8")


def test_an_interrupted_download_resumes_retention_prunes_and_pinning_rolls_back(
    azurite: Azurite, device: Device
) -> None:
    url = _sas_url(azurite, "defect_detector/5/model.onnx", YOLO)
    part = device.repo / ".incoming" / f"defect_detector-5-{YOLO_SHA[:16]}.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(YOLO[: len(YOLO) // 2])  # what a download cut off halfway left behind
    device.deliver("5", url)
    done = device.wait_state("5", "active", "failed")
    assert done["state"] == "active", done
    assert done["resumedFrom"] == len(YOLO) // 2  # only the rest was fetched, and the sha256 still holds
    assert device.serving() == ("5", "yolov8")
    assert (device.repo / "defect_detector" / "5" / "model.onnx").read_bytes() == YOLO
    device.deliver("6", _sas_url(azurite, "defect_detector/6/model.onnx", YOLO))
    assert device.wait_state("6", "active", "failed")["state"] == "active"
    assert device.versions() == ["5", "6"]  # MODEL_RETENTION=2: version 1 is gone
    device.hub.push_desired("inference", {"modelVersions": {"defect_detector": "5"}})
    wait_for(lambda: device.serving()[0] == "5", 30)
