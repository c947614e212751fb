"""`edgeloop manifest lint`: every check on one manifest or template, as a list of one-line findings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .catalog import ModuleInfo
from .contract_check import compiled_routes, contract_findings, unrouted_findings
from .errors import RenderError
from .findings import Finding
from .layered import compose, layered_modules, unwrap
from .placeholders import module_refs
from .render import find_unresolved
from .route_check import ROUTES_PATH, route_findings
from .schema_check import schema_findings
from .size_check import create_options_findings, desired_findings
from .vendor_check import VendoredSchemas, vendor_findings

MODULES_PATH = "modulesContent.$edgeAgent.properties.desired.modules"


def _get(node: object, *keys: str) -> Any:
    for key in keys:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def is_template(doc: object, filename: str = "") -> bool:
    """A template names `${MODULES.x}` images or is called `*.template.json`."""
    if filename.endswith(".template.json"):
        return True
    modules = _get(doc, "modulesContent", "$edgeAgent", "properties.desired", "modules")
    if not isinstance(modules, Mapping):
        return False
    return any("${MODULES." in str(_get(module, "settings", "image") or "") for module in modules.values())


def module_map(
    doc: object, catalog: Mapping[str, ModuleInfo]
) -> tuple[dict[str, ModuleInfo | None], list[Finding]]:
    """Each manifest module → its module.json (None for modules not of this repo), and findings for
    `${MODULES.x}` placeholders that name no module.json."""
    modules = _get(doc, "modulesContent", "$edgeAgent", "properties.desired", "modules")
    found: list[Finding] = []
    out: dict[str, ModuleInfo | None] = {}
    if not isinstance(modules, Mapping):
        return out, found
    for key, module in modules.items():
        image = str(_get(module, "settings", "image") or "")
        refs = list(module_refs(image))
        if refs:
            info = catalog.get(refs[0].name)
            if info is None:
                found.append(
                    Finding(
                        f"{MODULES_PATH}.{key}.settings.image",
                        "module-json-missing",
                        f"{image} names no module.json (modules/{refs[0].name}/module.json)",
                    )
                )
            out[str(key)] = info
        else:
            out[str(key)] = catalog.get(str(key))
    return out, found


def _dedupe(schema: list[Finding], semantic: list[Finding]) -> list[Finding]:
    """Drop schema findings about a route that a route rule already explains better."""
    routes = {
        f.path.removeprefix(ROUTES_PATH + ".").split(".")[0]
        for f in semantic
        if f.path.startswith(ROUTES_PATH)
    }
    kept: list[Finding] = []
    for finding in schema:
        if finding.path.startswith(ROUTES_PATH + "."):
            route = finding.path.removeprefix(ROUTES_PATH + ".").split(".")[0]
            if route in routes:
                continue
        kept.append(finding)
    return kept


def lint_manifest(
    doc: object,
    catalog: Mapping[str, ModuleInfo],
    schema: Mapping[str, Any],
    template: bool,
    vendored: VendoredSchemas | None = None,
    warnings: bool = False,
) -> list[Finding]:
    """All findings for a manifest (`template=False`: rendered, so placeholders must be resolved);
    with `vendored`, also what SchemaStore's and az's schemas find; with `warnings`, also the warnings
    (outputs routed nowhere) after the errors."""
    if not isinstance(doc, Mapping):
        return [Finding("", "schema", "a manifest must be a JSON object")]
    modules, semantic = module_map(doc, catalog)
    hub = _get(doc, "modulesContent", "$edgeHub", "properties.desired")
    semantic += route_findings(hub, modules)
    routes = compiled_routes(hub)
    content = doc.get("modulesContent")
    if isinstance(content, Mapping):
        semantic += desired_findings(content)
    agent = _get(doc, "modulesContent", "$edgeAgent", "properties.desired")
    if isinstance(agent, Mapping):
        semantic += create_options_findings(agent, rendered=not template)
    if not template:
        semantic += [
            Finding(path, "unresolved-placeholder", f"unresolved placeholder {', '.join(names)}")
            for path, names in find_unresolved(doc)
        ]
    schema_found = schema_findings(doc, schema)
    if vendored is not None:
        schema_found += vendor_findings(doc, vendored, template)
    found = _dedupe(schema_found, semantic) + sorted(semantic + contract_findings(routes, modules))
    return found + (sorted(unrouted_findings(routes, modules)) if warnings else [])


def lint_layer(
    layer: Mapping[str, Any],
    base: Mapping[str, Any] | None,
    catalog: Mapping[str, ModuleInfo],
    schema: Mapping[str, Any],
    layered_schema: Mapping[str, Any],
    template: bool,
    vendored: VendoredSchemas | None = None,
    warnings: bool = False,
) -> list[Finding]:
    """Findings for a layered deployment: its own schema and sizes, then (with a base) the composed whole
    (with its warnings if asked: a layer alone cannot tell what is routed)."""
    layer = unwrap(layer)
    found = schema_findings(layer, layered_schema, schema)
    content = layer.get("modulesContent")
    if isinstance(content, Mapping):
        found += desired_findings(content)
        agent = content.get("$edgeAgent")
        if isinstance(agent, Mapping):
            modules = {key.split(".")[-1]: value for key, value in layered_modules(agent).items()}
            found += create_options_findings({"modules": modules}, rendered=not template)
    if not template:
        found += [
            Finding(path, "unresolved-placeholder", f"unresolved placeholder {', '.join(names)}")
            for path, names in find_unresolved(layer)
        ]
    if base is None or found:
        return found
    try:
        composed = compose(base, layer)
    except RenderError as exc:
        return [Finding("modulesContent", "layer-compose", str(exc))]
    return [
        Finding(f.path, f.rule, f"with the base layer: {f.message}", f.severity)
        for f in lint_manifest(composed, catalog, schema, template, vendored, warnings)
    ]
