"""The local-folder Blob stand-in writes blobs and metadata in the dataset layout, and fails like Blob does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeloop_runtime.errors import ConfigError
from upstream_router.blob import BlobUnavailableError
from upstream_router.folder import FolderTarget


async def test_upload_writes_blob_and_metadata(tmp_path: Path) -> None:
    target = FolderTarget(tmp_path.as_uri(), "edgeloop-dataset")
    async with target:
        url = await target.upload(
            "pump/2026-11-22/m-1/e1-open.json", b'{"w": 1}', "application/json", {"asset": "pump"}
        )
    blob = tmp_path / "edgeloop-dataset/pump/2026-11-22/m-1/e1-open.json"
    assert url == blob.as_uri() == target.url_for("pump/2026-11-22/m-1/e1-open.json")
    assert blob.read_bytes() == b'{"w": 1}'
    meta = json.loads(blob.with_name(blob.name + ".metadata.json").read_text())
    assert meta == {"asset": "pump", "contentType": "application/json"}


async def test_unwritable_folder_is_a_transient_blob_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    target = FolderTarget(blocker.as_uri(), "c")
    with pytest.raises(BlobUnavailableError):
        await target.upload("a/b.json", b"{}", "application/json", {})


def test_relative_or_non_file_urls_are_refused() -> None:
    with pytest.raises(ConfigError):
        FolderTarget("http://example.invalid/x", "c")
