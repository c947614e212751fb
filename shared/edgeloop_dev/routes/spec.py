"""Reading route specs from `$edgeHub` desired properties (EdgeHubConfigParser + RouteSpecConverter)."""

from __future__ import annotations

from typing import Final

from .errors import RouteError
from .route import DEFAULT_PRIORITY, RouteSpec

SCHEMA_VERSIONS: Final = ("1.0", "1.1", "1.2", "1.3")
_OBJECT_KEYS: Final = {"route", "priority", "timeToLiveSecs"}


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _spec(name: str, value: object, objects_allowed: bool, version: str) -> RouteSpec:
    if isinstance(value, str):
        return RouteSpec(name, value)
    if not isinstance(value, dict):
        raise RouteError(f"a route must be a string, got {type(value).__name__}", route_name=name)
    if not objects_allowed:
        raise RouteError(
            f"schemaVersion {version} allows only string routes; use 1.1 or later for"
            ' {"route", "priority", "timeToLiveSecs"}',
            route_name=name,
        )
    unknown = sorted(set(value) - _OBJECT_KEYS)
    if unknown:
        raise RouteError(
            f"unknown route properties {unknown} (allowed: route, priority, timeToLiveSecs)", route_name=name
        )
    text = value.get("route")
    if not isinstance(text, str):
        raise RouteError('a route object needs "route": "<route text>"', route_name=name)
    priority = DEFAULT_PRIORITY
    if value.get("priority") is not None:
        p = _int(value["priority"])
        if p is None or not 0 <= p <= 9:
            raise RouteError(
                f"priority must be an integer from 0 (highest) to 9, got {value['priority']!r}",
                route_name=name,
                route_text=text,
            )
        priority = p
    ttl = 0
    if value.get("timeToLiveSecs") is not None:
        t = _int(value["timeToLiveSecs"])
        if t is None or t < 0:
            raise RouteError(
                f"timeToLiveSecs must be an integer >= 0, got {value['timeToLiveSecs']!r}",
                route_name=name,
                route_text=text,
            )
        ttl = t
    return RouteSpec(name, text, priority, ttl)


def parse_routes(edgehub_desired: dict[str, object]) -> list[RouteSpec]:
    """The route specs of `$edgeHub` desired properties, in their order. RouteError names a bad route.

    `schemaVersion` is required: "1.0" allows string routes only; "1.1", "1.2" and "1.3" also allow
    `{"route": "...", "priority": 0-9, "timeToLiveSecs": N >= 0}`. Routes are compiled separately
    (compile_route / Router).
    """
    if not isinstance(edgehub_desired, dict):
        raise RouteError("$edgeHub desired properties must be an object")
    version = edgehub_desired.get("schemaVersion")
    if version is None:
        raise RouteError("$edgeHub desired properties need a schemaVersion (1.0, 1.1, 1.2 or 1.3)")
    if not isinstance(version, str) or version not in SCHEMA_VERSIONS:
        raise RouteError(f"unsupported $edgeHub schemaVersion {version!r} (supported: 1.0, 1.1, 1.2, 1.3)")
    routes = edgehub_desired.get("routes", {})
    if routes is None:
        return []
    if not isinstance(routes, dict):
        raise RouteError("$edgeHub routes must be an object of name: route")
    return [_spec(str(name), value, version != "1.0", version) for name, value in routes.items()]
