"""The repo's modules as their `module.json` files declare them: image, platforms, ports, contracts."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import RenderError

ANY_CONTENT_TYPE = "*"
ANY_CONTRACT = "*"
JSON_CONTENT_TYPE = "application/json"


@dataclass(frozen=True)
class ModuleInfo:
    """One module.json: `repository:version-platform` image tags, and the declared inputs and outputs.

    `outputs` maps an output name to its content type (`*` when it carries whatever it was given,
    like `deadletter`). `input_contracts` / `output_contracts` map a port to the contract it carries
    (a name in `edgeloop_contracts.registry.CONTRACTS`, or `*` for any); a port the module.json gives
    no contract (the older list / string forms) is absent from them.
    """

    name: str
    repository: str
    version: str
    platforms: Mapping[str, str] = field(default_factory=dict)
    inputs: tuple[str, ...] = ()
    outputs: Mapping[str, str] = field(default_factory=dict)
    path: Path | None = None
    input_contracts: Mapping[str, str] = field(default_factory=dict)
    output_contracts: Mapping[str, str] = field(default_factory=dict)

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


def _contract(value: Mapping[str, Any], where: str) -> str:
    contract = value.get("contract")
    if not isinstance(contract, str) or not contract:
        raise RenderError(f"{where}: 'contract' must be a contract name (or \"*\" for any)")
    return contract


def _inputs(value: object, where: str) -> tuple[tuple[str, ...], dict[str, str]]:
    """`["a", "b"]` (names only) or `{"a": {"contract": "score"}}`."""
    if isinstance(value, list) and all(isinstance(i, str) for i in value):
        return tuple(value), {}
    if isinstance(value, Mapping) and all(isinstance(v, Mapping) for v in value.values()):
        contracts = {str(k): _contract(v, f"{where}: edgeloop.inputs.{k}") for k, v in value.items()}
        return tuple(contracts), contracts
    raise RenderError(
        f'{where}: edgeloop.inputs must be a list of input names or map names to {{"contract": ...}}'
    )


def _outputs(value: object, where: str) -> tuple[dict[str, str], dict[str, str]]:
    """`{"a": "application/json"}` (content type only) or `{"a": {"contract": ..., "contentType": ...}}`."""
    problem = RenderError(
        f"{where}: edgeloop.outputs must map output names to content types "
        '(or to {"contract": ..., "contentType": ...})'
    )
    if not isinstance(value, Mapping):
        raise problem
    types: dict[str, str] = {}
    contracts: dict[str, str] = {}
    for key, item in value.items():
        if isinstance(item, str):
            types[str(key)] = item
        elif isinstance(item, Mapping) and isinstance(item.get("contentType"), str):
            types[str(key)] = item["contentType"]
            contracts[str(key)] = _contract(item, f"{where}: edgeloop.outputs.{key}")
        else:
            raise problem
    return types, contracts


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
    inputs, input_contracts = _inputs(edgeloop.get("inputs", []), where)
    outputs, output_contracts = _outputs(edgeloop.get("outputs", {}), where)
    return ModuleInfo(
        name=name,
        repository=repository,
        version=version,
        platforms={str(k): str(v) for k, v in platforms.items()},
        inputs=inputs,
        outputs=outputs,
        input_contracts=input_contracts,
        output_contracts=output_contracts,
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
    return dataclasses.replace(info, path=path)


def load_catalog(modules_dir: Path) -> dict[str, ModuleInfo]:
    """Every `modules/*/module.json`, by module name."""
    if not modules_dir.is_dir():
        return {}
    return {
        path.parent.name: load_module_json(path)
        for path in sorted(modules_dir.glob("*/module.json"))
        if path.parent.name.isidentifier()
    }
