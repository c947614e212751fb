"""Where models come from: MODEL_PATH as a Triton-shaped repository, one .onnx file, or a folder of one.

Resolved again on every look, so an empty volume can later receive either form.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelRejected
from .repository import METADATA_FILE, RawVersion, read_raw, read_sidecar, versions


def fingerprint_of(path: Path) -> tuple[tuple[str, int, int], ...]:
    """Names, sizes and mtimes of a file or of a folder's files: changes when anything is (re)written."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    out = []
    for f in files:
        try:
            st = f.stat()
        except OSError:
            continue
        out.append((str(f), st.st_size, st.st_mtime_ns))
    return tuple(out)


@dataclass(frozen=True)
class ModelStore:
    """MODEL_PATH and the model names the module serves from it."""

    path: Path
    vision_model: str

    @property
    def setting(self) -> str:
        return f"MODEL_PATH={self.path}"

    def single_file(self) -> Path | None:
        """The .onnx served alone, or None for a repository (also None for an empty folder)."""
        p = self.path
        if p.suffix.lower() == ".onnx" and not p.is_dir():
            return p
        if p.is_dir() and not any(c.is_dir() and versions(p, c.name) for c in p.iterdir()):
            found = sorted(p.glob("*.onnx"))
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                raise ModelRejected(
                    "ambiguous", f"{self.setting} holds several .onnx files {[f.name for f in found]}"
                )
        return None

    def expects(self, name: str) -> bool:
        """Whether `name` is a model this MODEL_PATH can hold (a single file is the vision model only)."""
        try:
            single = self.single_file()
        except ModelRejected:
            return name == self.vision_model
        if single is not None or self.path.suffix.lower() == ".onnx":
            return name == self.vision_model
        return True

    def versions(self, name: str) -> list[str]:
        single = self.single_file()
        if single is not None:
            return [self._file_version(single)] if name == self.vision_model and single.is_file() else []
        return versions(self.path, name)

    def _sidecar(self, single: Path) -> dict[str, object]:
        for candidate in (single.with_suffix(".json"), single.parent / METADATA_FILE):
            if candidate.is_file():
                return read_sidecar(candidate)
        return {}

    def _file_version(self, single: Path) -> str:
        try:
            version = self._sidecar(single).get("version")
        except ModelRejected:
            version = None
        return str(version) if version else "1"

    def read(self, name: str, version: str) -> RawVersion:
        single = self.single_file()
        if single is None:
            return read_raw(self.path, name, version)
        try:
            data = single.read_bytes()
        except OSError as exc:
            raise ModelRejected("unreadable", f"{single}: {exc}") from exc
        sidecar = json.loads(json.dumps(self._sidecar(single)))
        sidecar.update({"name": name, "version": version})
        return RawVersion(name, version, single.parent, data, sidecar)

    def fingerprint(self, name: str, version: str) -> tuple[tuple[str, int, int], ...]:
        """What to compare to know that a version's files changed (or are still being written)."""
        single = self.single_file()
        if single is None:
            return fingerprint_of(self.path / name / version)
        parts = [single, single.with_suffix(".json"), single.parent / METADATA_FILE]
        return tuple(x for p in parts if p.exists() for x in fingerprint_of(p))
