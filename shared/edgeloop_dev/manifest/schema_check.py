"""JSON Schema (Draft 2020-12) validation of a manifest against the schema shipped in deployment/schema/."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import RenderError
from .findings import Finding


def load_schema(path: Path) -> dict[str, Any]:
    """Read the schema file; RenderError when it is missing or not JSON."""
    try:
        schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RenderError(f"cannot read schema {path}: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise RenderError(f"schema {path} is not JSON: {exc}") from exc
    return schema


def _path(parts: Any) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _short(error: Any) -> str:
    """jsonschema's message, with a long instance repr at its start cut down to a few characters."""
    message = str(error.message)
    shown = repr(error.instance)
    if len(shown) > 60 and message.startswith(shown):
        kind = type(error.instance).__name__
        message = f"{shown[:40]}...({kind}){message[len(shown) :]}"
    return message


def _message(error: Any) -> str:
    if error.validator in ("oneOf", "anyOf") and error.context:
        # name the closest alternative's reason instead of "is not valid under any of the given schemas"
        best = min(error.context, key=lambda e: len(list(e.absolute_path)))
        deeper = _path(best.relative_path)
        return _short(best) + (f" (at {deeper})" if deeper else "")
    if error.validator == "not" and isinstance(error.validator_value, dict):
        required = error.validator_value.get("required") or []
        if required == ["startupOrder"]:
            return "startupOrder needs $edgeAgent schemaVersion 1.1"
        if required:
            return f"{', '.join(required)} not allowed here"
    path = list(error.absolute_path)
    if path[-2:-1] == ["routes"] and isinstance(error.instance, dict) and error.validator == "type":
        return "route objects (priority, timeToLiveSecs) need $edgeHub schemaVersion 1.1 or later"
    return _short(error)


def schema_findings(
    doc: Mapping[str, Any], schema: Mapping[str, Any], *related: Mapping[str, Any]
) -> list[Finding]:
    """Every schema violation, one finding each, with its path. `related` schemas resolve `$ref`s by `$id`."""
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    registry: Registry[Any] = Registry().with_resources(
        (str(other["$id"]), Resource.from_contents(dict(other))) for other in related if "$id" in other
    )
    validator = Draft202012Validator(schema, registry=registry)
    return sorted(
        Finding(_path(error.absolute_path), "schema", _message(error)) for error in validator.iter_errors(doc)
    )
