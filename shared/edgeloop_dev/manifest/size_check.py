"""Size checks: twin desired properties (32 KB, 4 KB a value), createOptions (8 x 512 chunks)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from .createoptions import CHUNK_CHARS, MAX_CHUNKS, extra_keys, joined, split
from .findings import Finding

DESIRED_LIMIT = 32 * 1024  # properties.desired of one twin
VALUE_LIMIT = 4 * 1024  # one property value
DESIRED = "properties.desired"


def json_size(value: object) -> int:
    """Bytes of a value as compact UTF-8 JSON (how the twin stores it)."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def _leaves(node: object, path: str) -> Iterator[tuple[str, object]]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            yield from _leaves(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _leaves(value, f"{path}[{i}]")
    else:
        yield path, node


def desired_findings(modules_content: Mapping[str, Any]) -> list[Finding]:
    """Every twin's desired properties against 32 KB, and every single value against 4 KB."""
    found: list[Finding] = []
    for twin, body in modules_content.items():
        if not isinstance(body, Mapping):
            continue
        for key, desired in body.items():
            if str(key) == DESIRED or str(key).startswith(DESIRED + "."):
                found += _desired(f"modulesContent.{twin}.{key}", desired, whole=str(key) == DESIRED)
    return found


def _desired(path: str, desired: object, whole: bool) -> list[Finding]:
    """A twin's desired properties (`whole`), or one layered path in them."""
    found: list[Finding] = []
    if whole:
        size = json_size(desired)
        if size > DESIRED_LIMIT:
            found.append(
                Finding(
                    path,
                    "desired-size",
                    f"desired properties are {size} bytes, over the twin's 32 KB ({DESIRED_LIMIT})",
                )
            )
    for leaf_path, value in _leaves(desired, path):
        if ".settings.createOptions" in leaf_path:
            continue  # rendered into <= 512-character parts: the create-options rules apply
        leaf = len(value.encode("utf-8")) if isinstance(value, str) else json_size(value)
        if leaf > VALUE_LIMIT:
            found.append(
                Finding(
                    leaf_path,
                    "desired-value-size",
                    f"value is {leaf} bytes, over the 4 KB per value ({VALUE_LIMIT})",
                )
            )
    return found


def _modules(agent_desired: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for group in ("systemModules", "modules"):
        modules = agent_desired.get(group)
        if isinstance(modules, Mapping):
            for name, module in modules.items():
                settings = module.get("settings") if isinstance(module, Mapping) else None
                if isinstance(settings, Mapping):
                    yield f"modulesContent.$edgeAgent.{DESIRED}.{group}.{name}.settings", settings


def create_options_findings(agent_desired: Mapping[str, Any], rendered: bool) -> list[Finding]:
    """createOptions that the tooling cannot split into 8 chunks, that are not JSON, or badly chunked."""
    found: list[Finding] = []
    for path, settings in _modules(agent_desired):
        if "createOptions" not in settings:
            continue
        text = joined(settings)
        chunks = len(split(text))
        if chunks > MAX_CHUNKS:
            found.append(
                Finding(
                    f"{path}.createOptions",
                    "create-options-size",
                    f"createOptions is {len(text)} characters: {chunks} chunks of {CHUNK_CHARS}, "
                    f"over the tooling's {MAX_CHUNKS} (createOptions + createOptions01..07)",
                )
            )
        try:
            parsed = json.loads(text) if text else {}
        except json.JSONDecodeError as exc:
            found.append(
                Finding(
                    f"{path}.createOptions", "create-options-json", f"createOptions is not JSON: {exc.msg}"
                )
            )
        else:
            if not isinstance(parsed, dict):
                found.append(
                    Finding(
                        f"{path}.createOptions", "create-options-json", "createOptions must be a JSON object"
                    )
                )
        if rendered:
            found += _chunking(path, settings)
    return found


def _chunking(path: str, settings: Mapping[str, Any]) -> list[Finding]:
    found: list[Finding] = []
    keys = ["createOptions", *extra_keys(settings)]
    expected = ["createOptions", *(f"createOptions{i:02d}" for i in range(1, len(keys)))]
    if keys != expected:
        found.append(
            Finding(
                path,
                "create-options-chunks",
                f"createOptions parts must be contiguous: got {', '.join(keys)}",
            )
        )
    if not isinstance(settings["createOptions"], str):
        found.append(
            Finding(
                f"{path}.createOptions",
                "create-options-chunks",
                "a rendered manifest carries createOptions as a string",
            )
        )
    for key in keys:
        value = settings.get(key)
        if isinstance(value, str) and len(value) > CHUNK_CHARS:
            found.append(
                Finding(
                    f"{path}.{key}",
                    "create-options-chunks",
                    f"each createOptions part is at most {CHUNK_CHARS} characters, got {len(value)}",
                )
            )
    return found
