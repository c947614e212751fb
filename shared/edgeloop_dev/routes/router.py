"""The router: every matching route fires; one delivery per endpoint at the best priority."""

from __future__ import annotations

from collections.abc import Iterable

from .message import Delivery, Endpoint, RoutableMessage
from .route import CompiledRoute, RouteSpec, compile_route


class Router:
    """Compiled routes, evaluated for every message. The constructor raises the first RouteError.

    `default_ttl_secs` is `storeAndForwardConfiguration.timeToLiveSecs`: a route TTL of 0 uses it, and
    a negative default means messages never expire (ttl_secs None).
    """

    def __init__(self, specs: Iterable[RouteSpec], default_ttl_secs: int = 7200) -> None:
        self.routes: tuple[CompiledRoute, ...] = tuple(compile_route(s) for s in specs)
        self.default_ttl_secs = default_ttl_secs

    def ttl_of(self, route: CompiledRoute) -> int | None:
        """A route's effective time to live in seconds (None: infinite)."""
        if route.spec.ttl_secs > 0:
            return route.spec.ttl_secs
        return None if self.default_ttl_secs < 0 else self.default_ttl_secs

    def matching(self, msg: RoutableMessage) -> list[CompiledRoute]:
        """Every route that fires for `msg`, in configuration order."""
        return [r for r in self.routes if r.matches(msg)]

    def route(self, msg: RoutableMessage) -> list[Delivery]:
        """The deliveries for `msg`: grouped by endpoint, each at the best (lowest) priority of its
        routes and with that route's TTL; an empty list means no route matched."""
        best: dict[Endpoint, CompiledRoute] = {}
        for r in self.routes:
            if r.matches(msg):
                current = best.get(r.endpoint)
                if current is None or r.spec.priority < current.spec.priority:
                    best[r.endpoint] = r
        return [Delivery(e, r.spec.priority, self.ttl_of(r), r.spec.name) for e, r in best.items()]
