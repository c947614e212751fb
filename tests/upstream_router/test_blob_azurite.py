"""The Blob adapter against the real Azurite: uploads with metadata, and a refusing or hanging endpoint."""

from __future__ import annotations

import json
import uuid

import pytest
from azure.storage.blob import BlobServiceClient

from edgeloop_dev.azurite import Azurite, connection_string, free_port
from upstream_router.blob import BlobRefusedError, BlobTarget, BlobUnavailableError


async def test_upload_creates_the_container_and_keeps_metadata(azurite: Azurite) -> None:
    container = f"ds-{uuid.uuid4().hex[:8]}"
    async with BlobTarget(azurite.connection_string, container) as target:
        url = await target.upload(
            "pump/2027-01-15/pca-3/e1-open.json", b'{"w": [1]}', "application/json", {"label": "unlabelled"}
        )
        assert url == target.url_for("pump/2027-01-15/pca-3/e1-open.json")
        # a retry of the same upload is harmless
        await target.upload(
            "pump/2027-01-15/pca-3/e1-open.json", b'{"w": [1]}', "application/json", {"label": "unlabelled"}
        )
    svc = BlobServiceClient.from_connection_string(azurite.connection_string)
    blob = svc.get_blob_client(container, "pump/2027-01-15/pca-3/e1-open.json")
    assert json.loads(blob.download_blob().readall()) == {"w": [1]}
    props = blob.get_blob_properties()
    assert (
        props.metadata == {"label": "unlabelled"}
        and props.content_settings.content_type == "application/json"
    )


async def test_an_endpoint_nobody_listens_on_is_unavailable() -> None:
    async with BlobTarget(connection_string("127.0.0.1", free_port()), "ds", timeout=2) as target:
        with pytest.raises(BlobUnavailableError):
            await target.upload("a.json", b"{}", "application/json", {})


async def test_a_wrong_key_is_refused(azurite: Azurite) -> None:
    bad = azurite.connection_string.replace("Eby8", "Xby8")
    async with BlobTarget(bad, "ds") as target:
        with pytest.raises(BlobRefusedError):
            await target.upload("a.json", b"{}", "application/json", {})


async def test_a_hanging_endpoint_times_out(azurite: Azurite) -> None:
    async with BlobTarget(azurite.connection_string, "ds-hang", timeout=1) as target:
        azurite.pause()
        try:
            with pytest.raises(BlobUnavailableError):
                await target.upload("a.json", b"{}", "application/json", {})
        finally:
            azurite.resume()
        await target.upload("a.json", b"{}", "application/json", {})


def test_list_dataset_lists_labelled_blobs(azurite: Azurite) -> None:
    import os
    import subprocess
    import sys

    container = f"ds-{uuid.uuid4().hex[:8]}"
    svc = BlobServiceClient.from_connection_string(azurite.connection_string)
    cc = svc.create_container(container)
    for i in range(3):
        cc.upload_blob(
            f"pump/2027-01-15/pca-3/e{i}-open.json", b"{}", metadata={"asset": "pump", "label": "unlabelled"}
        )
    env = {**os.environ, "BLOB_CONNECTION_STRING": azurite.connection_string, "BLOB_CONTAINER": container}
    script = "scripts/list_dataset.py"
    label = subprocess.run(
        [sys.executable, script, "--set-label", "pump/2027-01-15/pca-3/e1-open.json", "bearing_wear"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(label.stdout)["label"] == "bearing_wear"
    out = subprocess.run([sys.executable, script], env=env, capture_output=True, text=True, check=True)
    [row] = [json.loads(line) for line in out.stdout.splitlines()]
    assert row["path"] == "pump/2027-01-15/pca-3/e1-open.json" and row["label"] == "bearing_wear"
    everything = subprocess.run(
        [sys.executable, script, "--all"], env=env, capture_output=True, text=True, check=True
    )
    assert len(everything.stdout.splitlines()) == 3
