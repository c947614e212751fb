"""The Triton-shaped model repository: `<root>/<model>/<version>/model.onnx` + `metadata.json`."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from .errors import ModelRejected
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


def read_version(root: Path, model: str, version: str) -> ModelFiles:
    """Read and check one version: metadata parses, names agree, sha256 matches the model file."""
    vdir = root / model / version
    try:
        data = (vdir / MODEL_FILE).read_bytes()
        raw = json.loads((vdir / METADATA_FILE).read_text())
    except OSError as exc:
        raise ModelRejected("unreadable", f"{vdir}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise ModelRejected("bad_metadata", f"{vdir / METADATA_FILE}: {exc}") from exc
    try:
        meta = ModelMetadata.model_validate(raw)
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
    digest = hashlib.sha256(data).hexdigest()
    if digest != meta.sha256:
        raise ModelRejected(
            "checksum", f"{model}/{version}: sha256 {digest[:12]}... != {meta.sha256[:12]}..."
        )
    return ModelFiles(model, version, vdir, data, meta)
