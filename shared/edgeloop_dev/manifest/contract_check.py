"""Contract checks: each route joins an output and an input of the same contract; outputs routed nowhere."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from edgeloop_dev.routes import CompiledRoute, RouteError, RouteSpec, compile_route, source_matches

from .catalog import ANY_CONTRACT, ModuleInfo
from .findings import Finding

ROUTES_PATH = "modulesContent.$edgeHub.properties.desired.routes"
MODULES_PATH = "modulesContent.$edgeAgent.properties.desired.modules"


@dataclass(frozen=True, slots=True)
class Link:
    """One output a route delivers to one module input, with the contracts each side declares."""

    route: str
    path: str
    module: str
    output: str
    output_contract: str | None
    target: str
    input: str
    input_contract: str | None
    condition: str
    named: bool  # the source names the sending module (not `/*`, `/messages/*` or `/messages/modules/*`)


def compiled_routes(hub_desired: object) -> list[tuple[str, CompiledRoute]]:
    """(finding path, route) for each route that compiles; route_check reports the ones that do not."""
    if not isinstance(hub_desired, Mapping) or not isinstance(hub_desired.get("routes"), Mapping):
        return []
    out: list[tuple[str, CompiledRoute]] = []
    for name, value in hub_desired["routes"].items():
        path = f"{ROUTES_PATH}.{name}"
        text = value.get("route") if isinstance(value, Mapping) else value
        if isinstance(value, Mapping):
            path += ".route"
        if not isinstance(text, str):
            continue
        try:
            out.append((path, compile_route(RouteSpec(str(name), text))))
        except RouteError:
            continue
    return out


def _outputs(modules: Mapping[str, ModuleInfo | None]) -> Iterator[tuple[str, str, ModuleInfo]]:
    for module, info in modules.items():
        if info is not None:
            for output in info.outputs:
                yield module, output, info


def _matches(route: CompiledRoute, module: str, output: str) -> bool:
    return source_matches(route.source, f"/messages/modules/{module}/outputs/{output}")


def links(routes: list[tuple[str, CompiledRoute]], modules: Mapping[str, ModuleInfo | None]) -> list[Link]:
    """Every (route, declared output, declared module input) a route connects, in route order."""
    found: list[Link] = []
    for path, route in routes:
        endpoint = route.endpoint
        if endpoint.kind != "module" or endpoint.module is None or endpoint.input is None:
            continue
        target = modules.get(endpoint.module)
        if target is None or endpoint.input not in target.inputs:
            continue  # route_check reports unknown modules and inputs
        for module, output, info in _outputs(modules):
            if _matches(route, module, output):
                found.append(
                    Link(
                        route.name,
                        path,
                        module,
                        output,
                        info.output_contracts.get(output),
                        endpoint.module,
                        endpoint.input,
                        target.input_contracts.get(endpoint.input),
                        route.condition,
                        route.scope.kind == "module",
                    )
                )
    return found


def contract_findings(
    routes: list[tuple[str, CompiledRoute]], modules: Mapping[str, ModuleInfo | None]
) -> list[Finding]:
    """An error for each route that delivers an output to an input of another contract (`*` matches any;
    a side that declares no contract is not checked, nor a source that names no module, like
    `/messages/* WHERE NOT IS_DEFINED($connectionModuleId)`: its condition may keep module messages out)."""
    found: list[Finding] = []
    for link in links(routes, modules):
        sent, taken = link.output_contract, link.input_contract
        if not link.named or sent is None or taken is None or ANY_CONTRACT in (sent, taken) or sent == taken:
            continue
        found.append(
            Finding(
                link.path,
                "route-contract",
                f"route {link.route} connects output {link.module}/{link.output} (contract {sent!r}) "
                f"to input {link.target}/{link.input} (contract {taken!r})",
            )
        )
    return found


def unrouted_findings(
    routes: list[tuple[str, CompiledRoute]], modules: Mapping[str, ModuleInfo | None]
) -> list[Finding]:
    """A warning per module listing its declared outputs that no route's source selects."""
    unrouted: dict[str, list[str]] = {}
    for module, output, _ in _outputs(modules):
        if not any(_matches(route, module, output) for _, route in routes):
            unrouted.setdefault(module, []).append(output)
    return [
        Finding(
            f"{MODULES_PATH}.{module}",
            "output-unrouted",
            f"{module} outputs routed nowhere (edgeHub drops what they send): {', '.join(outputs)}",
            "warning",
        )
        for module, outputs in unrouted.items()
    ]
