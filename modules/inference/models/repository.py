"""The Triton-shaped model repository: `<root>/<model>/<version>/model.onnx` + `metadata.json`."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import ModelRejected
from .metadata import ModelMetadata

MODEL_FILE = "model.onnx"
METADATA_FILE = "metadata.json"


@dataclass(frozen=True, slots=True)
class ModelFiles:
    """One version's bytes and metadata, checked against each other."""

    name: str
    version: str
    path: Path
    data: bytes
    metadata: ModelMetadata


def versions(root: Path, model: str) -> list[str]:
    """Numeric version folders of a model, lowest first (Triton's rule: only numbers are versions)."""
    folder = root / model
    if not folder.is_dir():
        return []
    return sorted((p.name for p in folder.iterdir() if p.is_dir() and p.name.isdigit()), key=int)


def models(root: Path) -> list[str]:
    """Model names: folders of the root that hold at least one numeric version."""
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and versions(root, p.name))


def pick_version(root: Path, model: str, wanted: str | None) -> str:
    """The version the twin asks for, or the highest; ModelRejected when it does not exist."""
    found = versions(root, model)
    if not found:
        raise ModelRejected("not_found", f"no versions of model {model!r} under {root}")
    if wanted in (None, "", "latest"):
        return found[-1]
    if wanted not in found:
        raise ModelRejected("not_found", f"model {model!r} has no version {wanted!r} (has {found})")
    return str(wanted)


@dataclass(frozen=True, slots=True)
class RawVersion:
    """One version as found: the model bytes and whatever metadata lies beside them (maybe none)."""

    name: str
    version: str
    path: Path  # the version folder (or the folder of a single-file model)
    data: bytes
    sidecar: dict[str, Any]

    @property
    def complete(self) -> bool:
        """A full metadata.json (as scripts/train_* write): checked as written, nothing inferred."""
        return all(k in self.sidecar for k in ("kind", "inputs", "outputs", "sha256"))


def model_file(vdir: Path) -> Path:
    """`model.onnx`, else the one .onnx file of the folder; ModelRejected when there are several."""
    if (vdir / MODEL_FILE).is_file():
        return vdir / MODEL_FILE
    found = sorted(vdir.glob("*.onnx"))
    if len(found) > 1:
        raise ModelRejected("ambiguous", f"{vdir} holds several .onnx files {[f.name for f in found]}")
    if not found:
        raise ModelRejected("unreadable", f"{vdir}: no .onnx file")
    return found[0]


def read_sidecar(path: Path) -> dict[str, Any]:
    """A metadata.json as a dict ({} when there is none); ModelRejected when it is not a JSON object."""
    if not path.is_file():
        return {}
    try:
        raw = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelRejected("bad_metadata", f"{path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ModelRejected("bad_metadata", f"{path}: not a JSON object")
    return raw


def read_raw(root: Path, model: str, version: str) -> RawVersion:
    """The bytes of one repository version and its metadata.json, if any."""
    vdir = root / model / version
    try:
        data = model_file(vdir).read_bytes()
    except OSError as exc:
        raise ModelRejected("unreadable", f"{vdir}: {exc}") from exc
    return RawVersion(model, version, vdir, data, read_sidecar(vdir / METADATA_FILE))


def check_complete(raw: RawVersion) -> ModelFiles:
    """A version with a full metadata.json: it parses, names agree, sha256 matches the model file."""
    model, version = raw.name, raw.version
    try:
        meta = ModelMetadata.model_validate(raw.sidecar)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ModelRejected("bad_metadata", f"{model}/{version}: {where}: {first['msg']}") from exc
    if meta.name != model or meta.version != version:
        raise ModelRejected(
            "bad_metadata", f"metadata says {meta.name}/{meta.version}, folder is {model}/{version}"
        )
    problem = meta.check_kind()
    if problem:
        raise ModelRejected("bad_metadata", f"{model}/{version}: {problem}")
    check_sha256(raw, meta.sha256)
    return ModelFiles(model, version, raw.path, raw.data, meta)


def check_sha256(raw: RawVersion, expected: str) -> str:
    """The model file's sha256; ModelRejected('checksum') when it is not `expected`."""
    digest = hashlib.sha256(raw.data).hexdigest()
    if digest != expected.lower():
        raise ModelRejected(
            "checksum", f"{raw.name}/{raw.version}: sha256 {digest[:12]}... != {expected[:12]}..."
        )
    return digest


def read_version(root: Path, model: str, version: str) -> ModelFiles:
    """Read and check one version with a full metadata.json (see `check_complete`)."""
    raw = read_raw(root, model, version)
    if not raw.sidecar:
        raise ModelRejected("unreadable", f"{raw.path / METADATA_FILE}: missing")
    return check_complete(raw)
