"""`edgeloop model package` / `edgeloop model publish`: a repository version (model + metadata + sha256),
uploaded to Blob with a read-only SAS URL, and the twin's `modelDelivery` (and `shadowVersions`) set."""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any


def package(model: Path, repo: Path, name: str, version: str, metadata: dict[str, Any] | None = None) -> Path:
    """Write `<repo>/<name>/<version>/model.onnx` + `metadata.json` (what is given, plus name, version and
    sha256; the module infers the rest from the graph); the version folder."""
    if not version.isdigit():
        raise ValueError(f"version {version!r}: versions are numbers (Triton's rule)")
    vdir = repo / name / version
    if vdir.exists():
        raise FileExistsError(f"{vdir} exists: versions are immutable, pick the next number")
    data = model.read_bytes()
    staging = repo / name / f".{version}.staging"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    (staging / "model.onnx").write_bytes(data)
    meta = {**(metadata or {}), "name": name, "version": version, "sha256": hashlib.sha256(data).hexdigest()}
    (staging / "metadata.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    staging.rename(vdir)
    return vdir


def _account(connection_string: str) -> tuple[str, str]:
    parts = dict(p.split("=", 1) for p in connection_string.split(";") if "=" in p)
    return parts["AccountName"], parts["AccountKey"]


def publish(
    vdir: Path, connection_string: str, container: str = "models", valid_days: float = 30.0
) -> dict[str, Any]:
    """Upload a packaged version; the `modelDelivery` entry for it (url with a read-only SAS)."""
    from azure.storage.blob import BlobSasPermissions, BlobServiceClient, generate_blob_sas

    meta = json.loads((vdir / "metadata.json").read_text())
    data = (vdir / "model.onnx").read_bytes()
    name, version = meta["name"], meta["version"]
    service = BlobServiceClient.from_connection_string(connection_string)
    cc = service.get_container_client(container)
    if not cc.exists():
        cc.create_container()
    blob = f"{name}/{version}/model.onnx"
    cc.upload_blob(blob, data, overwrite=True, metadata={"sha256": meta["sha256"]})
    cc.upload_blob(f"{name}/{version}/metadata.json", json.dumps(meta).encode(), overwrite=True)
    account, key = _account(connection_string)
    sas = generate_blob_sas(
        account,
        container,
        blob,
        account_key=key,
        permission=BlobSasPermissions(read=True),
        expiry=datetime.now(UTC) + timedelta(days=valid_days),
    )
    extra = {k: v for k, v in meta.items() if k not in ("name", "version", "sha256")}
    spec: dict[str, Any] = {
        "version": version,
        "url": f"{cc.get_blob_client(blob).url}?{sas}",
        "sha256": meta["sha256"],
        "size": len(data),
    }
    if extra:
        spec["metadata"] = extra
    return spec


def desired_patch(name: str, spec: dict[str, Any], shadow: bool) -> dict[str, Any]:
    """The desired properties that deliver `spec` (and run it in shadow beside the active version)."""
    patch: dict[str, Any] = {"modelDelivery": {name: spec}}
    if shadow:
        patch["shadowVersions"] = {name: spec["version"]}
    return patch
