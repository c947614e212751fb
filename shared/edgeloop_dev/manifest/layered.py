"""Layered deployments: `properties.desired.<path>` keys, and composing a layer onto a base like IoT Hub."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from .errors import RenderError

PREFIX = "properties.desired."


def is_wrapped(doc: object) -> bool:
    """A layered deployment as az and iotedgedev take it: `{"content": {"modulesContent": ...}}`."""
    return (
        isinstance(doc, Mapping) and isinstance(doc.get("content"), Mapping) and "modulesContent" not in doc
    )


def unwrap(doc: Any) -> Any:
    """The deployment inside a `content` wrapper (top-level keys such as `$schema-template` kept)."""
    if not is_wrapped(doc):
        return doc
    return {**{k: v for k, v in doc.items() if k != "content"}, **doc["content"]}


def is_layered(doc: object) -> bool:
    """Whether a deployment uses the layered syntax (`properties.desired.<path>` keys) anywhere."""
    if is_wrapped(doc):
        return True
    content = doc.get("modulesContent") if isinstance(doc, Mapping) else None
    if not isinstance(content, Mapping):
        return False
    return any(
        isinstance(twin, Mapping) and any(str(key).startswith(PREFIX) for key in twin)
        for twin in content.values()
    )


def _set(target: dict[str, Any], path: list[str], value: object, where: str) -> None:
    node = target
    for part in path[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise RenderError(f"{where}: {part!r} is not an object in the base deployment")
        node = child
    node[path[-1]] = copy.deepcopy(value)


def compose(base: Mapping[str, Any], layer: Mapping[str, Any]) -> dict[str, Any]:
    """The deployment a device gets from a base and one higher-priority layer.

    `properties.desired` replaces a twin's desired properties; `properties.desired.a.b` sets one
    path in them (IoT Hub splits the key on dots).
    """
    base, layer = unwrap(base), unwrap(layer)
    result: dict[str, Any] = copy.deepcopy(dict(base))
    content = result.setdefault("modulesContent", {})
    for twin, body in layer.get("modulesContent", {}).items():
        if not isinstance(body, Mapping):
            raise RenderError(f"modulesContent.{twin}: expected an object")
        target = content.setdefault(twin, {})
        for key, value in body.items():
            where = f"modulesContent.{twin}.{key}"
            if key == "properties.desired":
                target["properties.desired"] = copy.deepcopy(value)
            elif str(key).startswith(PREFIX):
                desired = target.setdefault("properties.desired", {})
                _set(desired, str(key)[len(PREFIX) :].split("."), value, where)
            else:
                raise RenderError(f"{where}: a layer sets properties.desired or properties.desired.<path>")
    return result


def layered_modules(agent: Mapping[str, Any]) -> dict[str, Any]:
    """`properties.desired.modules.<name>` and `.systemModules.<name>` entries of a layer's `$edgeAgent`."""
    found: dict[str, Any] = {}
    for key, value in agent.items():
        parts = str(key).split(".")
        if (
            len(parts) == 4
            and parts[:2] == ["properties", "desired"]
            and parts[2] in ("modules", "systemModules")
        ):
            found[str(key)] = value
    return found
