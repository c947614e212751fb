"""Template → concrete manifest, as `iotedgedev genconfig` does it (pure: no file access)."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from edgeloop_runtime.settings import merge_patch

from .catalog import ModuleInfo
from .createoptions import chunk_settings
from .errors import RenderError
from .layered import is_layered, is_wrapped, layered_modules, unwrap
from .placeholders import (
    MODULE_PLACEHOLDER,
    ModuleRef,
    expand_variables,
    map_strings,
    unresolved,
    walk_strings,
)

AGENT = "$edgeAgent"
DESIRED = "properties.desired"


@dataclass(frozen=True)
class RenderOptions:
    """What one render targets: the platform, GPU or not, the `.env` variables, the GPU overlay."""

    platform: str
    gpu: bool = False
    variables: Mapping[str, str] = field(default_factory=dict)
    gpu_overlay: Mapping[str, Any] | None = None  # a JSON merge patch of the template, applied with --gpu
    strict: bool = (
        False  # raise on unresolved placeholders (the CLI does; iotedgedev leaves them, so does the demo)
    )


def agent_desired(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """`modulesContent.$edgeAgent.properties.desired`, or RenderError naming the missing part."""
    node: Any = manifest
    walked: list[str] = []
    for key in ("modulesContent", AGENT, DESIRED):
        walked.append(key)
        if not isinstance(node, dict) or not isinstance(node.get(key), dict):
            raise RenderError(f"{'.'.join(walked)}: missing or not an object")
        node = node[key]
    result: dict[str, Any] = node
    return result


def _overlay_modules(overlay: Mapping[str, Any]) -> set[str]:
    try:
        modules = overlay["modulesContent"][AGENT][DESIRED]["modules"]
    except (KeyError, TypeError):
        return set()
    return set(modules) if isinstance(modules, dict) else set()


def _resolve_images(
    doc: dict[str, Any], catalog: Mapping[str, ModuleInfo], options: RenderOptions, gpu_modules: set[str]
) -> dict[str, Any]:
    def resolve(path: str, value: str) -> str:
        def substitute(match: re.Match[str]) -> str:
            ref = ModuleRef(match.group("name"), match.group("suffix"))
            info = catalog.get(ref.name)
            if info is None:
                raise RenderError(
                    f"{path}: {match.group(0)} names no module with a module.json "
                    f"(modules/{ref.name}/module.json)"
                )
            return info.image(ref.platform_key(options.platform, options.gpu and ref.name in gpu_modules))

        return MODULE_PLACEHOLDER.sub(substitute, value)

    result: dict[str, Any] = map_strings(doc, resolve)
    return result


def _chunk_all(doc: dict[str, Any]) -> None:
    if is_layered(doc):
        agent = doc.get("modulesContent", {}).get(AGENT, {})
        for key, module in layered_modules(agent).items():
            if isinstance(module, dict) and isinstance(module.get("settings"), dict):
                module["settings"] = chunk_settings(module["settings"], f"{key}.settings")
        return
    desired = agent_desired(doc)
    for group in ("systemModules", "modules"):
        modules = desired.get(group)
        if not isinstance(modules, dict):
            continue
        for name, module in modules.items():
            settings = module.get("settings") if isinstance(module, dict) else None
            if isinstance(settings, dict):
                module["settings"] = chunk_settings(settings, f"{group}.{name}.settings")


def render_manifest(
    template: Mapping[str, Any], catalog: Mapping[str, ModuleInfo], options: RenderOptions
) -> dict[str, Any]:
    """Resolve images, variables and createOptions; RenderError lists whatever cannot be resolved."""
    if is_wrapped(template):  # a layer as iotedgedev and az take it: rendered inside its wrapper
        inner = render_manifest(unwrap(template), catalog, options)
        return {"content": {"modulesContent": inner["modulesContent"]}}
    doc: dict[str, Any] = copy.deepcopy(dict(template))
    if not is_layered(doc):
        agent_desired(doc)  # fail early on a document that is not a manifest
    gpu_modules: set[str] = set()
    if options.gpu:
        if options.gpu_overlay is None:
            raise RenderError("--gpu needs a GPU overlay (deployment/gpu.overlay.json)")
        gpu_modules = _overlay_modules(options.gpu_overlay)
        patch = {key: value for key, value in options.gpu_overlay.items() if key != "$comment"}
        doc = merge_patch(doc, patch)
    doc = _resolve_images(doc, catalog, options, gpu_modules)
    doc = map_strings(doc, lambda _path, value: expand_variables(value, options.variables))
    _chunk_all(doc)
    # A template's marker, not part of a deployment: SchemaStore's deployment 2.0 (what VS Code checks
    # config/*.json against) allows only modulesContent at the root, and iotedgedev drops it too.
    doc.pop("$schema-template", None)
    if options.strict:
        missing = find_unresolved(doc)
        if missing:
            shown = "; ".join(f"{path}: {', '.join(names)}" for path, names in missing[:10])
            more = f" (and {len(missing) - 10} more)" if len(missing) > 10 else ""
            raise RenderError(
                "unresolved placeholders (set them in .env or the environment; see deployment/.env.example): "
                f"{shown}{more}"
            )
    return doc


def find_unresolved(doc: Mapping[str, Any]) -> list[tuple[str, list[str]]]:
    """(path, placeholders) for every string value that still holds a placeholder; routes are skipped."""
    found: list[tuple[str, list[str]]] = []
    for path, value in walk_strings(doc):
        if ".$edgeHub.properties.desired.routes." in f".{path}":
            continue  # route text: `$upstream`, `$body`... are route syntax
        names = unresolved(value)
        if names:
            found.append((path, names))
    return found
