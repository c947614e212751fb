"""edgeHub's route language: route specs, the route grammar and condition language, and the router.

Pure (no I/O). The local hub and the manifest linter use exactly this interface.
"""

from __future__ import annotations

from .errors import RouteError
from .message import Delivery, Endpoint, RoutableMessage, message_source
from .route import DEFAULT_PRIORITY, CompiledRoute, RouteSpec, compile_route
from .router import Router
from .source import SourceScope, source_matches, source_prefix, source_scope
from .spec import SCHEMA_VERSIONS, parse_routes


def route_source_target(route: CompiledRoute) -> tuple[str | None, str | None]:
    """(module, output) a route's source names: (m, o) for `/messages/modules/m/outputs/o`, (m, None)
    for all of m's outputs, (None, None) when it is not specific to one module."""
    scope = route.scope
    if scope.kind != "module":
        return None, None
    return scope.module, scope.output


def route_queries_body(route: CompiledRoute) -> bool:
    """Whether a route's condition reads `$body` (so it only matches application/json + utf-8/16/32)."""
    return route.queries_body


__all__ = [
    "DEFAULT_PRIORITY",
    "SCHEMA_VERSIONS",
    "CompiledRoute",
    "Delivery",
    "Endpoint",
    "RoutableMessage",
    "RouteError",
    "RouteSpec",
    "Router",
    "SourceScope",
    "compile_route",
    "message_source",
    "parse_routes",
    "route_queries_body",
    "route_source_target",
    "source_matches",
    "source_prefix",
    "source_scope",
]
