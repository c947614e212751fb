"""Validate a manifest the way VS Code (SchemaStore) and az do, with their schemas vendored in the repo.

A template is checked against SchemaStore's deployment-template 4.0, a rendered manifest against its
deployment 2.0; both against az's per-module schemas, chosen by each module's `schemaVersion` and
skipped where az has none (as az skips them). See deployment/schema/vendor/SOURCES.md.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import RenderError
from .findings import Finding

VENDOR = Path("deployment/schema/vendor")
SCHEMASTORE = "schemastore"
AZ = "azure-iot-cli-extension"
AZ_FILES = {
    "$edgeAgent": "azure-iot-edgeagent-deployment-{}.json",
    "$edgeHub": "azure-iot-edgehub-deployment-{}.json",
}


@dataclass(frozen=True)
class VendoredSchemas:
    """The vendored schema files, read once."""

    schemastore: dict[str, dict[str, Any]]  # file name → schema
    az: dict[str, dict[str, Any]]

    @classmethod
    def load(cls, root: Path) -> VendoredSchemas:
        """Read every vendored schema under `root`/deployment/schema/vendor; RenderError when unreadable."""
        folders: dict[str, dict[str, dict[str, Any]]] = {SCHEMASTORE: {}, AZ: {}}
        for name, found in folders.items():
            folder = root / VENDOR / name
            for path in sorted(folder.glob("*.json")):
                try:
                    found[path.name] = json.loads(path.read_text(encoding="utf-8"))
                except (OSError, json.JSONDecodeError) as exc:
                    raise RenderError(f"cannot read vendored schema {path}: {exc}") from exc
            if not found:
                raise RenderError(f"no vendored schemas in {folder}")
        return cls(folders[SCHEMASTORE], folders[AZ])


def _path(parts: Any) -> str:
    return ".".join(str(part) for part in parts)


def _errors(doc: Any, schema: Mapping[str, Any], related: Mapping[str, Mapping[str, Any]]) -> list[Any]:
    from jsonschema import validators
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    resources = [
        (
            str(other.get("id") or other.get("$id")),
            Resource.from_contents(dict(other), default_specification=DRAFT4),
        )
        for other in related.values()
        if other.get("id") or other.get("$id")
    ]
    registry: Registry[Any] = Registry().with_resources(resources)
    validator_class = validators.validator_for(schema)
    validator = validator_class(schema, registry=registry)
    return list(validator.iter_errors(doc))


def _message(error: Any) -> str:
    if error.validator in ("oneOf", "anyOf") and error.context:
        best = max(error.context, key=lambda e: len(list(e.absolute_path)))  # the most specific reason
        return f"{best.message} (at {_path(best.absolute_path)})"
    message = str(error.message)
    return message if len(message) <= 160 else message[:157] + "..."


def vendor_findings(doc: Mapping[str, Any], schemas: VendoredSchemas, template: bool) -> list[Finding]:
    """Findings from SchemaStore's schema (template 4.0 or deployment 2.0) and az's per-module schemas."""
    name = "azure-iot-edge-deployment-template-4.0.json" if template else "azure-iot-edge-deployment-2.0.json"
    found = [
        Finding(_path(error.absolute_path), "schemastore", f"{_message(error)} ({name})")
        for error in _errors(doc, schemas.schemastore[name], schemas.schemastore)
    ]
    if template:
        return sorted(found)  # az sees only rendered manifests (createOptions as strings)
    content = doc.get("modulesContent")
    if not isinstance(content, Mapping):
        return sorted(found)
    for module, pattern in AZ_FILES.items():
        desired = (
            content.get(module, {}).get("properties.desired")
            if isinstance(content.get(module), Mapping)
            else None
        )
        if not isinstance(desired, Mapping) or "schemaVersion" not in desired:
            continue
        file = pattern.format(desired["schemaVersion"])
        schema = schemas.az.get(file)
        if schema is None:
            continue  # az: "Invalid schema path ..., skipping validation"
        for error in _errors({module: content[module]}, schema, {}):
            path = _path(["modulesContent", *error.absolute_path])
            found.append(Finding(path, "az-schema", f"{_message(error)} (az {file})"))
    return sorted(found)
