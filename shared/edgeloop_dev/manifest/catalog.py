"""The repo's modules as their `module.json` files declare them: image, platforms, inputs, outputs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import RenderError

ANY_CONTENT_TYPE = "*"
JSON_CONTENT_TYPE = "application/json"


@dataclass(frozen=True)
class ModuleInfo:
    """One module.json: `repository:version-platform` image tags, and the declared inputs and outputs.

    `outputs` maps an output name to its content type (`*` when it carries whatever it was given,
    like `deadletter`).
    """

    name: str
    repository: str
    version: str
    platforms: Mapping[str, str] = field(default_factory=dict)
    inputs: tuple[str, ...] = ()
    outputs: Mapping[str, str] = field(default_factory=dict)
    path: Path | None = None

    def image(self, platform: str) -> str:
        """The image tag for one platform key (`amd64`, `amd64.debug`, `amd64.gpu`...), iotedgedev-style."""
        if platform not in self.platforms:
            declared = ", ".join(sorted(self.platforms)) or "none"
            raise RenderError(
                f"module {self.name}: module.json declares no {platform!r} platform (declared: {declared})"
            )
        return f"{self.repository}:{self.version}-{platform}"

    def is_json_output(self, output: str) -> bool:
        """Whether an output always carries `application/json` (so `$body` conditions can apply)."""
        return self.outputs.get(output, "").split(";")[0].strip().lower() == JSON_CONTENT_TYPE


def _require(doc: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    value = doc.get(key)
    if not isinstance(value, kind):
        raise RenderError(f"{where}: {key!r} must be a {kind.__name__}")
    return value


def parse_module_json(name: str, doc: object, where: str = "module.json") -> ModuleInfo:
    """Validate one module.json document (iotedgedev's fields plus the `edgeloop` section)."""
    if not isinstance(doc, Mapping):
        raise RenderError(f"{where}: expected a JSON object")
    image = _require(doc, "image", Mapping, where)
    repository = _require(image, "repository", str, f"{where}: image")
    tag = _require(image, "tag", Mapping, f"{where}: image")
    version = _require(tag, "version", str, f"{where}: image.tag")
    platforms = _require(tag, "platforms", Mapping, f"{where}: image.tag")
    edgeloop = doc.get("edgeloop", {})
    if not isinstance(edgeloop, Mapping):
        raise RenderError(f"{where}: 'edgeloop' must be an object")
    inputs = edgeloop.get("inputs", [])
    if not isinstance(inputs, list) or not all(isinstance(i, str) for i in inputs):
        raise RenderError(f"{where}: edgeloop.inputs must be a list of input names")
    outputs = edgeloop.get("outputs", {})
    if not isinstance(outputs, Mapping) or not all(isinstance(v, str) for v in outputs.values()):
        raise RenderError(f"{where}: edgeloop.outputs must map output names to content types")
    return ModuleInfo(
        name=name,
        repository=repository,
        version=version,
        platforms={str(k): str(v) for k, v in platforms.items()},
        inputs=tuple(inputs),
        outputs={str(k): v for k, v in outputs.items()},
    )


def load_module_json(path: Path) -> ModuleInfo:
    """Read `modules/<name>/module.json`; the folder name is the module name."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RenderError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise RenderError(f"{path}: not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from exc
    info = parse_module_json(path.parent.name, doc, str(path))
    return ModuleInfo(
        info.name, info.repository, info.version, info.platforms, info.inputs, info.outputs, path
    )


def load_catalog(modules_dir: Path) -> dict[str, ModuleInfo]:
    """Every `modules/*/module.json`, by module name."""
    if not modules_dir.is_dir():
        return {}
    return {
        path.parent.name: load_module_json(path)
        for path in sorted(modules_dir.glob("*/module.json"))
        if path.parent.name.isidentifier()
    }
