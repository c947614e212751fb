"""Route checks: grammar with position, priority, TTL, and sources/sinks naming real outputs/inputs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from edgeloop_dev.routes import (
    CompiledRoute,
    RouteError,
    RouteSpec,
    compile_route,
    route_queries_body,
    route_source_target,
)

from .catalog import ModuleInfo
from .findings import Finding

ROUTES_PATH = "modulesContent.$edgeHub.properties.desired.routes"


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _syntax(path: str, exc: RouteError) -> Finding:
    where = ""
    if exc.line is not None and exc.column is not None:
        lines = exc.route_text.splitlines() or [""]
        near = lines[exc.line - 1][exc.column - 1 : exc.column + 19] if exc.line <= len(lines) else ""
        where = f" at line {exc.line}, column {exc.column}" + (f" (near {near!r})" if near else "")
    return Finding(path, "route-syntax", f"{exc.message}{where}")


def _options(path: str, value: Mapping[str, Any]) -> list[Finding]:
    found: list[Finding] = []
    if value.get("priority") is not None:
        priority = _int(value["priority"])
        if priority is None or not 0 <= priority <= 9:
            found.append(
                Finding(
                    f"{path}.priority",
                    "route-priority",
                    f"priority must be an integer from 0 (highest) to 9, got {value['priority']!r}",
                )
            )
    if value.get("timeToLiveSecs") is not None:
        ttl = _int(value["timeToLiveSecs"])
        if ttl is None or ttl < 0:
            found.append(
                Finding(
                    f"{path}.timeToLiveSecs",
                    "route-ttl",
                    f"timeToLiveSecs must be an integer >= 0 (0: global), got {value['timeToLiveSecs']!r}",
                )
            )
    return found


def _declared(kind: str, names: Iterable[str]) -> str:
    listed = ", ".join(sorted(names)) or "none"
    return f"declared {kind}: {listed}"


def _source(path: str, route: CompiledRoute, modules: Mapping[str, ModuleInfo | None]) -> list[Finding]:
    scope = route.scope
    if scope.kind == "other":
        return [Finding(path, "route-source", f"source {route.source!r} matches no message edgeHub produces")]
    module, output = route_source_target(route)
    if module is None:
        return []
    if module not in modules:
        return [
            Finding(
                path, "route-unknown-module", f"source names module {module!r}, which is not in the manifest"
            )
        ]
    info = modules[module]
    if info is None:
        return []  # not a module of this repository (e.g. one of Microsoft's): nothing declared to check
    if output is not None and output not in info.outputs:
        return [
            Finding(
                path,
                "route-unknown-output",
                f"source names output {output!r} of {module}, which module.json does not declare "
                f"({_declared('outputs', info.outputs)})",
            )
        ]
    if route_queries_body(route):
        outputs = [output] if output is not None else list(info.outputs)
        not_json = [name for name in outputs if not info.is_json_output(name)]
        if (output is not None and not_json) or (output is None and len(not_json) == len(outputs)):
            shown = ", ".join(f"{name} ({info.outputs.get(name, '?')})" for name in not_json)
            return [
                Finding(
                    path,
                    "route-body-not-json",
                    f"condition reads $body but {module}'s {shown} is not application/json: "
                    "edgeHub never matches such a message",
                )
            ]
    return []


def _sink(path: str, route: CompiledRoute, modules: Mapping[str, ModuleInfo | None]) -> list[Finding]:
    endpoint = route.endpoint
    if endpoint.kind != "module" or endpoint.module is None:
        return []
    if endpoint.module not in modules:
        return [
            Finding(
                path,
                "route-unknown-module",
                f"sink names module {endpoint.module!r}, which is not in the manifest",
            )
        ]
    info = modules[endpoint.module]
    if info is not None and endpoint.input not in info.inputs:
        return [
            Finding(
                path,
                "route-unknown-input",
                f"sink names input {endpoint.input!r} of {endpoint.module}, not declared in its module.json "
                f"({_declared('inputs', info.inputs)})",
            )
        ]
    return []


def route_findings(hub_desired: object, modules: Mapping[str, ModuleInfo | None]) -> list[Finding]:
    """Findings for every route of `$edgeHub` desired properties.

    `modules` maps each manifest module to its module.json, or None for modules that are not this
    repository's (their inputs and outputs are not checked).
    """
    if not isinstance(hub_desired, Mapping) or not isinstance(hub_desired.get("routes"), Mapping):
        return []  # the schema check reports it
    found: list[Finding] = []
    for name, value in hub_desired["routes"].items():
        path = f"{ROUTES_PATH}.{name}"
        text = value.get("route") if isinstance(value, Mapping) else value
        if isinstance(value, Mapping):
            found += _options(path, value)
            path_text = f"{path}.route"
        else:
            path_text = path
        if not isinstance(text, str):
            continue
        try:
            route = compile_route(RouteSpec(str(name), text))
        except RouteError as exc:
            found.append(_syntax(path_text, exc))
            continue
        found += _source(path_text, route, modules)
        found += _sink(path_text, route, modules)
    return found
